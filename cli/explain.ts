/**
 * `kubectl swh explain NAME`: for one ServiceWithHealthchecks, each selected pod with its node and IP, whether
 * it is in the EndpointSlices and why — read from the cluster's own objects (the pods, the slices, the agents'
 * node reports and the SWH status), so it shows what Kubernetes sees.
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ServiceWithHealthchecks, SwhEndpointStatus } from "../crds/schema.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import { HEALTHCHECK_DEFAULTS } from "../crds/healthcheck.ts";
import { resolveServicePorts, selectorMatches } from "../agent/endpoints.ts";
import { ago } from "../ops/time.ts";
import { table } from "./output.ts";

/** One line of the explanation. */
export interface ExplainRow {
  pod: string;
  node: string;
  ip: string;
  /** Published in at least one of the SWH's EndpointSlices. */
  inSlices: boolean;
  /** Why it is in or out, in words. */
  why: string;
  /** When it last went in or out (RFC 3339), when an agent said so. */
  since?: string;
  /** The SWH's ports resolved for this pod (`5432/TCP`), as the agent publishes them. */
  ports: string[];
}

/** The explanation of one SWH. */
export interface Explanation {
  title: string;
  rows: ExplainRow[];
}

/**
 * Each failing probe of an endpoint in words. On an endpoint still in the slices the count says how close it is
 * to being withdrawn: `probe 0 (TCP) failing 1/3: ConnectionRefused: …`.
 */
export function failingText(swh: ServiceWithHealthchecks, entry: SwhEndpointStatus): string[] {
  return (entry.failingProbes ?? []).map((f) => {
    const threshold = swh.spec.healthcheck?.probes?.[f.index]?.failureThreshold ??
      HEALTHCHECK_DEFAULTS.failureThreshold;
    const count = entry.ready && f.consecutiveFailures !== undefined
      ? ` failing ${f.consecutiveFailures}/${threshold}:`
      : "";
    return `probe ${f.index} (${f.mode})${count} ${f.reason}${f.message ? `: ${f.message}` : ""}`;
  });
}

function reasonFor(
  swh: ServiceWithHealthchecks,
  pod: IPod,
  entry: SwhEndpointStatus | undefined,
  published: boolean,
): string {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return `pod phase ${phase}: never published`;
  if (!pod.status?.podIP) return "pod has no IP yet";
  if (!entry) {
    return published
      ? "all probes pass"
      : "not published, and no report from the agent of its node (not probed yet, or is no agent running there?)";
  }
  if (entry.terminating) return "terminating";
  const failing = failingText(swh, entry);
  if (entry.ready) return failing.length ? failing.join("; ") : "all probes pass";
  return failing.join("; ") || "probes have not passed yet";
}

/**
 * Pure: joins the SWH, the pods of its namespace, its slices and the node reports about it into rows, pods sorted
 * by name. A report entry (the agent's own word, complete) wins over the status entry (capped, aggregated).
 */
export function explain(
  swh: ServiceWithHealthchecks,
  pods: readonly IPod[],
  slices: readonly IEndpointSlice[],
  reports: readonly SwhNodeReport[] = [],
): Explanation {
  const published = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.targetRef?.name) published.add(endpoint.targetRef.name);
    }
  }
  const entries = new Map((swh.status?.endpoints ?? []).map((e) => [e.pod, e]));
  for (const report of reports) {
    if (report.swh.uid && swh.metadata.uid && report.swh.uid !== swh.metadata.uid) continue;
    for (const e of report.endpoints) entries.set(e.pod, { ...e, node: e.node ?? report.node });
  }
  const rows = pods
    .filter((pod) => selectorMatches(swh.spec.selector, pod))
    .map((pod) => {
      const name = pod.metadata?.name ?? "?";
      const inSlices = published.has(name);
      const entry = entries.get(name);
      const row: ExplainRow = {
        pod: name,
        node: pod.spec?.nodeName ?? "-",
        ip: (pod.status?.podIPs ?? []).map((p) => p.ip).join(",") || pod.status?.podIP || "-",
        inSlices,
        why: reasonFor(swh, pod, entry, inSlices),
        ports: resolveServicePorts(swh, pod).map((p) => `${p.port}/${p.protocol}`),
      };
      return entry?.lastTransitionTime ? { ...row, since: entry.lastTransitionTime } : row;
    })
    .sort((a, b) => a.pod.localeCompare(b.pod));
  const ready = swh.status?.conditions?.find((c) => c.type === "Ready");
  const clusterIP = swh.status?.clusterIP ?? "-";
  const title = `${swh.metadata.namespace}/${swh.metadata.name}: ${rows.filter((r) => r.inSlices).length}/` +
    `${rows.length} pods in the slices; Ready=${ready?.status ?? "Unknown"}` +
    `${ready?.reason ? ` (${ready.reason})` : ""}; ClusterIP ${clusterIP}`;
  return { title, rows };
}

/** Options of {@link explanationTable}. */
export interface RenderOptions {
  /** The moment ages are relative to (default now). */
  readonly now?: number;
  /** `-o wide`: the pod's resolved ports too. */
  readonly wide?: boolean;
}

/** The pods of an explanation as a table: POD NODE IP IN SINCE [PORTS] WHY. */
export function explanationTable(rows: readonly ExplainRow[], options: RenderOptions = {}): string {
  const now = options.now ?? Date.now();
  const header = ["POD", "NODE", "IP", "IN", "SINCE", ...(options.wide ? ["PORTS"] : []), "WHY"];
  const lines = rows.map((r) => [
    r.pod,
    r.node,
    r.ip,
    r.inSlices ? "yes" : "no",
    ago(r.since, now),
    ...(options.wide ? [r.ports.join(",") || "-"] : []),
    r.why,
  ]);
  return table(header, lines, "(no pod matches the selector)");
}

/** Renders an explanation: its title line, then the table. */
export function renderExplanation(explanation: Explanation, options: RenderOptions = {}): string {
  return `${explanation.title}\n${explanationTable(explanation.rows, options)}`;
}
