/**
 * A tiny test CRD, `Gadget` (kubewatch.test.swh.io/v1), with a status subresource and free-form spec and
 * status: for kube client tests and benchmarks that need generation-tracked objects with heavy status,
 * without the ServiceWithHealthchecks schema.
 *
 * @module
 */
import { waitFor } from "./wait.ts";
import { Api, resourceType, stripManagedFields } from "../../kube/mod.ts";
import type { KubeObject, KubeTransport } from "../../kube/mod.ts";

/** A Gadget: anything in spec and status. */
export interface Gadget extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
/** The Gadget resource (namespaced). */
export const Gadgets = resourceType<Gadget>({
  group: "kubewatch.test.swh.io",
  version: "v1",
  plural: "gadgets",
  kind: "Gadget",
  namespaced: true,
});
interface Crd extends KubeObject {
  spec: unknown;
  status?: { conditions?: Array<{ type: string; status: string }> };
}
const Crds = resourceType<Crd>({
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
});

/** Installs the Gadget CRD (status subresource, free-form spec and status) and waits until it is served. */
export async function installGadgets(transport: KubeTransport, ns: string): Promise<void> {
  const crds = Api.cluster(transport, Crds);
  const name = `${Gadgets.plural}.${Gadgets.group}`;
  const free = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  await crds.apply({
    metadata: { name },
    spec: {
      group: Gadgets.group,
      scope: "Namespaced",
      names: { plural: "gadgets", singular: "gadget", kind: "Gadget", listKind: "GadgetList" },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", properties: { spec: free, status: free } } },
      }],
    },
  }, { fieldManager: "kubewatch-test", force: true });
  await waitFor(
    async () =>
      (await crds.get(name)).status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
    { what: `CRD ${name} to be established`, timeoutMs: 20_000 },
  );
  // Discovery of a fresh CRD can lag its Established condition by a moment.
  await waitFor(async () => (await Api.namespaced(transport, Gadgets, ns).list()).items, {
    what: "gadgets to be served",
    timeoutMs: 20_000,
  });
}

/** What agents would cache: no status, no managedFields. Idempotent, as the informer requires. */
export function specOnly(obj: Gadget): Gadget {
  const { status: _, ...rest } = stripManagedFields(obj);
  return rest;
}

/** A status of about `kib` KiB, like per-endpoint entries written by many agents. */
export function bigStatus(kib: number, n: number): Record<string, unknown> {
  return {
    n,
    endpoints: Array.from(
      { length: kib * 32 }, // about 32 bytes each
      (_, i) => ({ pod: `pod-${i}-${n}`, ready: (i + n) % 2 === 0 }),
    ),
  };
}
