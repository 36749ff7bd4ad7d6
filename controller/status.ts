/** An SWH's status, as a pure function of what a reconcile observed. */
import type { IService } from "kubernetes-models/v1/Service";
import type { ListMapKeys } from "../kube/ssa.ts";
import type { ServiceWithHealthchecks, SwhCondition, SwhStatus } from "../crds/schema.ts";
import type { EndpointView } from "./endpoints.ts";

/** List-maps of a status apply body (for change detection). */
export const STATUS_LIST_KEYS: ListMapKeys = { "status.conditions": ["type"], "status.endpoints": ["pod"] };

/** Condition types the controller owns. */
export const CONDITION = {
  ready: "Ready",
  serviceReady: "ServiceReady",
  credentials: "Credentials",
} as const;

/** A condition before timestamps and generation are filled in. */
export interface ConditionVerdict {
  /** "True", "False" or "Unknown". */
  status: SwhCondition["status"];
  /** CamelCase reason. */
  reason: string;
  /** Human-readable details. */
  message: string;
}

/** What one reconcile found out, the input of {@link desiredStatus}. */
export interface StatusInputs {
  /** Verdict on the Service (applied, conflict, rejected…). */
  service: ConditionVerdict;
  /** Verdict on the probe credentials. */
  credentials: ConditionVerdict;
  /** The Service as stored, when it is ours; its addresses and load-balancer ingress are reflected. */
  serviceObject?: IService;
  /** The pods, aggregated from the agents' slices and reports (controller/endpoints.ts). */
  endpoints: EndpointView;
  /** Clock, for lastTransitionTime. */
  now: Date;
}

/** metav1 time text without milliseconds, as the apiserver stores it (so comparisons stay stable). */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Builds a condition, keeping the previous lastTransitionTime when the status did not change. */
export function condition(
  type: string,
  verdict: ConditionVerdict,
  previous: readonly SwhCondition[] | undefined,
  generation: number | undefined,
  now: Date,
): SwhCondition {
  const old = previous?.find((c) => c.type === type);
  return {
    type,
    status: verdict.status,
    reason: verdict.reason,
    message: verdict.message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: old && old.status === verdict.status ? old.lastTransitionTime : timestamp(now),
  };
}

/** The Ready verdict: the Service is in place and at least one endpoint passes its probes. */
export function readyVerdict(
  service: ConditionVerdict,
  counts: { ready: number; total: number },
): ConditionVerdict {
  if (service.status !== "True") {
    return { status: "False", reason: "ServiceNotReady", message: service.message };
  }
  if (counts.ready > 0) {
    return {
      status: "True",
      reason: "EndpointsReady",
      message: `${counts.ready}/${counts.total} endpoints pass their probes`,
    };
  }
  return {
    status: "False",
    reason: "NoReadyEndpoints",
    message: counts.total === 0
      ? "no agent has published or reported a selected pod yet"
      : `0/${counts.total} endpoints pass their probes`,
  };
}

/** Copies the Service's load-balancer ingress into the shape the SWH status accepts. */
function loadBalancerIngress(
  service: IService | undefined,
): NonNullable<SwhStatus["loadBalancer"]> | undefined {
  const ingress = service?.status?.loadBalancer?.ingress;
  if (!ingress || ingress.length === 0) return undefined;
  return {
    ingress: ingress.map((i) => ({
      ...(i.ip ? { ip: i.ip } : {}),
      ...(i.hostname ? { hostname: i.hostname } : {}),
      ...(i.ipMode === "VIP" || i.ipMode === "Proxy" ? { ipMode: i.ipMode } : {}),
      ...(i.ports
        ? {
          ports: i.ports.map((p) => ({
            port: p.port,
            protocol: p.protocol as "TCP" | "UDP" | "SCTP",
            ...(p.error ? { error: p.error } : {}),
          })),
        }
        : {}),
    })),
  };
}

/**
 * The whole status: conditions Ready/ServiceReady/Credentials, counts and per-pod entries, observed generation,
 * Service addresses.
 */
export function desiredStatus(swh: ServiceWithHealthchecks, inputs: StatusInputs): SwhStatus {
  const generation = swh.metadata.generation;
  const previous = swh.status?.conditions;
  const counts = inputs.endpoints;
  const conditions = [
    condition(CONDITION.ready, readyVerdict(inputs.service, counts), previous, generation, inputs.now),
    condition(CONDITION.serviceReady, inputs.service, previous, generation, inputs.now),
    condition(CONDITION.credentials, inputs.credentials, previous, generation, inputs.now),
  ];
  const svc = inputs.serviceObject;
  const status: SwhStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    readyEndpoints: counts.ready,
    totalEndpoints: counts.total,
    endpointSummary: `${counts.ready}/${counts.total}`,
    ...(counts.entries.length ? { endpoints: counts.entries } : {}),
    ...(counts.omitted ? { endpointsOmitted: counts.omitted } : {}),
  };
  if (svc?.spec?.clusterIP) status.clusterIP = svc.spec.clusterIP;
  if (svc?.spec?.clusterIPs?.length) status.clusterIPs = svc.spec.clusterIPs;
  const lb = loadBalancerIngress(svc);
  if (lb) status.loadBalancer = lb;
  return status;
}
