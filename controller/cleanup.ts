/**
 * What agents leave behind that they cannot remove themselves: the slices and node reports of nodes that no
 * longer exist, of deleted SWHs, and of a deleted SWH's namesake; and the per-pod status entries that agents
 * wrote into the SWH status before the node reports existed (v0.1), which the controller now owns alone.
 *
 * RBAC: delete endpointslices (any namespace) and node reports (operator namespace); patch
 * servicewithhealthchecks/status.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { agentFieldManager, sliceNode } from "../crds/conventions.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import { ReportResource } from "../crds/resource.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import { Api, EndpointSlices, isApiError } from "../kube/mod.ts";
import type { KubeObject, ResourceType } from "../kube/mod.ts";
import type { Logger } from "../ops/log.ts";
import { ReconcileError, subject } from "./reconcile.ts";
import type { ReconcileContext } from "./reconcile.ts";

/** The agent field-manager prefix, from the shared convention (`agentFieldManager("")`). */
const AGENT_MANAGER_PREFIX = agentFieldManager("");

/** Deletes one object if it still is the one we saw (uid precondition); gone or replaced is fine. */
async function deleteExact<T extends KubeObject>(
  ctx: ReconcileContext,
  type: ResourceType<T>,
  obj: KubeObject,
  signal: AbortSignal,
): Promise<void> {
  const namespace = obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? "";
  try {
    await Api.namespaced(ctx.transport, type, namespace).delete(name, {
      preconditions: { uid: obj.metadata?.uid },
      signal,
    });
  } catch (err) {
    if (isApiError(err, 404) || isApiError(err, 409)) return;
    throw new ReconcileError(`delete ${type.kind} ${namespace}/${name}`, err);
  }
}

/** The node named by a slice's or report's node label / field, if that node is gone. */
function vanishedNode(ctx: ReconcileContext, node: string | undefined): string | undefined {
  return node && !ctx.nodes.get(undefined, node) ? node : undefined;
}

/**
 * Deletes the agents' slices and reports of SWH `namespace/name` that belong to a node that no longer exists or
 * to another incarnation of the SWH (`swh` undefined: it is gone, so all of them).
 */
export async function deleteLeftovers(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  swh: ServiceWithHealthchecks | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const key = `${namespace}/${name}`;
  const uid = swh?.metadata.uid;
  for (const slice of ctx.slicesBySwh.get(key)) {
    const node = vanishedNode(ctx, sliceNode(slice));
    const stale = !swh || !(slice.metadata?.ownerReferences ?? []).some((o) => o.uid === uid);
    if (!node && !stale) continue;
    await deleteExact(ctx, EndpointSlices, slice as IEndpointSlice, signal);
    log.info(node ? "deleted EndpointSlice of a vanished node" : "deleted EndpointSlice of a deleted SWH", {
      slice: slice.metadata?.name,
      node,
    });
    if (swh && node) {
      ctx.events.record(
        subject(swh),
        "Normal",
        "StaleEndpointSliceDeleted",
        `deleted EndpointSlice ${slice.metadata?.name}: node ${node} no longer exists`,
      );
    }
  }
  for (const report of ctx.reportsBySwh.get(key)) {
    const node = vanishedNode(ctx, report.node);
    if (!node && swh && report.swh.uid === uid) continue;
    await deleteExact(ctx, ReportResource, report as SwhNodeReport & KubeObject, signal);
    log.info("deleted a node report", {
      report: report.metadata?.name,
      node,
      reason: node ? "node gone" : "SWH gone",
    });
  }
}

/**
 * Per-pod entries that agents applied into `status.endpoints` themselves (before node reports existed) are
 * removed by applying an empty status as each agent's field manager: server-side apply then drops exactly the
 * entries that manager owned. Returns the SWH as stored afterwards.
 */
export async function removeAgentStatusEntries(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  log: Logger,
  signal: AbortSignal,
): Promise<ServiceWithHealthchecks> {
  const { namespace, name } = swh.metadata;
  const managers = new Set<string>();
  for (const entry of swh.metadata.managedFields as { manager?: string; subresource?: string }[] ?? []) {
    if (entry.subresource === "status" && entry.manager?.startsWith(AGENT_MANAGER_PREFIX)) {
      managers.add(entry.manager);
    }
  }
  let current = swh;
  for (const manager of managers) {
    try {
      current = await ctx.swhApi.applyStatus(
        {
          apiVersion: SWH_API_VERSION,
          kind: SWH_KIND,
          metadata: { name, namespace },
        } as ServiceWithHealthchecks,
        { fieldManager: manager, force: true, signal },
      );
    } catch (err) {
      if (isApiError(err, 404)) return current;
      throw new ReconcileError(`remove the status entries of ${manager} from ${namespace}/${name}`, err);
    }
    log.info("removed per-pod status entries an agent wrote before node reports", { manager });
  }
  return current;
}
