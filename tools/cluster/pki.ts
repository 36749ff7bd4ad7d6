/** Certificates for the local control plane, made with openssl (X.509 v3: rustls rejects v1). */
import { run } from "./exec.ts";

/** File paths of the generated PKI. */
export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Addresses and names the apiserver serving certificate must cover. */
export interface PkiOptions {
  dir: string;
  ipSans: string[];
  dnsSans: string[];
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

/** Creates a self-signed CA `<name>.crt`/`<name>.key` in `dir` with common name `cn`. */
export async function createCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    "-new",
    "-nodes",
    "-newkey",
    "rsa:2048",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "3650",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ], dir);
}

/**
 * Creates key `<name>.key` and certificate `<name>.crt` in `dir` for `subject`, signed by the CA `ca.crt` /
 * `ca.key` in the same folder, with the given openssl extension lines (v3 certificates: rustls rejects v1).
 */
export async function signedCert(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<void> {
  await openssl(["genrsa", "-out", `${name}.key`, "2048"], dir);
  await openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
  await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "825",
    "-sha256",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ], dir);
}

/** Generates a CA, the apiserver serving cert, an admin client cert (system:masters) and the SA key pair. */
export async function generatePki(options: PkiOptions): Promise<Pki> {
  const { dir } = options;
  await Deno.mkdir(dir, { recursive: true });
  await createCa(dir, "ca", "swh-local-ca");
  const sans = [...options.dnsSans.map((d) => `DNS:${d}`), ...options.ipSans.map((ip) => `IP:${ip}`)];
  await signedCert(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
      `extendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(",")}\n`,
  );
  await signedCert(
    dir,
    "admin",
    "/O=system:masters/CN=swh-admin",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  await openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  return {
    caCert: `${dir}/ca.crt`,
    caKey: `${dir}/ca.key`,
    servingCert: `${dir}/apiserver.crt`,
    servingKey: `${dir}/apiserver.key`,
    adminCert: `${dir}/admin.crt`,
    adminKey: `${dir}/admin.key`,
    serviceAccountKey: `${dir}/sa.key`,
    serviceAccountPub: `${dir}/sa.pub`,
  };
}
