/**
 * Authentication for real: client certificates (RSA and EC keys, signed by the test cluster's CA), bearer
 * tokens from a TokenRequest (inline, tokenFile, rotated), and in-cluster config from a service-account dir.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { withNamespace } from "./helpers.ts";
import { requireTestClusterDir, requireTestKubeconfig } from "../support/env.ts";
import {
  Api,
  ConfigMaps,
  HttpTransport,
  KubeApiError,
  loadConfig,
  loadKubeconfig,
  Nodes,
  resourceType,
  ServiceAccounts,
} from "../../kube/mod.ts";
import type { KubeObject, KubeTransport } from "../../kube/mod.ts";

interface SelfSubjectReview extends KubeObject {
  status?: { userInfo?: { username?: string; groups?: string[] } };
}
const SelfSubjectReviews = resourceType<SelfSubjectReview>({
  group: "authentication.k8s.io",
  version: "v1",
  plural: "selfsubjectreviews",
  kind: "SelfSubjectReview",
  namespaced: false,
});
interface RoleBinding extends KubeObject {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}
const RoleBindings = resourceType<RoleBinding>({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural: "rolebindings",
  kind: "RoleBinding",
  namespaced: true,
});

async function whoAmI(transport: KubeTransport): Promise<string | undefined> {
  const review = await Api.cluster(transport, SelfSubjectReviews).create({});
  return review.status?.userInfo?.username;
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Issues a v3 client certificate for `cn` from the cluster CA; `keyType` selects RSA (PKCS#1) or EC (SEC1). */
async function issueClientCert(
  dir: string,
  cn: string,
  keyType: "rsa" | "ec",
): Promise<{ cert: string; key: string }> {
  const pki = `${requireTestClusterDir()}/pki`;
  const key = `${dir}/${cn}.key`;
  if (keyType === "rsa") await openssl(["genrsa", "-traditional", "-out", key, "2048"]);
  else await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  await openssl(["req", "-new", "-key", key, "-subj", `/CN=${cn}/O=swh-test`, "-out", `${dir}/${cn}.csr`]);
  await Deno.writeTextFile(`${dir}/${cn}.ext`, "extendedKeyUsage=clientAuth\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/${cn}.csr`,
    "-CA",
    `${pki}/ca.crt`,
    "-CAkey",
    `${pki}/ca.key`,
    "-CAcreateserial",
    "-CAserial",
    `${dir}/ca.srl`,
    "-days",
    "1",
    "-extfile",
    `${dir}/${cn}.ext`,
    "-out",
    `${dir}/${cn}.crt`,
  ]);
  return { cert: await Deno.readTextFile(`${dir}/${cn}.crt`), key: await Deno.readTextFile(key) };
}

Deno.test("auth: client certificates with RSA (PKCS#1) and EC (SEC1) keys, from -data and from files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swh-auth-" });
  try {
    const admin = await loadKubeconfig({ paths: [requireTestKubeconfig()] });
    const server = admin.server;
    const ca = admin.caCerts[0];
    const rsa = await issueClientCert(dir, "rsa-user", "rsa");
    assert(rsa.key.startsWith("-----BEGIN RSA PRIVATE KEY-----"), "PKCS#1 RSA key");
    const ec = await issueClientCert(dir, "ec-user", "ec");
    assert(ec.key.startsWith("-----BEGIN EC PRIVATE KEY-----"), "SEC1 EC key");
    await Deno.writeTextFile(
      `${dir}/config`,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server, "certificate-authority-data": btoa(ca) } }],
        users: [
          {
            name: "rsa",
            user: { "client-certificate-data": btoa(rsa.cert), "client-key-data": btoa(rsa.key) },
          },
          { name: "ec", user: { "client-certificate": "ec-user.crt", "client-key": "ec-user.key" } },
        ],
        contexts: [
          { name: "rsa", context: { cluster: "c", user: "rsa" } },
          { name: "ec", context: { cluster: "c", user: "ec" } },
        ],
        "current-context": "rsa",
      }),
    );
    for (const [context, user] of [["rsa", "rsa-user"], ["ec", "ec-user"]]) {
      const t = new HttpTransport(await loadKubeconfig({ paths: [`${dir}/config`], context }));
      try {
        assertEquals(await whoAmI(t), user);
        // Authenticated but not authorised: a typed Forbidden.
        const forbidden = await assertRejects(() => Api.cluster(t, Nodes).list(), KubeApiError);
        assertEquals([forbidden.code, forbidden.reason], [403, "Forbidden"]);
      } finally {
        t.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth: service-account tokens (TokenRequest) via token, tokenFile rotation and in-cluster config", async () => {
  await withNamespace("kauth", async ({ transport, ns }) => {
    const dir = await Deno.makeTempDir({ prefix: "swh-sa-" });
    try {
      await Api.namespaced(transport, ServiceAccounts, ns).create({ metadata: { name: "agent" } });
      await Api.namespaced(transport, RoleBindings, ns).create({
        metadata: { name: "agent-edit" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
        subjects: [{ kind: "ServiceAccount", name: "agent", namespace: ns }],
      });
      const requestToken = async () => {
        const res = (await transport.request({
          method: "POST",
          path: `${Api.namespaced(transport, ServiceAccounts, ns).path("agent", "token")}`,
          body: {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 3600 },
          },
          signal: AbortSignal.timeout(10_000),
        })) as { status: { token: string } };
        return res.status.token;
      };
      const token1 = await requestToken();
      const admin = await loadKubeconfig({ paths: [requireTestKubeconfig()] });
      const ca = admin.caCerts[0];
      await Deno.writeTextFile(`${dir}/ca.crt`, ca);
      const expectedUser = `system:serviceaccount:${ns}:agent`;

      // Inline token in a kubeconfig.
      await Deno.writeTextFile(
        `${dir}/config`,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server: admin.server, "certificate-authority": "ca.crt" } }],
          users: [{ name: "inline", user: { token: token1 } }, {
            name: "file",
            user: { tokenFile: "token" },
          }],
          contexts: [
            { name: "inline", context: { cluster: "c", user: "inline", namespace: ns } },
            { name: "file", context: { cluster: "c", user: "file", namespace: ns } },
          ],
          "current-context": "inline",
        }),
      );
      const inline = new HttpTransport(await loadKubeconfig({ paths: [`${dir}/config`] }));
      try {
        assertEquals(await whoAmI(inline), expectedUser);
        // RBAC from the RoleBinding: may write ConfigMaps in its namespace, not read Nodes.
        const cms = Api.namespaced(inline, ConfigMaps, inline.namespace);
        await cms.create({ metadata: { name: "by-sa" }, data: { a: "1" } });
        assertEquals((await cms.get("by-sa")).data, { a: "1" });
        const forbidden = await assertRejects(() => Api.cluster(inline, Nodes).list(), KubeApiError);
        assertEquals(forbidden.code, 403);
      } finally {
        inline.close();
      }

      // tokenFile: starts invalid; after the file rotates, the 401 makes the transport re-read it.
      await Deno.writeTextFile(`${dir}/token`, "not-a-valid-token");
      const viaFile = new HttpTransport(await loadKubeconfig({ paths: [`${dir}/config`], context: "file" }));
      try {
        const unauthorized = await assertRejects(() => whoAmI(viaFile), KubeApiError);
        assertEquals(unauthorized.code, 401);
        await Deno.writeTextFile(`${dir}/token`, await requestToken());
        assertEquals(await whoAmI(viaFile), expectedUser);
      } finally {
        viaFile.close();
      }

      // In-cluster: the real environment variables and a service-account directory.
      await Deno.writeTextFile(`${dir}/token`, token1);
      await Deno.writeTextFile(`${dir}/namespace`, ns);
      const url = new URL(admin.server);
      const saved = ["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"].map((k) =>
        [k, Deno.env.get(k)] as const
      );
      Deno.env.delete("KUBECONFIG");
      Deno.env.set("KUBERNETES_SERVICE_HOST", "127.0.0.1");
      Deno.env.set("KUBERNETES_SERVICE_PORT", url.port);
      let inCluster: HttpTransport;
      try {
        inCluster = new HttpTransport(await loadConfig({ inCluster: { dir } }));
      } finally {
        for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
      }
      try {
        assertEquals(inCluster.namespace, ns);
        assertEquals(await whoAmI(inCluster), expectedUser);
        const cm = await Api.namespaced(inCluster, ConfigMaps, inCluster.namespace).get("by-sa");
        assertEquals(cm.metadata?.namespace, ns);
      } finally {
        inCluster.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
