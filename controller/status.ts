/** An SWH's status, as a pure function of what a reconcile observed. */
import { metaTime as timestamp } from "../kube/time.ts";
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
  agentsReporting: "AgentsReporting",
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
  /** Verdict on the heartbeats of the agents of this SWH's nodes (absent: not judged). */
  agents?: ConditionVerdict;
  /** The Service as stored, when it is ours; its addresses and load-balancer ingress are reflected. */
  serviceObject?: IService;
  /** The pods, aggregated from the agents' slices and reports (controller/endpoints.ts). */
  endpoints: EndpointView;
  /** Whether any pod matches the selector; asked only when no agent shows a pod. */
  podsSelected?: boolean;
  /** Clock, for lastTransitionTime. */
  now: Date;
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

/** Reasons an agent reports that are configuration problems, not a backend's answer. */
const CONFIG_REASONS = new Set(["PortNotFound", "NoCredentials", "InvalidCredentials", "InvalidProbe"]);

/** At most this many pods are named in a condition message; the entries carry the rest. */
const NAMED_PODS = 5;

/** `pod reason` for the failing pods of a view, e.g. `db-1 QueryFalse`, or `db-0 failing 1/3: Timeout`. */
function failingPods(view: EndpointView, ready: boolean, thresholdOf: (index: number) => number): string[] {
  return view.entries.filter((e) => e.ready === ready && (!ready || e.failingProbes?.length)).map((e) => {
    const f = e.failingProbes?.[0];
    if (!f) return `${e.pod} NotYetProbed`;
    return ready
      ? `${e.pod} failing ${f.consecutiveFailures ?? 1}/${thresholdOf(f.index)}: ${f.reason}`
      : `${e.pod} ${f.reason}`;
  });
}

function listed(items: string[], total: number): string {
  const shown = items.slice(0, NAMED_PODS).join(", ");
  return total > NAMED_PODS ? `${shown} and ${total - NAMED_PODS} more` : shown;
}

/** What decides the Ready condition. */
export interface ReadyInputs {
  /** The Service verdict (ServiceApplied, ServiceConflict, ServiceRejected…). */
  service: ConditionVerdict;
  /** The credentials verdict (SecretNotFound, SecretKeyMissing…). */
  credentials: ConditionVerdict;
  /** The pods as the agents publish and report them. */
  endpoints: EndpointView;
  /** Whether any pod matches the selector (asked only when no agent shows a pod); undefined = not known. */
  podsSelected?: boolean;
  /** failureThreshold of probe `index` (for "failing 1/3"). */
  failureThreshold: (index: number) => number;
}

/**
 * The Ready verdict, with the root cause as its reason so `kubectl get swh` shows it: True (EndpointsReady) when
 * the Service is in place and at least one pod passes, naming pods that fail or have started failing; else the
 * first cause found — the Service's problem (ServiceConflict, ServiceRejected…), the credentials' problem
 * (SecretNotFound, SecretKeyMissing), NoPodsSelected, a configuration problem every failing pod shares
 * (PortNotFound, NoCredentials…), or ProbesFailing naming the pods and reasons.
 */
export function readyVerdict(inputs: ReadyInputs): ConditionVerdict {
  const { service, credentials, endpoints: view } = inputs;
  if (service.status !== "True") return { status: "False", reason: service.reason, message: service.message };
  if (view.ready > 0) {
    const failing = failingPods(view, false, inputs.failureThreshold);
    const starting = failingPods(view, true, inputs.failureThreshold);
    const notes = [
      ...(failing.length ? [`not ready: ${listed(failing, view.total - view.ready)}`] : []),
      ...(starting.length ? [listed(starting, starting.length)] : []),
    ];
    return {
      status: "True",
      reason: "EndpointsReady",
      message: `${view.ready}/${view.total} endpoints pass their probes${
        notes.length ? `; ${notes.join("; ")}` : ""
      }`,
    };
  }
  if (credentials.status === "False") {
    return { status: "False", reason: credentials.reason, message: credentials.message };
  }
  if (view.total === 0) {
    return inputs.podsSelected === false
      ? { status: "False", reason: "NoPodsSelected", message: "no pod matches the selector" }
      : {
        status: "False",
        reason: "NoReadyEndpoints",
        message: "pods are selected, but no agent has published or reported them yet",
      };
  }
  const reasons = new Set(
    view.entries.filter((e) => !e.ready).map((e) => e.failingProbes?.[0]?.reason ?? "NotYetProbed"),
  );
  const [only] = reasons;
  const reason = reasons.size === 1 && CONFIG_REASONS.has(only) ? only : "ProbesFailing";
  const detail = view.entries.find((e) => e.failingProbes?.[0]?.reason === only)?.failingProbes?.[0]?.message;
  return {
    status: "False",
    reason,
    message:
      `0/${view.total} endpoints pass their probes: ${
        listed(failingPods(view, false, inputs.failureThreshold), view.total)
      }` +
      (reason !== "ProbesFailing" && detail ? ` (${detail})` : ""),
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
    condition(
      CONDITION.ready,
      readyVerdict({
        service: inputs.service,
        credentials: inputs.credentials,
        endpoints: counts,
        podsSelected: inputs.podsSelected,
        failureThreshold: (index) => swh.spec.healthcheck.probes[index]?.failureThreshold ?? 3,
      }),
      previous,
      generation,
      inputs.now,
    ),
    condition(CONDITION.serviceReady, inputs.service, previous, generation, inputs.now),
    condition(CONDITION.credentials, inputs.credentials, previous, generation, inputs.now),
    ...(inputs.agents
      ? [condition(CONDITION.agentsReporting, inputs.agents, previous, generation, inputs.now)]
      : []),
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
