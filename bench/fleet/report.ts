/**
 * Formatting of the fleet benchmark's results: Markdown tables (ready to paste into the README) and the numbers
 * in them.
 *
 * @module
 */
import { percentile } from "../../tests/support/measure.ts";
import { failoverBoundMs } from "./phases.ts";
import type { ChurnResult, ColdResult, FailoverSample, RestartSample, Window } from "./phases.ts";
import type { Mean } from "./scrape.ts";
import { OTHERS } from "./sampler.ts";
import type { Fleet } from "./setup.ts";

/** Prints a Markdown table with a heading line. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ")} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

/** Seconds with one decimal, from milliseconds; "–" for NaN. */
export function seconds(ms: number): string {
  return Number.isNaN(ms) ? "–" : `${(ms / 1000).toFixed(1)} s`;
}

/** p50 / p99 / max of `values` (milliseconds) as seconds. */
export function spread(values: readonly number[]): [string, string, string] {
  const sorted = [...values].sort((a, b) => a - b);
  return [seconds(percentile(sorted, 50)), seconds(percentile(sorted, 99)), seconds(sorted.at(-1) ?? NaN)];
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A rate per second with one decimal. */
export function rate(n: number, windowSeconds: number): string {
  return `${(n / windowSeconds).toFixed(1)}/s`;
}

/** Mean and max of `values`, as "mean / max". */
export function meanMax(values: readonly number[]): string {
  if (values.length === 0) return "–";
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return `${mean.toFixed(1)} / ${Math.max(...values)}`;
}

/** Everything the run measured, filled in phase by phase (a run stopped early lacks the later phases). */
export interface FleetResults {
  cold?: ColdResult;
  windows: Window[];
  /** [ms waited, quiet reached] before the steady window. */
  settled?: [number, boolean];
  churn?: ChurnResult;
  /** [ms waited, every SWH complete again] after the churn. */
  recovered?: [number, boolean];
  failover?: readonly FailoverSample[];
  rollout?: readonly RestartSample[];
  /** Processes that died although nobody stopped them. */
  exited: readonly string[];
  /** Why the run stopped before the end, if it did. */
  stoppedBy?: string;
}

function milestoneRow(
  name: string,
  reached: ReadonlyMap<string, number>,
  cold: ColdResult,
  swhs: number,
): string[] {
  const latencies = [...reached].map(([swh, at]) => at - (cold.createdAt.get(swh) ?? cold.startedAt));
  const all = reached.size >= swhs
    ? seconds(Math.max(...reached.values()) - cold.startedAt)
    : `not reached (${reached.size}/${swhs})`;
  return [name, `${count(reached.size)}/${count(swhs)}`, ...spread(latencies), all];
}

/** The cold-start table. */
function printCold(fleet: Fleet, cold: ColdResult): void {
  const swhs = fleet.topology.swhs.size;
  const o = fleet.observer;
  printTable(
    `1. Cold start: ${count(swhs)} SWHs created at once (in ${
      seconds(cold.createMs)
    }); per SWH from its create, ` +
      `"all" from the first create`,
    ["milestone", "reached", "p50", "p99", "max", "all"],
    [
      milestoneRow("slices hold all its endpoints", o.slicesCompleteAt, cold, swhs),
      milestoneRow("its Service exists", o.serviceAt, cold, swhs),
      milestoneRow("status: all endpoints ready", o.statusReadyAt, cold, swhs),
    ],
  );
}

/** Rows of `key → per-window values` for the keys present in any window, largest first. */
function perWindowRows(
  windows: readonly Window[],
  pick: (w: Window) => ReadonlyMap<string, number>,
  cell: (n: number, w: Window) => string,
): string[][] {
  const keys = new Map<string, number>();
  for (const w of windows) for (const [k, v] of pick(w)) keys.set(k, (keys.get(k) ?? 0) + v);
  return [...keys].sort((a, b) => b[1] - a[1]).map((
    [k],
  ) => [k, ...windows.map((w) => cell(pick(w).get(k) ?? 0, w))]);
}

const windowHeader = (windows: readonly Window[]) =>
  windows.map((w) => `${w.name} (${w.counts.seconds.toFixed(0)} s)`);
const countAndRate = (n: number, w: Window) => (n === 0 ? "0" : `${count(n)} (${rate(n, w.counts.seconds)})`);

/** API writes per window: the apiserver's view, then the operator's own counters. */
function printWrites(windows: readonly Window[]): void {
  const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  printTable(
    "2. API writes by resource and verb (kube-apiserver apiserver_request_total, every client: the benchmark's " +
      "own SWH creates are in the cold column), with rejections",
    ["resource verb", ...windowHeader(windows)],
    [
      ...perWindowRows(windows, (w) => w.counts.apiWrites, countAndRate),
      ["**all writes**", ...windows.map((w) => countAndRate(sum(w.counts.apiWrites), w))],
      ["429 answers (all requests)", ...windows.map((w) => count(w.counts.tooManyRequests))],
      ["APF rejections", ...windows.map((w) => count(sum(w.counts.rejected)))],
      ...perWindowRows(windows, (w) => w.counts.rejected, (n) => count(n)).map((
        [k, ...v],
      ) => [`  ${k}`, ...v]),
      [
        "programs counted below (answered both scrapes)",
        ...windows.map((w) =>
          `${w.counts.agentsCounted} agents${
            w.counts.controllerCounted ? " + controller" : ", no controller"
          }`
        ),
      ],
      [
        "agents' own count (swh_agent_api_writes_total)",
        ...windows.map((w) => countAndRate(sum(w.counts.agentWrites), w)),
      ],
      ...perWindowRows(windows, (w) => w.counts.agentWrites, countAndRate).map((
        [k, ...v],
      ) => [`  ${k}`, ...v]),
      ["controller's own count", ...windows.map((w) => countAndRate(sum(w.counts.controllerWrites), w))],
      ...perWindowRows(windows, (w) => w.counts.controllerWrites, countAndRate).map((
        [k, ...v],
      ) => [`  ${k}`, ...v]),
    ],
  );
}

/** Where requests waited: priority-and-fairness queues, the controller's reconciles, dropped Events. */
function printQueues(windows: readonly Window[]): void {
  const meanRows = (pick: (w: Window) => ReadonlyMap<string, Mean>, unit: string, prefix: string) => {
    const keys = new Set(windows.flatMap((w) => [...pick(w).keys()]));
    return [...keys].sort().map((k) => [
      `${prefix}${k}`,
      ...windows.map((w) => {
        const m = pick(w).get(k);
        return m ? `${(m.mean * 1000).toFixed(unit === "ms" ? 0 : 1)} ms × ${count(m.count)}` : "–";
      }),
    ]);
  };
  printTable(
    "2b. Waiting: mean priority-and-fairness queue wait per request, mean controller reconcile, dropped Events",
    ["what", ...windowHeader(windows)],
    [
      ...meanRows((w) => w.counts.apfWait, "ms", "APF wait: "),
      ...meanRows((w) => w.counts.reconciles, "ms", "controller reconcile: "),
      ["agents' Events dropped by their rate limit", ...windows.map((w) => count(w.counts.eventsDropped))],
      [
        "agents' watch restarts",
        ...windows.map((w) => count([...w.counts.watchRestarts.values()].reduce((a, b) => a + b, 0))),
      ],
    ],
  );
}

/** Watch events received per agent, per window. */
function printWatchEvents(windows: readonly Window[], agents: number): void {
  const resources = new Set(
    windows.flatMap((w) => w.counts.watchEventsPerAgent.flatMap((m) => [...m.keys()])),
  );
  const cell = (w: Window, resource: string) =>
    meanMax(w.counts.watchEventsPerAgent.map((m) => m.get(resource) ?? 0));
  printTable(
    "3. Watch events received per agent (swh_agent_watch_events_total), and SWHs it fetched " +
      "(swh_agent_swh_fetches_total, GETs): mean / max over the agents that answered both " +
      "scrapes of the window",
    ["resource", ...windowHeader(windows)],
    [
      ...[...resources].sort().map((r) => [r, ...windows.map((w) => cell(w, r))]),
      ["agents counted", ...windows.map((w) => `${w.counts.agentsCounted}/${agents}`)],
    ],
  );
}

/** Churn and flips of healthy endpoints. */
function printChurn(fleet: Fleet, r: FleetResults, windows: readonly Window[]): void {
  const o = fleet.observer;
  const churnWindow = windows.find((w) => w.name === "churn");
  const flapperIps = new Set((r.churn?.flappers ?? []).map((p) => fleet.address(p.index)));
  const during = (
    w: Window | undefined,
  ) => (w ? o.withdrawals.filter((x) => x.at >= w.from && x.at < w.to) : []);
  const firstWindow = windows[0]?.from ?? 0;
  const slices = (w: Window | undefined) =>
    [...(w?.counts.apiWrites ?? [])].filter(([k]) => k.startsWith("endpointslices ")).reduce(
      (a, [, v]) => a + v,
      0,
    );
  const endpoints = [...fleet.topology.swhs.values()].reduce((a, v) => a + v.length, 0);
  const rows: string[][] = [];
  if (r.churn && churnWindow) {
    rows.push([
      "flapping backends",
      `${r.churn.flappers.length} of ${
        count(endpoints)
      } endpoints, down/up ~${fleet.config.flapSeconds} s each`,
    ], ["backend stops", count(r.churn.stops)]);
    const t = churnWindow.counts.transitions;
    rows.push(
      [
        "transitions (agents' metrics)",
        `to unhealthy ${count(t.get("unhealthy") ?? 0)}, to healthy ${count(t.get("healthy") ?? 0)}`,
      ],
      [
        "withdrawals of flapping endpoints (watched)",
        count(during(churnWindow).filter((x) => flapperIps.has(x.address)).length),
      ],
      ["EndpointSlice writes (apiserver)", countAndRate(slices(churnWindow), churnWindow)],
      [
        "probe results (agents)",
        [...churnWindow.counts.probes].map(([k, v]) => `${k} ${count(v)}`).join(", "),
      ],
    );
  }
  for (const w of windows) {
    rows.push([
      `**healthy endpoints withdrawn**, ${w.name}`,
      count(o.healthyWithdrawals(w.from, w.to).length),
    ]);
  }
  rows.push(["**healthy endpoints withdrawn**, whole run", count(o.healthyWithdrawals(firstWindow).length)]);
  if (r.recovered) {
    rows.push([
      "recovery after churn: every SWH complete again",
      `${seconds(r.recovered[0])}${r.recovered[1] ? "" : " (not reached)"}`,
    ]);
  }
  printTable(
    "4. Churn: a fraction of the backends flap; flips of healthy endpoints (backend never stopped) must be 0",
    ["what", "value"],
    rows,
  );
  const examples = o.healthyWithdrawals(firstWindow).slice(0, 10);
  if (examples.length) {
    console.log(
      "\nhealthy endpoints withdrawn (first 10): " + examples.map((w) => {
        const inWindow = windows.find((x) => w.at >= x.from && w.at < x.to);
        return `${w.swh} ${w.address} at +${seconds(w.at - (inWindow?.from ?? firstWindow))} of ${
          inWindow?.name ?? "?"
        }`;
      }).join("; "),
    );
  }
}

/** Failover latencies against the bound. */
function printFailover(fleet: Fleet, samples: readonly FailoverSample[]): void {
  const bound = failoverBoundMs(fleet);
  const latencies = samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs]));
  const [p50, p99, max] = spread(latencies);
  const t = fleet.config.transitionPeriodSeconds;
  printTable(
    `5. Failover: ${samples.length} healthy backends stopped at random moments → endpoint out of its slice (watched)`,
    ["what", "value"],
    [
      ["p50 / p99 / max", `${p50} / ${p99} / ${max}`],
      [
        "bound",
        `${seconds(bound)} (${
          t ? `period + (failureThreshold − 1) × transitionPeriod` : "period × failureThreshold"
        } + 1 s)`,
      ],
      ["over the bound", count(latencies.filter((l) => l > bound).length)],
      ["not withdrawn within bound + 30 s", count(samples.length - latencies.length)],
    ],
  );
}

/** Mean V8 heap reserved / in use, MiB. */
function heap(samples: readonly { heapTotalMiB: number; heapUsedMiB: number }[]): string {
  const mean = (f: (s: { heapTotalMiB: number; heapUsedMiB: number }) => number) =>
    samples.reduce((a, s) => a + f(s), 0) / Math.max(1, samples.length);
  return `${mean((s) => s.heapTotalMiB).toFixed(0)} / ${mean((s) => s.heapUsedMiB).toFixed(0)}`;
}

/** The rolling restart of agents. */
function printRollout(fleet: Fleet, samples: readonly RestartSample[]): void {
  const [p50, , max] = spread(samples.map((s) => s.readyMs));
  const rss = samples.flatMap((s) => (s.rssMiB === undefined ? [] : [Math.round(s.rssMiB)]));
  printTable(
    `7. Rollout: ${samples.length} agents restarted one after another (SIGTERM, new process) with every SWH in ` +
      `the cluster; each read a probe period after it was ready`,
    ["what", "mean / max"],
    [
      ["ready after (p50 / max)", `${p50} / ${max}`],
      ["RSS (MiB)", meanMax(rss)],
      ["V8 heap reserved / in use (MiB, mean)", heap(samples)],
      [
        "an agent not restarted, at the same moments: RSS (MiB) / V8 heap reserved / in use",
        `${meanMax(samples.flatMap((s) => s.unrestarted.rssMiB ?? []).map(Math.round))} / ${
          heap(samples.map((s) => s.unrestarted))
        }`,
      ],
      [`SWHs held (of ${count(fleet.config.swhs)})`, meanMax(samples.map((s) => s.swhsHeld))],
      ["SWHs fetched since the restart", meanMax(samples.map((s) => s.fetched))],
      ["slice and report writes (backends healthy: 0)", meanMax(samples.map((s) => s.writes))],
    ],
  );
}

/** CPU and RSS per component class. */
function printUsage(windows: readonly Window[]): void {
  const classes = windows[0]?.usage.map((u) => u.name) ?? [];
  const of = (w: Window, name: string) => w.usage.find((u) => u.name === name)!;
  printTable(
    "6. CPU (% of one core, whole class; the machine has 2 cores) and RSS (MiB, mean per process / max of any process)",
    ["class", "processes", ...windows.map((w) => `CPU ${w.name}`), ...windows.map((w) => `RSS ${w.name}`)],
    classes.map((name) => [
      name,
      name === OTHERS ? "–" : String(of(windows[0], name).processes),
      ...windows.map((w) => `${of(w, name).cpuPercent.toFixed(0)} %`),
      ...windows.map((w) =>
        name === OTHERS ? "–" : `${of(w, name).rssMeanMiB.toFixed(0)} / ${of(w, name).rssMaxMiB.toFixed(0)}`
      ),
    ]),
  );
}

/** Counts log lines of the agents and the controller by level and message: what they complained about. */
function printLogSummary(dir: string): void {
  const counts = new Map<string, number>();
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".log")) continue;
    const who = entry.name.startsWith("agent-") ? "agents" : entry.name.replace(/\.log$/, "");
    for (const line of Deno.readTextFileSync(`${dir}/${entry.name}`).split("\n")) {
      if (!line) continue;
      let key: string;
      try {
        const json = JSON.parse(line) as { level?: string; msg?: string };
        key = `${who}: ${json.level} "${json.msg}"`;
      } catch {
        key = `${who}: (not JSON) ${line.slice(0, 80)}`;
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => [k, count(v)]);
  printTable("Log lines by program, level and message (top 15)", ["line", "count"], rows);
}

/** Prints every table. */
export function printResults(fleet: Fleet, r: FleetResults): void {
  const c = fleet.config;
  const endpoints = [...fleet.topology.swhs.values()].reduce((a, v) => a + v.length, 0);
  printTable(
    `Fleet: ${c.nodes} nodes × ${c.podsPerNode} pods, ${count(c.swhs)} SWHs × ${c.podsPerSwh} pods ` +
      `(${count(endpoints)} endpoints), one TCP probe every ${c.periodSeconds} s, failureThreshold ` +
      `${c.failureThreshold}${
        c.transitionPeriodSeconds ? `, transitionPeriodSeconds ${c.transitionPeriodSeconds}` : ""
      }`,
    ["setup step (not measured)", "took"],
    [
      ...fleet.setupSteps.map(([name, ms]) => [name, seconds(ms)]),
      ...(r.settled
        ? [[
          "settle before the steady window",
          `${seconds(r.settled[0])}${r.settled[1] ? "" : " (writes never stopped)"}`,
        ]]
        : []),
    ],
  );
  if (r.cold) printCold(fleet, r.cold);
  if (r.windows.length) {
    printWrites(r.windows);
    printQueues(r.windows);
    printWatchEvents(r.windows, fleet.operator.agents.length);
    printChurn(fleet, r, r.windows);
  }
  if (r.failover) printFailover(fleet, r.failover);
  if (r.rollout?.length) printRollout(fleet, r.rollout);
  if (r.windows.length) printUsage(r.windows);
  printLogSummary(fleet.logDir);
  if (r.exited.length) console.log(`\nprocesses that exited on their own: ${r.exited.join(", ")}`);
  if (r.stoppedBy) console.log(`\n**stopped early**: ${r.stoppedBy}`);
}
