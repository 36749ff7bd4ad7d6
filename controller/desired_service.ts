/** The Service a ServiceWithHealthchecks stands for: a pure function from the SWH to the apply body. */
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceSpec } from "kubernetes-models/v1/ServiceSpec";
import type { IOwnerReference } from "@kubernetes-models/apimachinery/apis/meta/v1/OwnerReference";
import type { ListMapKeys } from "../kube/ssa.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import {
  ADOPT_SERVICE_ANNOTATION,
  selectorAnnotation,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_NOTE_ANNOTATIONS,
  SERVICE_SELECTOR_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
} from "../crds/conventions.ts";

/** List-maps of a Service apply body (for change detection). */
export const SERVICE_LIST_KEYS: ListMapKeys = {
  "spec.ports": ["port", "protocol"],
  "metadata.ownerReferences": ["uid"],
};

/** Annotations never copied to the Service: tool bookkeeping that would confuse those tools, and ours. */
const DROPPED_ANNOTATIONS = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  ADOPT_SERVICE_ANNOTATION,
  ...SERVICE_NOTE_ANNOTATIONS,
]);
/** Annotation prefixes never copied: Helm release tracking and Argo CD tracking/sync options. */
const DROPPED_ANNOTATION_PREFIXES = ["meta.helm.sh/", "argocd.argoproj.io/"];
/** Labels never copied: Argo CD's legacy tracking label would make Argo CD prune the Service as its own. */
const DROPPED_LABELS = new Set(["argocd.argoproj.io/instance"]);

/** Labels or annotations of the SWH that the Service carries too. */
export function propagatedMetadata(
  map: Readonly<Record<string, string>> | undefined,
  kind: "labels" | "annotations",
): Record<string, string> | undefined {
  if (!map) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) {
    if (kind === "labels" && DROPPED_LABELS.has(key)) continue;
    if (kind === "annotations") {
      if (DROPPED_ANNOTATIONS.has(key)) continue;
      if (DROPPED_ANNOTATION_PREFIXES.some((p) => key.startsWith(p))) continue;
    }
    out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The ownerReference that makes the Service (and the agents' slices) go when the SWH goes. */
export function swhOwnerReference(swh: ServiceWithHealthchecks): IOwnerReference {
  const { name, uid } = swh.metadata;
  if (!name || !uid) throw new TypeError("ServiceWithHealthchecks needs metadata.name and metadata.uid");
  return {
    apiVersion: SWH_API_VERSION,
    kind: SWH_KIND,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Drops undefined members so the body holds exactly the fields we mean to own. */
function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The server-side-apply body of the Service for `swh`: same name and namespace, **no selector** (so the
 * built-in EndpointSlice controller leaves it to the agents), every other ServiceSpec field the user set,
 * labels and annotations minus tool bookkeeping, the selector and the SWH's generation as annotations for the
 * agents (see {@link SERVICE_SELECTOR_ANNOTATION}, {@link SERVICE_GENERATION_ANNOTATION}), and a controller
 * ownerReference to the SWH. Fields the
 * user left unset are not sent, so server-allocated values (clusterIP, nodePorts) stay as allocated and
 * fields dropped from the SWH are removed by the next apply.
 */
export function desiredService(
  swh: ServiceWithHealthchecks,
  opts: {
    /** The stored SWH lacks defaults of the programs' schema (an older CRD): agents must validate it. */
    defaultsMissing?: boolean;
  } = {},
): IService {
  const s = swh.spec;
  const ports = s.ports?.map((p) =>
    compact({
      name: p.name,
      protocol: p.protocol ?? "TCP",
      appProtocol: p.appProtocol,
      port: p.port,
      targetPort: p.targetPort,
      nodePort: p.nodePort,
    })
  );
  const spec: IServiceSpec = compact({
    type: s.type,
    ports,
    clusterIP: s.clusterIP,
    clusterIPs: s.clusterIPs,
    ipFamilies: s.ipFamilies,
    ipFamilyPolicy: s.ipFamilyPolicy,
    sessionAffinity: s.sessionAffinity,
    sessionAffinityConfig: s.sessionAffinityConfig?.clientIP
      ? { clientIP: compact({ timeoutSeconds: s.sessionAffinityConfig.clientIP.timeoutSeconds }) }
      : undefined,
    externalIPs: s.externalIPs,
    externalTrafficPolicy: s.externalTrafficPolicy,
    internalTrafficPolicy: s.internalTrafficPolicy,
    healthCheckNodePort: s.healthCheckNodePort,
    loadBalancerClass: s.loadBalancerClass,
    loadBalancerIP: s.loadBalancerIP,
    loadBalancerSourceRanges: s.loadBalancerSourceRanges,
    allocateLoadBalancerNodePorts: s.allocateLoadBalancerNodePorts,
    publishNotReadyAddresses: s.publishNotReadyAddresses,
    trafficDistribution: s.trafficDistribution,
  });
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: compact({
      name: swh.metadata.name,
      namespace: swh.metadata.namespace,
      labels: propagatedMetadata(swh.metadata.labels, "labels"),
      annotations: {
        ...propagatedMetadata(swh.metadata.annotations, "annotations"),
        [SERVICE_SELECTOR_ANNOTATION]: selectorAnnotation(s.selector),
        [SERVICE_GENERATION_ANNOTATION]: String(swh.metadata.generation ?? 0),
        ...(opts.defaultsMissing ? { [SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION]: "true" } : {}),
      },
      ownerReferences: [swhOwnerReference(swh)],
    }),
    spec,
  };
}

/** How an existing Service relates to an SWH of the same name. */
export type ServiceOwnership =
  /** No Service exists yet. */
  | "absent"
  /** Ours: a controller ownerReference to this SWH (by uid). */
  | "owned"
  /** Left by an earlier SWH of the same name (deleted, GC pending): safe to take back. */
  | "stale"
  /** Someone else's Service: only adopted on request. */
  | "foreign";

/** Classifies `service` relative to `swh` (see {@link ServiceOwnership}). */
export function serviceOwnership(
  swh: ServiceWithHealthchecks,
  service: IService | undefined,
): ServiceOwnership {
  if (!service) return "absent";
  const refs = service.metadata?.ownerReferences ?? [];
  if (refs.some((r) => r.uid === swh.metadata.uid)) return "owned";
  const controller = refs.find((r) => r.controller);
  if (
    controller && controller.kind === SWH_KIND && controller.apiVersion.startsWith("network.deckhouse.io/") &&
    controller.name === swh.metadata.name
  ) return "stale";
  return "foreign";
}

/** True when the SWH asks to adopt a pre-existing Service of its name (migration). */
export function adoptionRequested(swh: ServiceWithHealthchecks): boolean {
  return swh.metadata.annotations?.[ADOPT_SERVICE_ANNOTATION] === "true";
}
