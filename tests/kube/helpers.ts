/** Shared setup of the kube cluster tests: an admin transport and a throwaway namespace per test. */
import { requireTestKubeconfig } from "../support/env.ts";
import { Api, HttpTransport, loadKubeconfig, Namespaces } from "../../kube/mod.ts";
import type { ClusterConnection } from "../../kube/mod.ts";
import { createTestNamespace } from "../support/namespace.ts";

/** The admin (client-certificate, system:masters) connection of the test cluster. */
export async function adminConnection(): Promise<ClusterConnection> {
  return await loadKubeconfig({ paths: [requireTestKubeconfig()] });
}

/** Runs `fn` with an admin transport and a fresh namespace; closes and deletes both afterwards. */
export async function withNamespace(
  prefix: string,
  fn: (ctx: { transport: HttpTransport; ns: string }) => Promise<void>,
): Promise<void> {
  const transport = new HttpTransport(await adminConnection());
  const ns = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const namespaces = Api.cluster(transport, Namespaces);
  await createTestNamespace(transport, ns);
  try {
    await fn({ transport, ns });
  } finally {
    await namespaces.delete(ns, { propagationPolicy: "Background" }).catch(() => {});
    transport.close();
  }
}
