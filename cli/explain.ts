/**
 * `mod.ts explain NAMESPACE/NAME`: for one ServiceWithHealthchecks, each selected pod with its node and
 * IP, whether it is in the EndpointSlices and why — read from the cluster's own objects (the pods, the
 * slices, the agents' node reports and the SWH status), so it shows what Kubernetes sees.
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ServiceWithHealthchecks, SwhEndpointStatus } from "../crds/schema.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import { DEFAULT_OPERATOR_NAMESPACE, SERVICE_NAME_LABEL } from "../crds/conventions.ts";

/** One line of the explanation. */
export interface ExplainRow {
  pod: string;
  node: string;
  ip: string;
  /** Published in at least one of the SWH's EndpointSlices. */
  inSlices: boolean;
  /** Why it is in or out, in words. */
  why: string;
}

/** The explanation of one SWH. */
export interface Explanation {
  title: string;
  rows: ExplainRow[];
}

function matchesSelector(pod: IPod, selector: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function since(time: string | undefined): string {
  return time ? ` since ${time.replace(/\.\d+Z$/, "Z")}` : "";
}

function failingText(swh: ServiceWithHealthchecks, entry: SwhEndpointStatus): string[] {
  return (entry.failingProbes ?? []).map((f) => {
    const threshold = swh.spec.healthcheck?.probes?.[f.index]?.failureThreshold;
    const count = entry.ready && f.consecutiveFailures !== undefined && threshold
      ? ` failing ${f.consecutiveFailures}/${threshold}`
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
  if (entry.terminating) return `terminating${since(entry.lastTransitionTime)}`;
  const failing = failingText(swh, entry);
  if (entry.ready) {
    return `all probes pass${since(entry.lastTransitionTime)}${
      failing.length ? `; ${failing.join("; ")}` : ""
    }`;
  }
  return `${failing.join("; ") || "probes have not passed yet"}${since(entry.lastTransitionTime)}`;
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
    .filter((pod) => matchesSelector(pod, swh.spec.selector as Record<string, string> | undefined))
    .map((pod) => {
      const name = pod.metadata?.name ?? "?";
      const inSlices = published.has(name);
      return {
        pod: name,
        node: pod.spec?.nodeName ?? "-",
        ip: (pod.status?.podIPs ?? []).map((p) => p.ip).join(",") || pod.status?.podIP || "-",
        inSlices,
        why: reasonFor(swh, pod, entries.get(name), inSlices),
      };
    })
    .sort((a, b) => a.pod.localeCompare(b.pod));
  const ready = swh.status?.conditions?.find((c) => c.type === "Ready");
  const clusterIP = swh.status?.clusterIP ?? "-";
  const title = `${swh.metadata.namespace}/${swh.metadata.name}: ${rows.filter((r) => r.inSlices).length}/` +
    `${rows.length} pods in the slices; Ready=${ready?.status ?? "Unknown"}` +
    `${ready?.reason ? ` (${ready.reason})` : ""}; ClusterIP ${clusterIP}`;
  return { title, rows };
}

/** Renders an explanation as an aligned text table. */
export function renderExplanation(explanation: Explanation): string {
  const header = ["POD", "NODE", "IP", "IN", "WHY"];
  const lines = explanation.rows.map((r) => [r.pod, r.node, r.ip, r.inSlices ? "yes" : "no", r.why]);
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cols: string[]) => cols.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join("  ");
  const body = lines.length > 0 ? lines.map(format).join("\n") : "(no pod matches the selector)";
  return `${explanation.title}\n${format(header)}\n${body}`;
}

/** `explain NAMESPACE/NAME [--watch]`: fetches the objects with the kube client and prints the table. */
export async function explainCommand(args: string[]): Promise<number> {
  const target = args.find((a) => !a.startsWith("--"));
  const [namespace, name] = target?.includes("/") ? target.split("/", 2) : [undefined, undefined];
  if (!namespace || !name) throw new Error("usage: explain NAMESPACE/NAME [--watch]");
  const { connect, Api, Pods, EndpointSlices } = await import("../kube/mod.ts");
  const { ReportResource, SwhResource } = await import("../crds/resource.ts");
  const operatorNamespace = Deno.env.get("SWH_NAMESPACE") || DEFAULT_OPERATOR_NAMESPACE;
  const transport = await connect();
  try {
    const render = async () => {
      const swh = await Api.namespaced(transport, SwhResource, namespace).get(name);
      const pods = (await Api.namespaced(transport, Pods, namespace).list()).items;
      const slices = (await Api.namespaced(transport, EndpointSlices, namespace).list({
        labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
      })).items;
      // Reports need read access to the operator namespace; without it the status alone explains.
      const reports =
        (await Api.namespaced(transport, ReportResource, operatorNamespace).list().catch(() => ({
          items: [] as SwhNodeReport[],
        }))).items.filter((r) => r.swh.namespace === namespace && r.swh.name === name);
      return renderExplanation(explain(swh, pods, slices, reports));
    };
    if (!args.includes("--watch")) {
      console.log(await render());
      return 0;
    }
    // A person watches this screen: a redraw per second is what they can read, and costs three reads.
    while (true) {
      const text = await render().catch((e) => `error: ${e instanceof Error ? e.message : e}`);
      console.log(`\x1b[2J\x1b[H${new Date().toISOString()}\n${text}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    transport.close();
  }
}
