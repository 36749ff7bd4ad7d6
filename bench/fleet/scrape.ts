/**
 * Counters read at the edges of each measurement window: kube-apiserver's own /metrics (every client's requests,
 * priority-and-fairness rejections), each agent's and the controller's /metrics; and what changed in between.
 *
 * @module
 */
import type { KubeTransport } from "../../kube/mod.ts";
import { difference, parseSamples, sumBy, total } from "../../tests/support/prometheus.ts";
import type { Sample } from "../../tests/support/prometheus.ts";
import { pool } from "../../tests/support/measure.ts";

/** Verbs of apiserver_request_total that change state (the apiserver's cleaned verbs). */
const WRITE_VERBS = new Set([
  "POST",
  "PUT",
  "PATCH",
  "APPLY",
  "DELETE",
  "DELETECOLLECTION",
  "CREATE",
  "UPDATE",
]);

/** Whether an apiserver_request_total sample counts writes. */
export function isWrite(labels: Readonly<Record<string, string>>): boolean {
  return WRITE_VERBS.has(labels.verb);
}

const APF_WAIT = "apiserver_flowcontrol_request_wait_duration_seconds";
const APISERVER_METRICS = new Set([
  "apiserver_request_total",
  "apiserver_flowcontrol_rejected_requests_total",
  `${APF_WAIT}_sum`,
  `${APF_WAIT}_count`,
]);

/** The counters of interest at one moment. */
export interface Snapshot {
  /** performance.now() when taken. */
  readonly at: number;
  readonly apiserver: readonly Sample[];
  /** One list per agent, in agent order; undefined when the agent did not answer (a starved agent may not). */
  readonly agents: readonly (readonly Sample[] | undefined)[];
  /** The agent processes asked, in agent order (a restarted agent is another one, its counters anew). */
  readonly agentSources: readonly MetricsSource[];
  /** Undefined when the controller did not answer. */
  readonly controller: readonly Sample[] | undefined;
}

/** Something that serves /metrics text. */
export interface MetricsSource {
  /** The /metrics text, or undefined when the process does not answer. */
  metricsText(): Promise<string | undefined>;
}

/**
 * Reads kube-apiserver's /metrics (needs a client allowed `get` on the `/metrics` non-resource URL); an overloaded
 * apiserver gets two minutes and three tries.
 */
export async function apiserverSamples(transport: KubeTransport): Promise<Sample[]> {
  for (let attempt = 1;; attempt++) {
    try {
      const body = await transport.request({
        method: "GET",
        path: "/metrics",
        expect: "stream",
        signal: AbortSignal.timeout(120_000),
      });
      return parseSamples(await new Response(body).text(), APISERVER_METRICS);
    } catch (error) {
      if (attempt >= 3) throw new Error(`kube-apiserver /metrics: ${error}`, { cause: error });
    }
  }
}

/** A program's samples, asking up to three times; undefined when it never answered. */
async function programSamples(source: MetricsSource): Promise<Sample[] | undefined> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const text = await source.metricsText();
    if (text !== undefined) return parseSamples(text);
  }
  return undefined;
}

/** Takes a snapshot of the apiserver's, the agents' and the controller's counters. */
export async function snapshot(
  transport: KubeTransport,
  agents: readonly MetricsSource[],
  controller: MetricsSource,
): Promise<Snapshot> {
  const [apiserver, agentSamples, controllerSamples] = await Promise.all([
    apiserverSamples(transport),
    pool(agents, 25, programSamples),
    programSamples(controller),
  ]);
  return {
    at: performance.now(),
    apiserver,
    agents: agentSamples,
    agentSources: [...agents],
    controller: controllerSamples,
  };
}

/** What happened between two snapshots. */
export interface WindowCounts {
  readonly seconds: number;
  /** Agents that answered both scrapes: the agents' counters below are theirs only. */
  readonly agentsCounted: number;
  /** Whether the controller answered both scrapes (else its counters below are empty). */
  readonly controllerCounted: boolean;
  /** apiserver writes by `resource[/subresource] VERB`, every client. */
  readonly apiWrites: Map<string, number>;
  /** apiserver answers with code 429. */
  readonly tooManyRequests: number;
  /** priority-and-fairness rejections by `priority level / flow schema / reason`. */
  readonly rejected: Map<string, number>;
  /** Writes the agents counted (all agents), by `resource verb` (failed ones marked). */
  readonly agentWrites: Map<string, number>;
  /** Writes the controller counted, by `resource verb` (failed ones marked). */
  readonly controllerWrites: Map<string, number>;
  /** Watch events per agent, by resource, and SWHs it fetched, by via: one map per agent. */
  readonly watchEventsPerAgent: Map<string, number>[];
  /** Endpoint transitions (all agents) by the verdict reached (`healthy` | `unhealthy`). */
  readonly transitions: Map<string, number>;
  /** Probe results (all agents) by result. */
  readonly probes: Map<string, number>;
  /** Watch restarts (all agents), by resource. */
  readonly watchRestarts: Map<string, number>;
  /** Events the agents' rate limit dropped. */
  readonly eventsDropped: number;
  /** Mean time requests waited in priority-and-fairness queues, by `priority level / flow schema`. */
  readonly apfWait: Map<string, Mean>;
  /** The controller's reconciles with their mean duration, by `kind result`. */
  readonly reconciles: Map<string, Mean>;
}

/** A count of observations with their mean (of a histogram's `_sum` / `_count`). */
export interface Mean {
  readonly count: number;
  /** Mean in the histogram's unit (seconds). */
  readonly mean: number;
}

/** Count and mean of histogram `name` between two sample sets, grouped by `key`. */
function means(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  key: (l: Readonly<Record<string, string>>) => string,
): Map<string, Mean> {
  const sums = difference(sumBy(before, `${name}_sum`, key), sumBy(after, `${name}_sum`, key));
  const counts = difference(sumBy(before, `${name}_count`, key), sumBy(after, `${name}_count`, key));
  return new Map([...counts].map(([k, n]) => [k, { count: n, mean: (sums.get(k) ?? 0) / n }]));
}

const resourceKey = (l: Readonly<Record<string, string>>) =>
  `${l.resource}${l.subresource ? `/${l.subresource}` : ""} ${l.verb}`;

function agentsSum(
  snap: Snapshot,
  counted: readonly number[],
  name: string,
  key: (l: Readonly<Record<string, string>>) => string,
): Map<string, number> {
  return sumBy(counted.flatMap((i) => snap.agents[i] ?? []), name, key);
}

/** Counts what happened between `before` and `after`. */
export function windowCounts(before: Snapshot, after: Snapshot): WindowCounts {
  const api = (snap: Snapshot, filter: (l: Readonly<Record<string, string>>) => boolean) =>
    sumBy(snap.apiserver, "apiserver_request_total", resourceKey, filter);
  const is429 = (l: Readonly<Record<string, string>>) => l.code === "429";
  const rejectedKey = (l: Readonly<Record<string, string>>) =>
    `${l.priority_level} / ${l.flow_schema} / ${l.reason}`;
  const rejected = (s: Snapshot) =>
    sumBy(s.apiserver, "apiserver_flowcontrol_rejected_requests_total", rejectedKey);
  const agentWriteKey = (l: Readonly<Record<string, string>>) =>
    `${l.resource} ${l.verb}${l.failed === "true" ? " (failed)" : ""}`;
  // A program missing from either scrape, or restarted in between, would have its whole counter attributed to
  // one window: leave it out.
  const counted = after.agents.flatMap((samples, i) =>
    samples && before.agents[i] && before.agentSources[i] === after.agentSources[i] ? [i] : []
  );
  const controllerCounted = before.controller !== undefined && after.controller !== undefined;
  const controller = (s: Snapshot) => (controllerCounted ? s.controller ?? [] : []);
  const controllerWrites = (s: Snapshot, failed: "" | " (failed)") =>
    sumBy(
      controller(s),
      failed ? "swh_controller_api_write_failures_total" : "swh_controller_api_writes_total",
      (l) => `${l.resource} ${l.verb}${failed}`,
    );
  const byLabel = (label: string) => (l: Readonly<Record<string, string>>) => l[label] ?? "";
  const fetchedKey = (l: Readonly<Record<string, string>>) => `SWHs fetched (${l.via})`;
  const perAgent = counted.map((i) =>
    new Map([
      ...difference(
        sumBy(before.agents[i] ?? [], "swh_agent_watch_events_total", byLabel("resource")),
        sumBy(after.agents[i] ?? [], "swh_agent_watch_events_total", byLabel("resource")),
      ),
      ...difference(
        sumBy(before.agents[i] ?? [], "swh_agent_swh_fetches_total", fetchedKey),
        sumBy(after.agents[i] ?? [], "swh_agent_swh_fetches_total", fetchedKey),
      ),
    ])
  );
  const diffAgents = (name: string, key: (l: Readonly<Record<string, string>>) => string) =>
    difference(agentsSum(before, counted, name, key), agentsSum(after, counted, name, key));
  return {
    seconds: (after.at - before.at) / 1000,
    agentsCounted: counted.length,
    controllerCounted,
    apiWrites: difference(api(before, isWrite), api(after, isWrite)),
    tooManyRequests: total(difference(api(before, is429), api(after, is429))),
    rejected: difference(rejected(before), rejected(after)),
    agentWrites: diffAgents("swh_agent_api_writes_total", agentWriteKey),
    controllerWrites: new Map([
      ...difference(controllerWrites(before, ""), controllerWrites(after, "")),
      ...difference(controllerWrites(before, " (failed)"), controllerWrites(after, " (failed)")),
    ]),
    watchEventsPerAgent: perAgent,
    transitions: diffAgents("swh_agent_endpoint_transitions_total", byLabel("to")),
    probes: diffAgents("swh_agent_probes_total", byLabel("result")),
    watchRestarts: diffAgents("swh_agent_watch_restarts_total", byLabel("resource")),
    eventsDropped: total(diffAgents("swh_agent_events_dropped_total", () => "")),
    apfWait: means(
      before.apiserver,
      after.apiserver,
      APF_WAIT,
      (l) => `${l.priority_level} / ${l.flow_schema}`,
    ),
    reconciles: means(
      controller(before),
      controller(after),
      "swh_controller_reconcile_duration_seconds",
      (l) => l.kind ?? "",
    ),
  };
}
