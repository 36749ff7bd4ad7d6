/**
 * A node whose agent stopped renewing its heartbeat (crash loop, evicted DaemonSet pod, partitioned from the
 * apiserver) still has slices that nobody keeps current. The controller cannot probe, but it can read the pod
 * objects: it withdraws the endpoints whose pods are gone, not running, or have another IP, and keeps the rest —
 * so an agent crash alone withdraws nothing that may still be healthy, and a deleted pod does not linger.
 *
 * RBAC: list pods (cluster-wide, by field selector); patch and delete endpointslices.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import { CONTROLLER_FIELD_MANAGER } from "../crds/conventions.ts";
import { Api, EndpointSlices, isApiError, Pods } from "../kube/mod.ts";
import type { Logger } from "../ops/log.ts";
import { ReconcileError } from "./reconcile.ts";
import type { ReconcileContext } from "./reconcile.ts";

/** Whether a slice endpoint still stands for a pod the API shows running with that address. */
export function endpointStillBacked(
  endpoint: NonNullable<IEndpointSlice["endpoints"]>[number],
  pods: ReadonlyMap<string, IPod>,
): boolean {
  const pod = pods.get(endpoint.targetRef?.uid ?? "");
  if (!pod || pod.status?.phase !== "Running") return false;
  const ips = new Set([pod.status.podIP, ...(pod.status.podIPs ?? []).map((p) => p.ip)]);
  return endpoint.addresses.every((a) => ips.has(a));
}

/**
 * Brings the slices of stale `node` in line with the pod objects. Returns how many endpoints were withdrawn.
 * Slices are rewritten as the controller's field manager (an agent that comes back takes them over again with
 * its own, forced, apply) or deleted when nothing is left.
 */
export async function sweepStaleNode(
  ctx: ReconcileContext,
  node: string,
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  const slices = ctx.slicesByNode.get(node);
  if (slices.length === 0) return 0;
  const pods = new Map<string, IPod>();
  for (
    const pod of (await Api.all(ctx.transport, Pods).list({ fieldSelector: `spec.nodeName=${node}`, signal }))
      .items
  ) pods.set(pod.metadata?.uid ?? "", pod);
  let withdrawn = 0;
  for (const slice of slices) {
    const endpoints = slice.endpoints ?? [];
    const keep = endpoints.filter((e) => endpointStillBacked(e, pods));
    if (keep.length === endpoints.length) continue;
    withdrawn += endpoints.length - keep.length;
    const namespace = slice.metadata?.namespace ?? "";
    const api = Api.namespaced(ctx.transport, EndpointSlices, namespace);
    try {
      if (keep.length === 0) {
        await api.delete(slice.metadata?.name ?? "", { preconditions: { uid: slice.metadata?.uid }, signal });
      } else {
        await api.apply({
          metadata: {
            name: slice.metadata?.name,
            namespace,
            uid: slice.metadata?.uid,
            labels: slice.metadata?.labels,
            ownerReferences: slice.metadata?.ownerReferences,
          },
          addressType: slice.addressType,
          ports: slice.ports,
          endpoints: keep,
        }, { fieldManager: CONTROLLER_FIELD_MANAGER, force: true, signal });
      }
    } catch (err) {
      // Gone, or replaced by its agent meanwhile (uid precondition: 409 on delete, 422 on apply).
      if (
        isApiError(err, 404) || isApiError(err, 409) ||
        (isApiError(err, 422) && /metadata\.uid/.test(err.message))
      ) {
        continue;
      }
      throw new ReconcileError(`withdraw endpoints from ${namespace}/${slice.metadata?.name}`, err);
    }
    log.info("withdrew endpoints of pods that are gone from a node whose agent does not report", {
      node,
      slice: `${namespace}/${slice.metadata?.name}`,
      withdrawn: endpoints.length - keep.length,
      kept: keep.length,
    });
  }
  return withdrawn;
}
