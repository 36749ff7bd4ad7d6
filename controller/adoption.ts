/**
 * Adopting a running Service (migration) and giving it back (roll-back). An adopted Service becomes the SWH's
 * (ownerReference), so without care, deleting the SWH to roll a migration back would delete the Service the
 * users had before. Instead: when the controller adopts a Service it puts a finalizer on the SWH, and when it
 * removes the Service's selector it keeps a copy in an annotation; when the SWH is deleted, the Service is
 * released — ownerReference removed, selector restored, so the built-in controllers take its endpoints over
 * again with the same ClusterIP — and only then does the finalizer go.
 *
 * RBAC: patch servicewithhealthchecks (the finalizer), patch services.
 *
 * @module
 */
import type { IService } from "kubernetes-models/v1/Service";
import {
  CONTROLLER_FIELD_MANAGER,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SELECTOR_ANNOTATION,
} from "../crds/conventions.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import { Api, isApiError, Services } from "../kube/mod.ts";
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
 * The SWH is being deleted: gives an adopted Service back (without our ownerReference, with its selector
 * restored) and removes the finalizer. A Service the SWH created itself is left to garbage collection.
 */
export async function releaseService(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  service: IService | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const { namespace = "", name = "" } = swh.metadata;
  const refs = service?.metadata?.ownerReferences ?? [];
  if (service && refs.some((r) => r.uid === swh.metadata.uid)) {
    const saved = service.metadata?.annotations?.[ADOPTED_SELECTOR_ANNOTATION];
    const selector = saved ? JSON.parse(saved) as Record<string, string> : undefined;
    try {
      await Api.namespaced(ctx.transport, Services, namespace).patch(name, {
        type: "json",
        ops: [
          // Only the Service we saw: if it changed meanwhile, fail and retry with the new state.
          { op: "test", path: "/metadata/resourceVersion", value: service.metadata?.resourceVersion },
          {
            op: "replace",
            path: "/metadata/ownerReferences",
            value: refs.filter((r) => r.uid !== swh.metadata.uid),
          },
          ...(selector && Object.keys(selector).length > 0
            ? [{ op: "add" as const, path: "/spec/selector", value: selector }]
            : []),
          // Our bookkeeping goes with us: the saved selector, and the notes for the agents.
          ...[ADOPTED_SELECTOR_ANNOTATION, SERVICE_SELECTOR_ANNOTATION, SERVICE_GENERATION_ANNOTATION]
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
}
