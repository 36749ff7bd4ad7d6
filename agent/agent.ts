/**
 * The per-node agent, wired: caches (agent/caches.ts) → work queue → reconcile (agent/reconcile.ts) → the
 * slice and report writers; the probe scheduler's verdicts feed the same queue.
 *
 * Data flow (DESIGN §9): the agent never receives another agent's writes — it watches SWH specs, the pods of
 * its node, the mirrored credentials, and its own slices and reports. It writes EndpointSlices (what traffic
 * follows) and node reports (why pods are out), never the SWH status: the controller alone aggregates that.
 *
 * RBAC: see agent/caches.ts (reads), agent/slice_writer.ts, agent/report_writer.ts, agent/transitions.ts.
 *
 * @module
 */
import { agentFieldManager, DEFAULT_OPERATOR_NAMESPACE } from "../crds/conventions.ts";
import type { KubeObject, KubeTransport } from "../kube/mod.ts";
import { EventRecorder } from "../kube/events.ts";
import { instrumentedTransport } from "../kube/instrumented.ts";
import { WorkQueue } from "../kube/workqueue.ts";
import { createLogger } from "../ops/log.ts";
import type { Logger } from "../ops/log.ts";
import { Registry } from "../ops/metrics.ts";
import { runProbe as defaultRunProbe } from "../probes/run.ts";
import { startLagMonitor } from "../probes/lag.ts";
import type { LagMonitor } from "../probes/lag.ts";
import { createScheduler } from "../probes/scheduler.ts";
import type { ProbeCompletion, Scheduler } from "../probes/scheduler.ts";
import type { ProbeResult, ProbeRunner } from "../probes/types.ts";
import { AgentCaches, ZONE_LABEL } from "./caches.ts";
import { HEARTBEAT_DEFAULTS, runHeartbeat } from "./heartbeat.ts";
import { agentMetrics } from "./metrics.ts";
import type { AgentMetrics } from "./metrics.ts";
import { failureReasonCode, withConfigErrors } from "./probe_specs.ts";
import { Reconciler, splitSchedulerKey } from "./reconcile.ts";
import { ReportWriter } from "./report_writer.ts";
import { SliceWriter } from "./slice_writer.ts";
import { TransitionReporter } from "./transitions.ts";

export type { SwhObject } from "./caches.ts";

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** This node's name (`NODE_NAME`): only its pods are probed, its slices and reports carry it. */
  readonly nodeName: string;
  /** Connection to the apiserver. */
  readonly transport: KubeTransport;
  /** Namespace of mirrored credentials and node reports (default `swh-system`). */
  readonly operatorNamespace?: string;
  /** Logger (default JSON on stderr, component `agent`). */
  readonly logger?: Logger;
  /** Registry for /metrics (default a fresh one). */
  readonly registry?: Registry;
  /** Probe runner (default probes/run.ts); tests may inject one. */
  readonly runProbe?: ProbeRunner;
  /** Coalescing delay between a change and the write it causes (default 50 ms). */
  readonly debounceMs?: number;
  /**
   * Least time between two writes of one slice (default 200 ms): bounds writes when many pods flip at once.
   * Changes of flapping endpoints alone are written at most once per probe period.
   */
  readonly minWriteIntervalMs?: number;
  /** Most probes in flight (default 1000). */
  readonly maxConcurrentProbes?: number;
  /** Most Events per second on average (burst 20; default 2). */
  readonly eventsPerSecond?: number;
  /** Validity of the heartbeat Lease (default 40 s, renewed every quarter of it; see agent/heartbeat.ts). */
  readonly leaseDurationSeconds?: number;
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.name}`;
}

/**
 * One node's agent. `start()` lists and watches, adopts the endpoints its existing slices publish as healthy
 * (so a restart withdraws nothing that is still healthy), then probes and writes. A burst of changes to one SWH
 * becomes one write per slice after `debounceMs`; a refused write is retried with backoff until it lands.
 */
export class Agent {
  readonly node: string;
  readonly metrics: AgentMetrics;
  readonly registry: Registry;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #caches: AgentCaches;
  readonly #scheduler: Scheduler;
  readonly #lag: LagMonitor;
  readonly #queue: WorkQueue;
  readonly #events: EventRecorder;
  readonly #slices: SliceWriter;
  readonly #reports: ReportWriter;
  readonly #reconciler: Reconciler;
  readonly #abort = new AbortController();
  #queueDone: Promise<void> | undefined;
  #synced = false;
  #cachesDone: Promise<unknown> | undefined;
  #heartbeatDone: Promise<void> | undefined;
  readonly #transport: KubeTransport;
  readonly #operatorNamespace: string;
  readonly #leaseDurationSeconds: number;

  /** Builds a stopped agent. */
  constructor(opts: AgentOptions) {
    this.node = opts.nodeName;
    this.#log = (opts.logger ?? createLogger("agent")).with({ node: opts.nodeName });
    this.#debounceMs = opts.debounceMs ?? 50;
    this.registry = opts.registry ?? new Registry();
    this.metrics = agentMetrics(this.registry);
    const fieldManager = agentFieldManager(opts.nodeName);
    const operatorNamespace = opts.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
    const transport = instrumentedTransport(opts.transport, (info) => {
      if (info.write) {
        this.metrics.apiWrites.inc({ resource: info.resource, verb: info.verb, failed: String(info.failed) });
      }
    });
    this.#transport = transport;
    this.#operatorNamespace = operatorNamespace;
    this.#leaseDurationSeconds = opts.leaseDurationSeconds ?? HEARTBEAT_DEFAULTS.leaseDurationSeconds;
    this.#caches = new AgentCaches(transport, opts.nodeName, operatorNamespace, {
      onError: (resource) => (info) => {
        if (info.action !== "handler") this.metrics.watchRestarts.inc({ resource });
        this.#log.warn("watch error", { resource, action: info.action, error: info.error });
      },
      onReceive: (resource) => (received) => {
        this.metrics.watchEvents.inc({ resource });
        this.metrics.watchBytes.inc({ resource }, received.bytes);
      },
      onFetch: () => this.metrics.swhFetches.inc({ via: "get" }),
    });
    // 250 ms ticks: fine enough to see a stall of a quarter of the shortest timeout (1 s); on demand — only
    // while a probe is in flight — so an agent between probes never wakes up for it (lag.ts).
    this.#lag = startLagMonitor({
      intervalMs: 250,
      onDemand: true,
      onSample: (lagMs) => this.metrics.eventLoopLag.observe({}, lagMs / 1000),
    });
    this.#scheduler = createScheduler({
      lagMonitor: this.#lag,
      runProbe: withConfigErrors(opts.runProbe ?? defaultRunProbe),
      onChange: (change) => {
        this.#reconciler.recordChange(change);
        this.#queue.add(splitSchedulerKey(change.endpoint)[0], this.#debounceMs);
      },
      onResult: (completion) => this.#onProbeResult(completion),
      maxConcurrent: opts.maxConcurrentProbes,
    });
    this.#queue = new WorkQueue({
      concurrency: 4,
      backoffMaxMs: 30_000,
      onError: (key, error) => this.#log.warn("reconcile failed; retrying", { object: key, error }),
    });
    this.#events = new EventRecorder(transport, {
      component: "swh-agent",
      instance: opts.nodeName,
      // Transitions are real changes: a flap minutes after the last one must be reported again. Bursts are
      // bounded by the reporter's token bucket, not by de-duplication.
      dedupeWindowMs: 1_000,
      onError: (error) => this.#log.debug("event not recorded", { error }),
    });
    this.#slices = new SliceWriter({ transport, fieldManager, log: this.#log });
    this.#reports = new ReportWriter({
      transport,
      node: opts.nodeName,
      namespace: operatorNamespace,
      fieldManager,
      log: this.#log,
    });
    this.#reconciler = new Reconciler({
      node: opts.nodeName,
      operatorNamespace,
      caches: this.#caches,
      scheduler: this.#scheduler,
      slices: this.#slices,
      reports: this.#reports,
      transitions: new TransitionReporter({
        events: this.#events,
        log: this.#log,
        node: opts.nodeName,
        eventsPerSecond: opts.eventsPerSecond,
        onDropped: () => this.metrics.eventsDropped.inc(),
      }),
      metrics: this.metrics,
      log: this.#log,
      minWriteIntervalMs: opts.minWriteIntervalMs ?? 200,
    });
    this.#route();
  }

  /** True once every cache holds its initial list and the first reconcile of every SWH ran. */
  get ready(): boolean {
    return this.#synced;
  }

  /** Why the agent is not ready, or undefined (for /readyz). */
  readiness(): string | undefined {
    if (this.#synced) return undefined;
    const waiting = this.#caches.waitingFor();
    return waiting.length
      ? `waiting for the initial list of ${waiting.join(", ")}`
      : "initial reconcile running";
  }

  /**
   * Lists and watches; resolves once caches are synced, existing slices adopted and every SWH reconciled once.
   * Rejects if stopped before.
   */
  async start(): Promise<void> {
    const signal = this.#abort.signal;
    this.#cachesDone = this.#caches.start(signal);
    await this.#caches.synced();
    // Alive and synced: tell the controller (it takes over the node's clean-up when the heartbeat stops).
    this.#heartbeatDone = runHeartbeat({
      transport: this.#transport,
      node: this.node,
      namespace: this.#operatorNamespace,
      log: this.#log,
      signal,
      leaseDurationSeconds: this.#leaseDurationSeconds,
      renewMs: (this.#leaseDurationSeconds * 1000) / 4,
      onRenew: (ok) => this.metrics.heartbeats.inc({ result: ok ? "renewed" : "failed" }),
    });
    const published = this.#slices.adopt(this.#caches.slices.list());
    for (const p of published) this.#reconciler.seed(p.swh, p.endpoint);
    this.#synced = true;
    const keys = new Set([
      ...this.#caches.swhs.list().map(keyOf),
      ...this.#slices.services(),
      ...this.#reports.swhKeys(),
    ]);
    for (const key of keys) this.#queue.add(key);
    this.#queueDone = this.#queue.run(
      async (key) => {
        const retryIn = await this.#reconciler.reconcile(key);
        return retryIn === undefined ? {} : { requeueAfterMs: retryIn };
      },
      signal,
    );
    await this.#queue.idle();
    this.#log.info("agent started", {
      swhs: this.#caches.swhs.size,
      pods: this.#caches.pods.size,
      slices: this.#caches.slices.size,
      adopted: published.length,
    });
  }

  /** Stops watching and probing; waits for writes in flight. Leaves slices in place (a restart adopts them). */
  async stop(): Promise<void> {
    this.#abort.abort(new DOMException("agent stopped", "AbortError"));
    await this.#queueDone;
    await this.#heartbeatDone;
    await this.#scheduler.close();
    this.#lag.stop();
    await this.#cachesDone?.catch(() => {});
    await this.#events.flush();
  }

  /** Resolves when no reconcile or write is due within `horizonMs` (tests, benchmarks). */
  settled(horizonMs = 0): Promise<void> {
    return this.#queue.idle(horizonMs);
  }

  /** Scheduler counters (benchmarks). */
  schedulerStats(): ReturnType<Scheduler["stats"]> {
    return this.#scheduler.stats();
  }

  /** Sets the gauge of cached SWHs. */
  #countSwhsCached(): void {
    this.metrics.swhsCached.set({}, this.#caches.swhs.size);
  }

  /** Cache events → the SWH keys whose result they can change. */
  #route(): void {
    const c = this.#caches;
    c.swhs.subscribe((e) => {
      this.#countSwhsCached();
      // Fetched (a newer generation, or newly needed) or forgotten: status writes never get here.
      if (this.#synced) this.#queue.add(keyOf(e.object));
    });
    c.pods.subscribe((e) => {
      if (!this.#synced) return;
      // A pod concerns the SWHs of its namespace: one not needed until now may select it (fetched then, and the
      // fetch queues it), and reconciling one that does not select it is a cheap no-op.
      const ns = e.object.metadata?.namespace;
      c.reconsiderNamespace(ns);
      for (const swh of c.swhs.list()) {
        if (swh.metadata?.namespace === ns) this.#queue.add(keyOf(swh), this.#debounceMs);
      }
    });
    c.secrets.subscribe(() => {
      if (!this.#synced) return;
      for (const swh of c.swhs.list()) {
        if (JSON.stringify(swh.spec ?? {}).includes('"PostgreSQL"')) {
          this.#queue.add(keyOf(swh), this.#debounceMs);
        }
      }
    });
    c.slices.subscribe((e) => {
      // Someone else changed or removed one of our slices (or a relist after an outage): converge again.
      const key = this.#slices.observe(e);
      if (this.#synced && key) this.#queue.add(key, this.#debounceMs);
    });
    c.services.subscribe((e) => {
      // The Service carries the notes that decide which SWHs this node needs, and the SWH of the same name
      // publishes only while it owns this Service.
      const { namespace, name } = e.object.metadata ?? {};
      if (!this.#synced || !namespace || !name) return;
      c.reconsider(namespace, name);
      if (c.swhs.get(namespace, name)) this.#queue.add(`${namespace}/${name}`, this.#debounceMs);
    });
    c.node.subscribe((e) => {
      // A zone label set or changed: every SWH's slices carry it.
      const zone = (n: typeof e.object | undefined) => n?.metadata?.labels?.[ZONE_LABEL];
      if (!this.#synced || (e.type === "update" && zone(e.old) === zone(e.object))) return;
      for (const swh of c.swhs.list()) this.#queue.add(keyOf(swh), this.#debounceMs);
    });
    c.reports.subscribe((e) => {
      const key = this.#reports.observe(e);
      if (this.#synced && key) this.#queue.add(key, this.#debounceMs);
    });
  }

  #onProbeResult(c: ProbeCompletion): void {
    const [swhKey] = splitSchedulerKey(c.endpoint);
    const labels = this.#reconciler.probeLabels(swhKey, c.probe);
    const mode = labels.mode;
    if (c.inconclusive) {
      // The agent, not the target, was late: nothing was learnt, nothing changes (the scheduler retries soon).
      this.metrics.probesInconclusive.inc({ mode });
      return;
    }
    this.metrics.probes.inc({ ...labels, result: c.result.ok ? "success" : "failure" });
    this.metrics.probeSeconds.observe({ mode }, c.result.durationMs / 1000);
    // The scheduler reports verdict changes only, but the report explains *why* an endpoint fails, and that a
    // healthy one has started failing: a new reason must reach it too. Messages alone (durations, addresses)
    // do not trigger a write, so a steadily failing probe costs nothing.
    const code = (r: ProbeResult | undefined) => r?.ok ? "" : failureReasonCode(r);
    if (code(c.result) !== code(c.previous)) this.#queue.add(swhKey, this.#debounceMs);
  }
}
