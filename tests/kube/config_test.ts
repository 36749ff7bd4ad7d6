/** Unit tests of kubeconfig and in-cluster loading, with real files in temporary directories. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { fileToken, KubeConfigError, loadConfig, loadInCluster, loadKubeconfig } from "../../kube/mod.ts";

const CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const RSA_KEY = "-----BEGIN RSA PRIVATE KEY-----\nS0VZ\n-----END RSA PRIVATE KEY-----\n";
const EC_KEY = "-----BEGIN EC PRIVATE KEY-----\nRUM=\n-----END EC PRIVATE KEY-----\n";
const b64 = (s: string) => btoa(s);

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "swh-kubeconfig-" });
}

function kubeconfig(parts: {
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: Record<string, unknown> }>;
  current?: string;
}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: parts.clusters ?? [],
    users: parts.users ?? [],
    contexts: parts.contexts ?? [],
    ...(parts.current ? { "current-context": parts.current } : {}),
  });
}

const noEnv = () => undefined;

Deno.test("kubeconfig: inline -data fields, RSA key, context namespace", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/config`;
    await Deno.writeTextFile(
      path,
      kubeconfig({
        clusters: [{
          name: "c",
          cluster: { server: "https://127.0.0.1:6443/", "certificate-authority-data": b64(CA) },
        }],
        users: [{
          name: "u",
          user: { "client-certificate-data": b64(CERT), "client-key-data": b64(RSA_KEY) },
        }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: "team" } }],
        current: "ctx",
      }),
    );
    const conn = await loadKubeconfig({ paths: [path], env: noEnv });
    assertEquals(conn.server, "https://127.0.0.1:6443");
    assertEquals(conn.caCerts, [CA]);
    assertEquals(conn.clientCert, { cert: CERT, key: RSA_KEY });
    assertEquals(conn.namespace, "team");
    assertEquals(conn.token, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfig: file references are relative to the kubeconfig, EC key, YAML format", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/pki`);
    await Deno.writeTextFile(`${dir}/pki/ca.crt`, CA);
    await Deno.writeTextFile(`${dir}/pki/client.crt`, CERT);
    await Deno.writeTextFile(`${dir}/pki/client.key`, EC_KEY);
    await Deno.writeTextFile(
      `${dir}/config`,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c",
        "  cluster:",
        "    server: https://10.0.0.1:443",
        "    certificate-authority: pki/ca.crt",
        "users:",
        "- name: u",
        "  user:",
        "    client-certificate: pki/client.crt",
        `    client-key: ${dir}/pki/client.key`,
        "contexts:",
        "- name: ctx",
        "  context: {cluster: c, user: u}",
        "current-context: ctx",
      ].join("\n"),
    );
    const conn = await loadKubeconfig({ paths: [`${dir}/config`], env: noEnv });
    assertEquals(conn.caCerts, [CA]);
    assertEquals(conn.clientCert, { cert: CERT, key: EC_KEY });
    assertEquals(conn.namespace, "default");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfig: KUBECONFIG merges files, first occurrence wins, explicit context, missing files skipped", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a`,
      kubeconfig({
        clusters: [{
          name: "c",
          cluster: { server: "https://first:1", "certificate-authority-data": b64(CA) },
        }],
        users: [{ name: "u", user: { token: "first-token" } }],
        contexts: [{ name: "one", context: { cluster: "c", user: "u" } }],
        current: "one",
      }),
    );
    await Deno.writeTextFile(
      `${dir}/b`,
      kubeconfig({
        clusters: [
          { name: "c", cluster: { server: "https://second:2" } },
          { name: "d", cluster: { server: "https://dee:3" } },
        ],
        users: [{ name: "u", user: { token: "second-token" } }, { name: "v", user: { token: "vee" } }],
        contexts: [{ name: "two", context: { cluster: "d", user: "v", namespace: "ns2" } }],
        current: "two",
      }),
    );
    const env = (name: string) => name === "KUBECONFIG" ? `${dir}/missing:${dir}/a:${dir}/b` : undefined;
    const first = await loadKubeconfig({ env });
    assertEquals(first.server, "https://first:1");
    assertEquals(await first.token?.token(), "first-token");
    assertEquals(first.source, `kubeconfig ${dir}/a:${dir}/b context one`);

    const two = await loadKubeconfig({ env, context: "two" });
    assertEquals(two.server, "https://dee:3");
    assertEquals(await two.token?.token(), "vee");
    assertEquals(two.namespace, "ns2");

    // loadConfig prefers KUBECONFIG over in-cluster variables.
    const viaLoad = await loadConfig({
      env: (n) => n === "KUBERNETES_SERVICE_HOST" ? "10.0.0.1" : env(n),
    });
    assertEquals(viaLoad.server, "https://first:1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfig: tokenFile is re-read when it rotates", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, "one\n");
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({
        clusters: [{ name: "c", cluster: { server: "https://h:1" } }],
        users: [{ name: "u", user: { tokenFile: "token" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        current: "x",
      }),
    );
    const conn = await loadKubeconfig({ paths: [`${dir}/config`], env: noEnv });
    assertEquals(await conn.token?.token(), "one");
    await Deno.writeTextFile(`${dir}/token`, "two\n");
    // Cached until invalidated (the transport invalidates on 401) or the refresh interval passes.
    assertEquals(await conn.token?.token(), "one");
    conn.token?.invalidate();
    assertEquals(await conn.token?.token(), "two");

    let now = 0;
    const timed = fileToken(`${dir}/token`, { refreshMs: 1000, now: () => now });
    assertEquals(await timed.token(), "two");
    await Deno.writeTextFile(`${dir}/token`, "three");
    now = 999;
    assertEquals(await timed.token(), "two");
    now = 1000;
    assertEquals(await timed.token(), "three");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function expectConfigError(
  config: string,
  expected: { field?: string; message: RegExp },
  files: Record<string, string> = {},
): Promise<void> {
  const dir = await tempDir();
  try {
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
    await Deno.writeTextFile(`${dir}/config`, config);
    const err = await assertRejects(
      () => loadKubeconfig({ paths: [`${dir}/config`], env: noEnv }),
      KubeConfigError,
    );
    assertEquals(err.file?.endsWith("config"), true, `file named: ${err.message}`);
    if (expected.field) assertEquals(err.field, expected.field);
    assert(
      expected.message.test(err.message),
      `message ${JSON.stringify(err.message)} matches ${expected.message}`,
    );
    assert(err.message.includes(`${dir}/config`), "message names the file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("kubeconfig: broken configs name the file and the field", async (t) => {
  const good = {
    clusters: [{ name: "c", cluster: { server: "https://h:1" } }],
    users: [{ name: "u", user: { token: "t" } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    current: "x",
  };
  await t.step("invalid YAML", () => expectConfigError("clusters: [", { message: /not valid YAML/ }));
  await t.step("no current-context", () =>
    expectConfigError(kubeconfig({ ...good, current: undefined }), {
      field: "current-context",
      message: /no current-context/,
    }));
  await t.step("unknown current-context", () =>
    expectConfigError(kubeconfig({ ...good, current: "nope" }), {
      field: "current-context",
      message: /context "nope" is not defined/,
    }));
  await t.step(
    "context names a missing cluster",
    () =>
      expectConfigError(
        kubeconfig({ ...good, contexts: [{ name: "x", context: { cluster: "zz", user: "u" } }] }),
        {
          field: "contexts[x].context.cluster",
          message: /cluster "zz" is not defined/,
        },
      ),
  );
  await t.step(
    "server is not a URL",
    () =>
      expectConfigError(kubeconfig({ ...good, clusters: [{ name: "c", cluster: { server: "h:1" } }] }), {
        field: "clusters[c].cluster.server",
        message: /http\(s\) URL/,
      }),
  );
  await t.step("CA file missing", () =>
    expectConfigError(
      kubeconfig({
        ...good,
        clusters: [{ name: "c", cluster: { server: "https://h:1", "certificate-authority": "nope.crt" } }],
      }),
      { field: "clusters[c].cluster.certificate-authority", message: /nope\.crt: file not found/ },
    ));
  await t.step("CA data not base64", () =>
    expectConfigError(
      kubeconfig({
        ...good,
        clusters: [{ name: "c", cluster: { server: "https://h:1", "certificate-authority-data": "%%%" } }],
      }),
      { field: "clusters[c].cluster.certificate-authority-data", message: /base64/ },
    ));
  await t.step("certificate without key", () =>
    expectConfigError(
      kubeconfig({ ...good, users: [{ name: "u", user: { "client-certificate-data": b64(CERT) } }] }),
      { field: "users[u].user.client-key", message: /without client-key/ },
    ));
  await t.step("key is not a key", () =>
    expectConfigError(
      kubeconfig({
        ...good,
        users: [{ name: "u", user: { "client-certificate-data": b64(CERT), "client-key-data": b64(CERT) } }],
      }),
      { field: "users[u].user.client-key", message: /not a PEM private key/ },
    ));
  await t.step("exec plugin unsupported", () =>
    expectConfigError(
      kubeconfig({ ...good, users: [{ name: "u", user: { exec: { command: "aws" } } }] }),
      { field: "users[u].user.exec", message: /not supported/ },
    ));
  await t.step("insecure-skip-tls-verify unsupported", () =>
    expectConfigError(
      kubeconfig({
        ...good,
        clusters: [{ name: "c", cluster: { server: "https://h:1", "insecure-skip-tls-verify": true } }],
      }),
      { field: "clusters[c].cluster.insecure-skip-tls-verify", message: /not supported/ },
    ));
  await t.step("tokenFile missing", () =>
    expectConfigError(
      kubeconfig({ ...good, users: [{ name: "u", user: { tokenFile: "gone" } }] }),
      { field: "users[u].user.tokenFile", message: /gone: file not found/ },
    ));
  await t.step("no file at all", async () => {
    const err = await assertRejects(
      () => loadKubeconfig({ paths: ["/nonexistent/a", "/nonexistent/b"], env: noEnv }),
      KubeConfigError,
    );
    assert(/\/nonexistent\/a, \/nonexistent\/b/.test(err.message), err.message);
  });
});

Deno.test("in-cluster: host/port from env, CA, namespace and rotating token from the directory", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    await Deno.writeTextFile(`${dir}/token`, "sa-token-1");
    await Deno.writeTextFile(`${dir}/namespace`, "operators");
    const env = (n: string) => ({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" })[n];
    const conn = await loadInCluster({ dir, env, tokenRefreshMs: 0 });
    assertEquals(conn.server, "https://[fd00::1]:443");
    assertEquals(conn.caCerts, [CA]);
    assertEquals(conn.namespace, "operators");
    assertEquals(await conn.token?.token(), "sa-token-1");
    await Deno.writeTextFile(`${dir}/token`, "sa-token-2");
    assertEquals(await conn.token?.token(), "sa-token-2");

    const auto = await loadConfig({ env, inCluster: { dir } });
    assertEquals(auto.source, `in-cluster ${dir}`);

    const missingVar = await assertRejects(() => loadInCluster({ dir, env: noEnv }), KubeConfigError);
    assertEquals(missingVar.field, "KUBERNETES_SERVICE_HOST");
    await Deno.remove(`${dir}/token`);
    const missingToken = await assertRejects(() => loadInCluster({ dir, env }), KubeConfigError);
    assertEquals(missingToken.file, `${dir}/token`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
