/**
 * Adopting a running Service (migration) and giving it back (roll-back). An adopted Service becomes the SWH's
 * (ownerReference), so without care, deleting the SWH to roll a migration back would delete the Service the
 * users had before. Instead: when the controller adopts a Service it puts a finalizer on the SWH, and when it
 * removes the Service's selector it keeps a copy in an annotation; when the SWH is deleted, the Service is
 * released — ownerReference removed, selector restored, so the built-in controllers take its endpoints over
 * again with the same ClusterIP — and only then does the finalizer go.
 *
 * RBAC: patch servicewithhealthchecks (the finalizer), patch services, list endpointslices.
 *
 * @module
 */
import type { IService } from "kubernetes-models/v1/Service";
import {
  BUILT_IN_MANAGED_BY_VALUE,
  CONTROLLER_FIELD_MANAGER,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  SERVICE_NOTE_ANNOTATIONS,
} from "../crds/conventions.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import { Api, EndpointSlices, isApiError, Services } from "../kube/mod.ts";
import type { JsonPatchOp } from "../kube/mod.ts";
import type { Action } from "../kube/workqueue.ts";
import type { Logger } from "../ops/log.ts";
import type { ReconcileContext } from "./reconcile.ts";

/** Finalizer on an SWH that adopted a Service: the Service is released, not deleted, with the SWH. */
export const RELEASE_FINALIZER = "network.deckhouse.io/release-adopted-service";

/** Annotation on an adopted Service: its selector (JSON) from before the hand-over, restored on release. */
export const ADOPTED_SELECTOR_ANNOTATION = "network.deckhouse.io/adopted-selector";

/** Whether the SWH carries the release finalizer. */
export function holdsRelease(swh: ServiceWithHealthchecks): boolean {
  return (swh.metadata.finalizers as string[] | undefined ?? []).includes(RELEASE_FINALIZER);
}

/** Puts the release finalizer on the SWH (server-side apply: finalizers are a set, others' entries stay). */
export async function holdRelease(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  signal: AbortSignal,
): Promise<void> {
  if (holdsRelease(swh)) return;
  await ctx.swhApi.apply({
    apiVersion: SWH_API_VERSION,
    kind: SWH_KIND,
    metadata: { name: swh.metadata.name, namespace: swh.metadata.namespace, finalizers: [RELEASE_FINALIZER] },
  } as unknown as ServiceWithHealthchecks, { fieldManager: CONTROLLER_FIELD_MANAGER, signal });
}

/** The merge patch that hands an adopted Service over: selector removed, and remembered for a roll-back. */
export function handOverPatch(service: IService): Record<string, unknown> {
  return {
    metadata: {
      annotations: { [ADOPTED_SELECTOR_ANNOTATION]: JSON.stringify(service.spec?.selector ?? {}) },
    },
    spec: { selector: null },
  };
}

/**
 * Longest wait, from the SWH's deletion, for the built-in EndpointSlice controller to publish the restored
 * selector's endpoints before the Service is given back anyway (a cluster without that controller must still
 * be able to delete the SWH).
 */
export const HAND_BACK_WAIT_MS = 30_000;
/** How often a roll-back looks again for the built-in endpoints while it waits. */
const HAND_BACK_POLL_MS = 500;

/** Label selector of the EndpointSlices the built-in controller keeps for Service `name`'s selector. */
export function builtInSlicesSelector(name: string): string {
  return `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${BUILT_IN_MANAGED_BY_VALUE}`;
}

/**
 * The SWH is being deleted: gives an adopted Service back (without our ownerReference, with its selector
 * restored) and removes the finalizer. A Service the SWH created itself is left to garbage collection.
 *
 * In two steps, so that the ClusterIP is never without endpoints: first the selector comes back while the
 * Service stays ours (the agents keep their slices: they serve while the Service is the SWH's); once the
 * built-in EndpointSlice controller has published the selector's slice — or {@link HAND_BACK_WAIT_MS} after
 * the deletion — the Service stops being ours, the agents withdraw, and the finalizer goes. Returns when to
 * look again while waiting.
 */
export async function releaseService(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  service: IService | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<Action> {
  const { namespace = "", name = "" } = swh.metadata;
  const refs = service?.metadata?.ownerReferences ?? [];
  const saved = service?.metadata?.annotations?.[ADOPTED_SELECTOR_ANNOTATION];
  // Ours to give back: owned by this SWH — or by no SWH any more but still carrying our saved selector, as after
  // a deletion with propagationPolicy Orphan, where garbage collection removes the ownerReference first.
  const ours = refs.some((r) => r.uid === swh.metadata.uid) ||
    (saved !== undefined && !refs.some((r) => r.kind === SWH_KIND));
  if (service && ours) {
    const selector = saved ? JSON.parse(saved) as Record<string, string> : undefined;
    const services = Api.namespaced(ctx.transport, Services, namespace);
    // Only the Service we saw: if it changed meanwhile, fail and retry with the new state.
    const unchanged = {
      op: "test" as const,
      path: "/metadata/resourceVersion",
      value: service.metadata?.resourceVersion,
    };
    const restore = selector && Object.keys(selector).length > 0 ? selector : undefined;
    const restored = restore !== undefined &&
      JSON.stringify(service.spec?.selector ?? {}) === JSON.stringify(restore);
    // A foreground deletion has garbage collection delete the SWH's dependents — this Service among them — as
    // soon as it gets to them: no waiting then; the Service goes back in one patch, at once.
    const foreground = (swh.metadata.finalizers as string[] | undefined ?? []).includes("foregroundDeletion");
    if (restore && !foreground) {
      const waiting = await handBackPending(ctx, swh, restored ? undefined : restore, unchanged, log, signal);
      if (waiting) return waiting;
    }
    try {
      await services.patch(name, {
        type: "json",
        ops: [
          unchanged,
          ...(restore && !restored ? [{ op: "add" as const, path: "/spec/selector", value: restore }] : []),
          // "add" replaces the list, and also works when garbage collection already removed it (Orphan).
          {
            op: "add",
            path: "/metadata/ownerReferences",
            value: refs.filter((r) => r.uid !== swh.metadata.uid),
          },
          // Our bookkeeping goes with us: the saved selector, and the notes for the agents.
          ...[ADOPTED_SELECTOR_ANNOTATION, ...SERVICE_NOTE_ANNOTATIONS]
            .filter((key) => service.metadata?.annotations?.[key] !== undefined)
            .map((key) => ({
              op: "remove" as const,
              path: `/metadata/annotations/${key.replace("/", "~1")}`,
            })),
        ],
      }, { fieldManager: CONTROLLER_FIELD_MANAGER, signal });
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
    log.info("released the adopted Service", { selector });
    ctx.events.record(
      { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: swh.metadata },
      "Normal",
      "ServiceReleased",
      `gave Service ${namespace}/${name} back${
        selector ? ` with its selector ${JSON.stringify(selector)}` : ""
      }`,
    );
  }
  const finalizers = (swh.metadata.finalizers as string[] | undefined ?? []).filter((f) =>
    f !== RELEASE_FINALIZER
  );
  try {
    // The list as we saw it minus ours (the resourceVersion test keeps others' concurrent changes safe).
    await ctx.swhApi.inNamespace(namespace).patch(name, {
      type: "json",
      ops: [
        { op: "test", path: "/metadata/resourceVersion", value: swh.metadata.resourceVersion },
        { op: "replace", path: "/metadata/finalizers", value: finalizers },
      ],
    }, { fieldManager: CONTROLLER_FIELD_MANAGER, signal });
  } catch (err) {
    if (!isApiError(err, 404)) throw err;
  }
  return {};
}

/**
 * The first step of a hand-back (see {@link releaseService}): puts the saved selector `restore` back (when given:
 * not yet there), then waits until the built-in EndpointSlice controller has published its slice, at most
 * {@link HAND_BACK_WAIT_MS} from the deletion. Returns when to look again, or undefined once the Service may
 * stop being the SWH's.
 */
async function handBackPending(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  restore: Record<string, string> | undefined,
  unchanged: JsonPatchOp,
  log: Logger,
  signal: AbortSignal,
): Promise<Action | undefined> {
  const { namespace = "", name = "" } = swh.metadata;
  if (restore) {
    await Api.namespaced(ctx.transport, Services, namespace).patch(name, {
      type: "json",
      ops: [unchanged, { op: "add", path: "/spec/selector", value: restore }],
    }, { fieldManager: CONTROLLER_FIELD_MANAGER, signal }).catch((err) => {
      if (!isApiError(err, 404)) throw err;
    });
    log.info("restored the adopted Service's selector; it stays ours until its built-in endpoints exist", {
      selector: restore,
    });
    return { requeueAfterMs: HAND_BACK_POLL_MS };
  }
  const builtIn = await Api.namespaced(ctx.transport, EndpointSlices, namespace).list({
    labelSelector: builtInSlicesSelector(name),
    limit: 1,
    signal,
  });
  if (builtIn.items.length > 0) return undefined;
  const waitedMs = ctx.now().getTime() - Date.parse(String(swh.metadata.deletionTimestamp));
  if (waitedMs < HAND_BACK_WAIT_MS) return { requeueAfterMs: HAND_BACK_POLL_MS };
  log.warn("giving the adopted Service back before the built-in EndpointSlice controller published it", {
    waitedMs,
  });
  return undefined;
}
