/**
 * The measured phases of the fleet benchmark: cold start, settling, steady state, churn (flapping backends),
 * recovery and failover. Each phase is a window between two snapshots of every counter and of /proc.
 *
 * @module
 */
import { SwhResource } from "../../crds/resource.ts";
import type { ServiceWithHealthchecks } from "../../crds/schema.ts";
import { Api, sleep } from "../../kube/mod.ts";
import { pool, procStats } from "../../tests/support/measure.ts";
import { parseSamples, sumBy, total } from "../../tests/support/prometheus.ts";
import type { ClassUsage } from "./sampler.ts";
import { apiserverSamples, isWrite, snapshot, windowCounts } from "./scrape.ts";
import type { MetricsSource, WindowCounts } from "./scrape.ts";
import { createSurely, progress } from "./setup.ts";
import type { Fleet } from "./setup.ts";
import type { FleetPod } from "./topology.ts";

const QUEUE_DEPTH = "swh_controller_queue_depth";
/** SWHs created at once during the cold start. */
const SWH_CONCURRENCY = 32;
/** Resources the operator writes: what must fall quiet before the steady-state window. */
const OPERATOR_RESOURCES = new Set([
  "endpointslices",
  "services",
  "servicewithhealthchecks",
  "servicewithhealthchecksnodereports",
  "events",
]);

/** One measured window. */
export interface Window {
  readonly name: string;
  /** Wall-clock bounds (epoch ms), to match withdrawals seen by the observer. */
  readonly from: number;
  readonly to: number;
  readonly counts: WindowCounts;
  readonly usage: ClassUsage[];
}

/** Runs `body` between two snapshots and returns what happened meanwhile. */
export async function measured(fleet: Fleet, name: string, body: () => Promise<void>): Promise<Window> {
  const take = () => snapshot(fleet.transport, fleet.operator.agents, fleet.operator.controller);
  const before = await take();
  const endUsage = fleet.sampler.begin();
  const from = Date.now();
  await body();
  const to = Date.now();
  const usage = endUsage();
  return { name, from, to, counts: windowCounts(before, await take()), usage };
}

/** What the cold start produced. */
export interface ColdResult {
  /** When the first SWH was sent (epoch ms). */
  readonly startedAt: number;
  /** How long creating every SWH took (ms). */
  readonly createMs: number;
  /** SWH → when its create returned (epoch ms). */
  readonly createdAt: ReadonlyMap<string, number>;
  /** Whether every SWH converged before the timeout. */
  readonly converged: boolean;
}

function swhBody(fleet: Fleet, name: string): ServiceWithHealthchecks {
  const port = fleet.backends.port;
  const { periodSeconds, failureThreshold, transitionPeriodSeconds } = fleet.config;
  return {
    metadata: { name },
    spec: {
      selector: { swh: name },
      ports: [{ name: "tcp", port: 80, targetPort: port, protocol: "TCP" }],
      healthcheck: {
        periodSeconds,
        ...(transitionPeriodSeconds ? { transitionPeriodSeconds } : {}),
        probes: [{ mode: "TCP", failureThreshold, tcp: { targetPort: port } }],
      },
    },
  } as unknown as ServiceWithHealthchecks;
}

/** The controller's work-queue depth now ("?" when it does not answer). */
async function controllerQueueDepth(fleet: Fleet): Promise<string> {
  const samples = parseSamples((await fleet.operator.controller.metricsText()) ?? "", new Set([QUEUE_DEPTH]));
  return samples.length ? String(total(sumBy(samples, QUEUE_DEPTH, () => ""))) : "?";
}

/** Creates every SWH at once and waits until each one's slices, Service and status are complete. */
export async function coldStart(fleet: Fleet): Promise<ColdResult> {
  const swhs = Api.namespaced(fleet.transport, SwhResource, fleet.namespace);
  const names = [...fleet.topology.swhs.keys()];
  const { observer } = fleet;
  const createdAt = new Map<string, number>();
  const startedAt = Date.now();
  await pool(names, SWH_CONCURRENCY, async (name) => {
    fleet.signal.throwIfAborted();
    await createSurely(
      () => swhs.create(swhBody(fleet, name)),
      async () => (await swhs.getOpt(name)) !== undefined,
      fleet.signal,
    );
    createdAt.set(name, Date.now());
  });
  const createMs = Date.now() - startedAt;
  progress(`${names.length} SWHs created in ${(createMs / 1000).toFixed(1)} s`);
  const deadline = startedAt + fleet.config.coldTimeoutSeconds * 1000;
  const done = () =>
    [observer.slicesCompleteAt, observer.serviceAt, observer.statusReadyAt].every((m) =>
      m.size >= names.length
    );
  let lastLog = 0;
  let interval = fleet.sampler.begin();
  while (!done() && Date.now() < deadline) {
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      const cpu = interval().map((u) => `${u.name} ${u.cpuPercent.toFixed(0)}`).join(", ");
      interval = fleet.sampler.begin();
      progress(
        `cold: slices complete ${observer.slicesCompleteAt.size}/${names.length}, Services ` +
          `${observer.serviceAt.size}, status all ready ${observer.statusReadyAt.size}; controller queue ` +
          `${await controllerQueueDepth(fleet)}; CPU % since the last line: ${cpu}`,
      );
    }
    await sleep(200, fleet.signal);
  }
  interval();
  return { startedAt, createMs, createdAt, converged: done() };
}

/** Writes to the operator's resources so far (every client), from the apiserver's counters. */
async function operatorWrites(fleet: Fleet): Promise<number> {
  const samples = await apiserverSamples(fleet.transport);
  return total(
    sumBy(
      samples,
      "apiserver_request_total",
      () => "",
      (l) => isWrite(l) && OPERATOR_RESOURCES.has(l.resource),
    ),
  );
}

/**
 * Waits until writes to the operator's resources have stopped for `quietMs` (debounced status writes, Events)
 * or `maxMs` passed; returns how long it waited and whether it became quiet.
 */
export async function settle(fleet: Fleet, quietMs = 10_000, maxMs = 120_000): Promise<[number, boolean]> {
  const started = Date.now();
  let last = await operatorWrites(fleet);
  let changedAt = Date.now();
  while (Date.now() - changedAt < quietMs) {
    if (Date.now() - started > maxMs) return [Date.now() - started, false];
    await sleep(2_000, fleet.signal);
    const now = await operatorWrites(fleet);
    if (now !== last) [last, changedAt] = [now, Date.now()];
  }
  return [Date.now() - started, true];
}

/** Pods some SWH selects (only those are probed). */
function selectedPods(fleet: Fleet): FleetPod[] {
  return fleet.topology.pods.filter((p) => p.swh);
}

/** `n` distinct random elements of `items`. */
function sample<T>(items: readonly T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}

/** What the churn did. */
export interface ChurnResult {
  readonly flappers: readonly FleetPod[];
  /** Backend stops performed. */
  readonly stops: number;
}

/**
 * Flaps a fraction of the backends for the churn window: each stops and starts again after random times around
 * `flapSeconds` (random, so the flaps do not alias with the probe period), then every flapper is started again.
 */
export async function churn(fleet: Fleet): Promise<ChurnResult> {
  const { config, observer, backends } = fleet;
  const selected = selectedPods(fleet);
  const n = config.flapFraction > 0 ? Math.max(1, Math.round(config.flapFraction * selected.length)) : 0;
  const flappers = sample(selected, n);
  const end = Date.now() + config.churnSeconds * 1000;
  const hold = () =>
    Math.max(0, Math.min((0.5 + Math.random()) * config.flapSeconds * 1000, end - Date.now()));
  let stops = 0;
  await Promise.all(flappers.map(async (pod) => {
    const ip = fleet.address(pod.index);
    await sleep(Math.random() * config.flapSeconds * 1000, fleet.signal);
    while (Date.now() < end) {
      observer.markStopped(ip);
      await backends.stop([ip]);
      stops++;
      await sleep(hold(), fleet.signal);
      await backends.start([ip]);
      await sleep(hold(), fleet.signal);
    }
  }));
  await backends.start(flappers.map((p) => fleet.address(p.index)));
  return { flappers, stops };
}

/** Waits until every SWH publishes all its endpoints again (after churn); returns [ms waited, recovered]. */
export async function recover(fleet: Fleet): Promise<[number, boolean]> {
  const started = Date.now();
  const maxMs = (fleet.config.periodSeconds * 3 + 60) * 1000;
  while (fleet.observer.completeNow() < fleet.topology.swhs.size) {
    if (Date.now() - started > maxMs) return [Date.now() - started, false];
    await sleep(500, fleet.signal);
  }
  return [Date.now() - started, true];
}

/** One agent of the rollout, a probe period after its new process was ready. */
export interface RestartSample {
  readonly node: string;
  /** From the new process's start until /readyz answered 200. */
  readonly readyMs: number;
  readonly rssMiB: number | undefined;
  /** V8 heap reserved and in use (deno_heap_total_bytes, deno_heap_used_bytes). */
  readonly heapTotalMiB: number;
  readonly heapUsedMiB: number;
  /** The same three of an agent that was not restarted (the last one), read at the same time. */
  readonly unrestarted: { rssMiB: number | undefined; heapTotalMiB: number; heapUsedMiB: number };
  /** SWHs it holds: those that concern its node (swh_agent_swhs_cached). */
  readonly swhsHeld: number;
  /** SWHs it fetched since it started (swh_agent_swh_fetches_total). */
  readonly fetched: number;
  /** Slice and report writes of the new process (its backends stayed healthy: should be 0). */
  readonly writes: number;
}

/** A program's /metrics now, as a function summing the series of a metric (those `filter` accepts). */
async function metricSums(
  source: MetricsSource,
): Promise<(name: string, filter?: (l: Readonly<Record<string, string>>) => boolean) => number> {
  const samples = parseSamples((await source.metricsText()) ?? "");
  return (name, filter = () => true) => total(sumBy(samples, name, () => "", filter));
}

/**
 * Restarts `restarts` agents one after another as a DaemonSet update does (SIGTERM, new process, ready, next),
 * each measured a probe period and a second after it was ready: the new process lists what the cluster holds now
 * (every SWH exists), so this shows what an agent (re)starting in a big cluster costs and keeps.
 */
export async function rollout(fleet: Fleet): Promise<RestartSample[]> {
  const samples: RestartSample[] = [];
  // The last agent stays as it is, for comparison.
  const n = Math.min(fleet.config.restarts, fleet.operator.agents.length - 1);
  for (let i = 0; i < n; i++) {
    const { agent, readyMs } = await fleet.operator.restartAgent(i);
    await sleep(fleet.config.periodSeconds * 1000 + 1000, fleet.signal);
    const other = fleet.operator.agents.at(-1)!;
    const sum = await metricSums(agent);
    const otherSum = await metricSums(other);
    const MiB = 2 ** 20;
    samples.push({
      node: fleet.topology.nodes[i],
      readyMs,
      rssMiB: procStats(agent.child.pid)?.rssMiB,
      heapTotalMiB: sum("deno_heap_total_bytes") / MiB,
      heapUsedMiB: sum("deno_heap_used_bytes") / MiB,
      unrestarted: {
        rssMiB: procStats(other.child.pid)?.rssMiB,
        heapTotalMiB: otherSum("deno_heap_total_bytes") / MiB,
        heapUsedMiB: otherSum("deno_heap_used_bytes") / MiB,
      },
      swhsHeld: sum("swh_agent_swhs_cached"),
      fetched: sum("swh_agent_swh_fetches_total"),
      writes: sum(
        "swh_agent_api_writes_total",
        (l) => l.resource === "endpointslices" || l.resource === "servicewithhealthchecksnodereports",
      ),
    });
    progress(`rollout: agent ${i + 1}/${n} restarted, ready after ${(readyMs / 1000).toFixed(1)} s`);
  }
  return samples;
}

/** The failover bound: a failed backend is out within this long (ms). */
export function failoverBoundMs(fleet: Fleet): number {
  const { periodSeconds, failureThreshold, transitionPeriodSeconds } = fleet.config;
  // With a transition period the first failure is seen within a period and confirmed at the faster interval.
  const seconds = transitionPeriodSeconds
    ? periodSeconds + (failureThreshold - 1) * transitionPeriodSeconds
    : periodSeconds * failureThreshold;
  return (seconds + 1) * 1000;
}

/** One stopped backend: how long until its endpoint left its slice (undefined: it never did in time). */
export interface FailoverSample {
  readonly pod: FleetPod;
  readonly latencyMs: number | undefined;
}

/**
 * Stops `failovers` backends that were never stopped before, each at a random moment within two periods, and
 * measures how long until the endpoint leaves its SWH's slices (watched), waiting up to the bound + 30 s.
 */
export async function failover(fleet: Fleet, exclude: ReadonlySet<FleetPod>): Promise<FailoverSample[]> {
  const { config, observer, backends } = fleet;
  const victims = sample(selectedPods(fleet).filter((p) => !exclude.has(p)), config.failovers);
  const patienceMs = failoverBoundMs(fleet) + 30_000;
  return await Promise.all(victims.map(async (pod): Promise<FailoverSample> => {
    const ip = fleet.address(pod.index);
    await sleep(Math.random() * 2 * config.periodSeconds * 1000, fleet.signal);
    observer.markStopped(ip);
    const stoppedAt = await backends.stop([ip]);
    while (Date.now() - stoppedAt < patienceMs) {
      const at = observer.withdrawnAt(pod.swh!, ip, stoppedAt);
      if (at !== undefined) return { pod, latencyMs: at - stoppedAt };
      await sleep(100, fleet.signal);
    }
    return { pod, latencyMs: undefined };
  }));
}
