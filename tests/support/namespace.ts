/**
 * Throwaway namespaces for cluster tests.
 *
 * @module
 */
import { Api, Namespaces, ServiceAccounts } from "../../kube/mod.ts";
import type { HttpTransport } from "../../kube/mod.ts";
import { waitFor } from "./wait.ts";

/**
 * Creates namespace `name` and waits for its `default` ServiceAccount: until kube-controller-manager has made
 * it, the ServiceAccount admission plugin refuses every pod in the namespace (403 "serviceaccount default not
 * found"), a race a test creating a pod right away loses now and then.
 */
export async function createTestNamespace(transport: HttpTransport, name: string): Promise<void> {
  await Api.cluster(transport, Namespaces).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  const accounts = Api.namespaced(transport, ServiceAccounts, name);
  await waitFor(() => accounts.getOpt("default"), {
    timeoutMs: 30_000,
    what: `the default ServiceAccount of namespace ${name}`,
  });
}
