/**
 * The per-node agent: caches (SWHs, this node's pods, mirrored credentials, own slices) → probe scheduler →
 * desired slices and status entries → server-side apply, writing only what changed.
 *
 * RBAC it needs: list/watch servicewithhealthchecks (cluster-wide) and patch servicewithhealthchecks/status;
 * list/watch pods (it asks only for `spec.nodeName=<node>`); list/watch secrets in the operator namespace
 * (label-selected); list/watch/patch/delete endpointslices; create events.
 *
 * @module
 */
import { SwhResource as SwhTypedResource } from "../crds/resource.ts";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ISecret } from "kubernetes-models/v1/Secret";
import {
  agentFieldManager,
  DEFAULT_OPERATOR_NAMESPACE,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MIRRORED_SECRET_LABEL,
  NODE_LABEL,
  SERVICE_NAME_LABEL,
} from "../crds/conventions.ts";
import { SWH_API_VERSION, SWH_KIND, SWH_PLURAL } from "../crds/schema.ts";
import type { ServiceWithHealthchecks, SwhEndpointStatus } from "../crds/schema.ts";
import { formatSwhErrors, validateSwh } from "../crds/validate.ts";
import { Api, EndpointSlices, Informer, isApiError, Pods, Secrets } from "../kube/mod.ts";
import type { KubeObject, KubeTransport, ResourceType } from "../kube/mod.ts";
import { EventRecorder } from "../kube/events.ts";
import { instrumentedTransport } from "../kube/instrumented.ts";
import { createLogger } from "../ops/log.ts";
import type { Logger } from "../ops/log.ts";
import { Registry } from "../ops/metrics.ts";
import { runProbe as defaultRunProbe } from "../probes/run.ts";
import { createScheduler } from "../probes/scheduler.ts";
import type { HealthChange, ProbeCompletion, Scheduler } from "../probes/scheduler.ts";
import type { ProbeResult, ProbeRunner } from "../probes/types.ts";
import { desiredSlices, sliceContent } from "./desired_slices.ts";
import type { SliceBody } from "./desired_slices.ts";
import { selectEndpoints } from "./endpoints.ts";
import type { SelectedEndpoint } from "./endpoints.ts";
import { agentMetrics } from "./metrics.ts";
import type { AgentMetrics } from "./metrics.ts";
import { failureReasonCode, scheduledProbes, withConfigErrors } from "./probe_specs.ts";
import { WorkQueue } from "../kube/workqueue.ts";
import { entriesContent, statusEntries } from "./status_entries.ts";
import type { EndpointVerdict } from "./status_entries.ts";

/** A ServiceWithHealthchecks as the cache holds it: validated and defaulted on use. */
export type SwhObject = KubeObject & { spec?: unknown; status?: { endpoints?: SwhEndpointStatus[] } };

/** The ServiceWithHealthchecks resource, typed loosely: the agent validates each object on use. */
export const SwhResource = SwhTypedResource as unknown as ResourceType<SwhObject>;

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** This node's name (`NODE_NAME`): only its pods are probed, its slices carry it. */
  readonly nodeName: string;
  /** Connection to the apiserver. */
  readonly transport: KubeTransport;
  /** Namespace of mirrored credentials (default `swh-system`). */
  readonly operatorNamespace?: string;
  /** Logger (default JSON on stderr, component `agent`). */
  readonly logger?: Logger;
  /** Registry for /metrics (default a fresh one). */
  readonly registry?: Registry;
  /** Probe runner (default probes/run.ts); tests may inject one. */
  readonly runProbe?: ProbeRunner;
  /** Coalescing delay between a change and the write it causes (default 50 ms). */
  readonly debounceMs?: number;
  /** Least time between two slice writes of one SWH (default 200 ms): bounds writes when many pods flip. */
  readonly minWriteIntervalMs?: number;
  /** Most probes in flight (default 1000). */
  readonly maxConcurrentProbes?: number;
  /** Most Events per second on average (burst 20; default 2). */
  readonly eventsPerSecond?: number;
}

/** Per-SWH bookkeeping. */
interface SwhRuntime {
  swh?: ServiceWithHealthchecks;
  /** resourceVersion `swh` was parsed from. */
  parsedRv?: string;
  endpoints: SelectedEndpoint[];
  /** Scheduled endpoints by endpoint key → their configuration text (to call `set` only on change). */
  scheduled: Map<string, string>;
  lastSliceWriteAt: number;
  /** This node's status entries as last applied or read back (content text and entries). */
  statusApplied?: string;
  statusEntries: SwhEndpointStatus[];
  lastStatusWriteAt: number;
}

interface KnownSlice {
  namespace: string;
  service: string;
  content: string;
  rv: bigint;
}

function rvOf(obj: KubeObject): bigint {
  try {
    return BigInt(obj.metadata?.resourceVersion ?? "0");
  } catch {
    return 0n;
  }
}

const STATUS_PREFIX = "status:";

/**
 * One node's agent. `start()` lists and watches, adopts the endpoints its existing slices publish as healthy
 * (so a restart withdraws nothing that is still healthy), then probes and applies. Slices are written only
 * when their content differs from what the apiserver holds (cache, updated by our own apply responses); a
 * burst of changes to one SWH becomes one write per slice after `debounceMs`. Status entries are applied at
 * most once per SWH per `periodSeconds`.
 */
export class Agent {
  readonly node: string;
  readonly metrics: AgentMetrics;
  readonly registry: Registry;
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  readonly #transport: KubeTransport;
  readonly #fieldManager: string;
  readonly #swhs: Informer<SwhObject>;
  readonly #pods: Informer<IPod>;
  readonly #secrets: Informer<ISecret>;
  readonly #slices: Informer<IEndpointSlice>;
  readonly #swhApi: Api<SwhObject>;
  readonly #sliceApi: Api<IEndpointSlice>;
  readonly #scheduler: Scheduler;
  readonly #queue: WorkQueue;
  readonly #events: EventRecorder;
  readonly #runtimes = new Map<string, SwhRuntime>();
  readonly #known = new Map<string, KnownSlice>();
  readonly #seeds = new Set<string>();
  readonly #abort = new AbortController();
  #queueDone: Promise<void> | undefined;
  #synced = false;
  #informersDone: Promise<unknown> | undefined;
  #eventTokens = 20;
  #eventRefillAt = performance.now();

  /** Builds a stopped agent. */
  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.node = opts.nodeName;
    this.#log = (opts.logger ?? createLogger("agent")).with({ node: opts.nodeName });
    this.registry = opts.registry ?? new Registry();
    this.metrics = agentMetrics(this.registry);
    this.#fieldManager = agentFieldManager(opts.nodeName);
    this.#transport = instrumentedTransport(opts.transport, (info) => {
      if (info.write) {
        this.metrics.apiWrites.inc({ resource: info.resource, verb: info.verb, failed: String(info.failed) });
      }
    });
    const t = this.#transport;
    const opNs = opts.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
    const onError = (resource: string) => (info: { error: unknown; action: string }) => {
      if (info.action !== "handler") this.metrics.watchRestarts.inc({ resource });
      this.#log.warn("watch error", { resource, action: info.action, error: info.error });
    };
    this.#swhApi = Api.all(t, SwhResource);
    this.#sliceApi = Api.all(t, EndpointSlices);
    this.#swhs = new Informer(this.#swhApi, { onError: onError(SWH_PLURAL) });
    this.#pods = new Informer(Api.all(t, Pods), {
      fieldSelector: `spec.nodeName=${opts.nodeName}`,
      onError: onError("pods"),
    });
    this.#secrets = new Informer(Api.namespaced(t, Secrets, opNs), {
      labelSelector: MIRRORED_SECRET_LABEL,
      onError: onError("secrets"),
    });
    this.#slices = new Informer(this.#sliceApi, {
      labelSelector: `${NODE_LABEL}=${opts.nodeName},${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      onError: onError("endpointslices"),
    });
    this.#scheduler = createScheduler({
      runProbe: withConfigErrors(opts.runProbe ?? defaultRunProbe),
      onChange: (change) => this.#onHealthChange(change),
      onResult: (completion) => this.#onProbeResult(completion),
      maxConcurrent: opts.maxConcurrentProbes,
    });
    this.#queue = new WorkQueue({
      concurrency: 4,
      backoffMaxMs: 30_000,
      onError: (key, error) => this.#log.warn("reconcile failed; retrying", { object: key, error }),
    });
    this.#events = new EventRecorder(t, {
      component: "swh-agent",
      instance: opts.nodeName,
      // Transitions are real changes: a flap minutes after the last one must be reported again. Bursts are
      // bounded by the token bucket in #recordTransition, not by de-duplication.
      dedupeWindowMs: 1_000,
      onError: (error) => this.#log.debug("event not recorded", { error }),
    });
    this.#subscribe();
  }

  /** True once every cache holds its initial list and the first reconcile of every SWH ran. */
  get ready(): boolean {
    return this.#synced;
  }

  /** Why the agent is not ready, or undefined (for /readyz). */
  readiness(): string | undefined {
    if (this.#synced) return undefined;
    const waiting = [
      ["servicewithhealthchecks", this.#swhs],
      ["pods", this.#pods],
      ["secrets", this.#secrets],
      ["endpointslices", this.#slices],
    ].filter(([, i]) => !(i as Informer<KubeObject>).hasSynced).map(([n]) => n);
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
    const informers = [this.#swhs, this.#pods, this.#secrets, this.#slices] as Informer<KubeObject>[];
    this.#informersDone = Promise.all(informers.map((i) => i.start(signal)));
    await Promise.all(informers.map((i) => i.synced));
    this.#adoptExistingSlices();
    this.#synced = true;
    for (const swh of this.#swhs.list()) this.#queue.add(keyOf(swh));
    for (const k of this.#known.values()) this.#queue.add(`${k.namespace}/${k.service}`);
    this.#queueDone = this.#queue.run(
      async (key) =>
        (await (key.startsWith(STATUS_PREFIX)
          ? this.#writeStatus(key.slice(STATUS_PREFIX.length))
          : this.#reconcile(key))) ?? {},
      signal,
    );
    await this.#queue.idle();
    this.#log.info("agent started", {
      swhs: this.#swhs.size,
      pods: this.#pods.size,
      slices: this.#known.size,
      adopted: this.#seeds.size,
    });
  }

  /** Stops watching and probing; waits for writes in flight. Leaves slices in place (a restart adopts them). */
  async stop(): Promise<void> {
    this.#abort.abort(new DOMException("agent stopped", "AbortError"));
    await this.#queueDone;
    await this.#scheduler.close();
    await this.#informersDone?.catch(() => {});
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

  // ---- cache events -------------------------------------------------------------------------------------

  #subscribe(): void {
    this.#swhs.subscribe((e) => {
      if (this.#synced) this.#queue.add(keyOf(e.object));
    });
    this.#pods.subscribe((e) => {
      if (!this.#synced) return;
      // A pod concerns the SWHs of its namespace; reconciling one that does not select it is a cheap no-op.
      const ns = e.object.metadata?.namespace;
      for (const swh of this.#swhs.list()) {
        if (swh.metadata?.namespace === ns) this.#queue.add(keyOf(swh), this.#debounce());
      }
    });
    this.#secrets.subscribe(() => {
      if (!this.#synced) return;
      for (const swh of this.#swhs.list()) {
        if (JSON.stringify(swh.spec ?? {}).includes('"PostgreSQL"')) {
          this.#queue.add(keyOf(swh), this.#debounce());
        }
      }
    });
    this.#slices.subscribe((e) => {
      const slice = e.object;
      const key = `${slice.metadata?.namespace}/${slice.metadata?.name}`;
      const rv = rvOf(slice);
      const cur = this.#known.get(key);
      if (e.type === "delete") {
        if (cur && cur.rv <= rv) this.#known.delete(key);
      } else {
        if (cur && cur.rv >= rv) return; // our own write, already recorded, or an older state
        this.#known.set(key, {
          namespace: slice.metadata?.namespace ?? "",
          service: slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? "",
          content: sliceContent(slice),
          rv,
        });
      }
      // Someone else changed or removed one of our slices (or a relist after an outage): converge again.
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (this.#synced && service) {
        this.#queue.add(`${slice.metadata?.namespace}/${service}`, this.#debounce());
      }
    });
  }

  #debounce(): number {
    return this.#opts.debounceMs ?? 50;
  }

  /**
   * Restart without flaps: every endpoint our slices publish as serving is seeded healthy, so the scheduler
   * keeps it until `failureThreshold` probes fail, and the first reconcile reproduces the slices unchanged.
   */
  #adoptExistingSlices(): void {
    for (const slice of this.#slices.list()) {
      const ns = slice.metadata?.namespace ?? "";
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? "";
      this.#known.set(`${ns}/${slice.metadata?.name}`, {
        namespace: ns,
        service,
        content: sliceContent(slice),
        rv: rvOf(slice),
      });
      for (const ep of slice.endpoints ?? []) {
        const uid = ep.targetRef?.uid;
        if (!uid || ep.conditions?.serving === false) continue;
        for (const ip of ep.addresses) this.#seeds.add(schedulerKey(`${ns}/${service}`, `${uid}/${ip}`));
      }
    }
  }

  // ---- probes -------------------------------------------------------------------------------------------

  #onHealthChange(change: HealthChange): void {
    const [swhKey, epKey] = splitSchedulerKey(change.endpoint);
    if (change.endpointChanged) {
      this.metrics.transitions.inc({ to: change.endpointHealthy ? "healthy" : "unhealthy" });
      this.#recordTransition(swhKey, epKey, change);
    }
    this.#queue.add(swhKey, this.#debounce());
  }

  #onProbeResult(c: ProbeCompletion): void {
    const [swhKey] = splitSchedulerKey(c.endpoint);
    const mode = this.#runtimes.get(swhKey)?.swh?.spec.healthcheck.probes[Number(c.probe)]?.mode ?? "unknown";
    this.metrics.probes.inc({ mode, result: c.result.ok ? "success" : "failure" });
    this.metrics.probeSeconds.observe({ mode }, c.result.durationMs / 1000);
    // The scheduler reports verdict changes only, but status explains *why* an endpoint fails: a new reason
    // (NotYetProbed → NoCredentials → QueryFalse) while it stays unhealthy must reach status too. Messages alone
    // (durations, addresses) do not trigger a write, so a steadily failing probe costs nothing.
    const code = (r: ProbeResult | undefined) => r?.ok ? "" : failureReasonCode(r);
    if (code(c.result) !== code(c.previous)) this.#queue.add(swhKey, this.#debounce());
  }

  #recordTransition(swhKey: string, epKey: string, change: HealthChange): void {
    const rt = this.#runtimes.get(swhKey);
    const swh = rt?.swh;
    if (!swh) return;
    // Token bucket: a node-wide outage flips every endpoint at once; a few Events tell the story.
    const now = performance.now();
    const rate = this.#opts.eventsPerSecond ?? 2;
    this.#eventTokens = Math.min(20, this.#eventTokens + ((now - this.#eventRefillAt) / 1000) * rate);
    this.#eventRefillAt = now;
    if (this.#eventTokens < 1) {
      this.metrics.eventsDropped.inc();
      return;
    }
    this.#eventTokens--;
    const ep = rt.endpoints.find((e) => e.key === epKey);
    const who = ep ? `pod ${ep.podName} (${ep.ip})` : epKey;
    const message = change.endpointHealthy
      ? `${who} passes all probes on node ${this.node}: published`
      : `${who} fails probe ${change.failingProbes.join(", ")} on node ${this.node}` +
        (change.result ? ` (${change.result.reason})` : "") + ": withdrawn";
    this.#events.record(
      { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: swh.metadata },
      change.endpointHealthy ? "Normal" : "Warning",
      change.endpointHealthy ? "EndpointHealthy" : "EndpointUnhealthy",
      message,
    );
  }

  /** This node's status entries for one SWH as they are now (kept timestamps where nothing changed). */
  #statusEntriesNow(key: string, swh: ServiceWithHealthchecks, rt: SwhRuntime): SwhEndpointStatus[] {
    return statusEntries(
      swh,
      this.node,
      rt.endpoints,
      (epKey) => this.#verdict(key, epKey),
      rt.statusEntries,
      new Date(),
    );
  }

  #verdict(swhKey: string, epKey: string): EndpointVerdict | undefined {
    const h = this.#scheduler.health(schedulerKey(swhKey, epKey));
    if (!h) return undefined;
    const failing = Object.entries(h.probes).filter(([, s]) => !s.healthy).map(([name, s]) => ({
      index: Number(name),
      reason: failureReasonCode(s.last),
      message: s.last?.reason ?? "not probed yet",
    }));
    return { healthy: h.healthy, failing };
  }

  // ---- reconcile ----------------------------------------------------------------------------------------

  #runtime(key: string): SwhRuntime {
    let rt = this.#runtimes.get(key);
    if (!rt) {
      rt = {
        endpoints: [],
        scheduled: new Map(),
        lastSliceWriteAt: -Infinity,
        statusEntries: [],
        lastStatusWriteAt: -Infinity,
      };
      this.#runtimes.set(key, rt);
    }
    return rt;
  }

  /** Brings the scheduler, slices and (scheduled) status of one SWH in line with the caches. */
  async #reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const [ns, name] = splitKey(key);
    const raw = this.#swhs.get(ns, name);
    if (!raw || raw.metadata?.deletionTimestamp) return await this.#teardown(key, ns, name);
    const rt = this.#runtime(key);
    if (rt.parsedRv !== raw.metadata?.resourceVersion) {
      const parsed = validateSwh(raw);
      rt.parsedRv = raw.metadata?.resourceVersion;
      if (!parsed.ok) {
        // Admission should have refused it; leave what is published alone rather than guess.
        this.#log.warn("invalid ServiceWithHealthchecks ignored", {
          object: key,
          errors: formatSwhErrors(parsed.errors),
        });
        rt.swh = undefined;
        return;
      }
      rt.swh = parsed.value;
      if (rt.statusApplied === undefined) {
        // First sight (e.g. after a restart): what this node wrote before is the baseline, not a change.
        rt.statusEntries = (raw.status?.endpoints ?? []).filter((e) => e.node === this.node);
        rt.statusApplied = entriesContent(rt.statusEntries);
      }
    }
    const swh = rt.swh;
    if (!swh) return;

    // 1. Endpoints and probing.
    const pods = this.#pods.list().filter((p) => p.metadata?.namespace === ns);
    rt.endpoints = selectEndpoints(swh, pods, this.node);
    const podsByUid = new Map(pods.map((p) => [p.metadata?.uid ?? "", p]));
    const opNs = this.#opts.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
    const secretLookup = (secretName: string) => this.#secrets.get(opNs, secretName);
    const seen = new Set<string>();
    for (const ep of rt.endpoints) {
      seen.add(ep.key);
      const probes = scheduledProbes(swh, podsByUid.get(ep.podUid)!, secretLookup);
      const config = JSON.stringify([ep.ip, probes]);
      if (rt.scheduled.get(ep.key) === config) continue;
      const sk = schedulerKey(key, ep.key);
      const seedHealthy = this.#seeds.delete(sk);
      this.#scheduler.set(sk, { ip: ep.ip, probes, seedHealthy });
      rt.scheduled.set(ep.key, config);
    }
    for (const epKey of [...rt.scheduled.keys()]) {
      if (seen.has(epKey)) continue;
      this.#scheduler.remove(schedulerKey(key, epKey));
      rt.scheduled.delete(epKey);
    }
    const healthy = (epKey: string) => this.#scheduler.health(schedulerKey(key, epKey))?.healthy ?? false;
    const metricLabels = { swh: key };
    this.metrics.endpointsTotal.set(metricLabels, rt.endpoints.length);
    this.metrics.endpointsHealthy.set(metricLabels, rt.endpoints.filter((e) => healthy(e.key)).length);

    // 2. Status entries: compare now, write at most once per period.
    const entries = this.#statusEntriesNow(key, swh, rt);
    if (entriesContent(entries) !== rt.statusApplied) {
      const periodMs = swh.spec.healthcheck.periodSeconds * 1000;
      const wait = Math.max(this.#debounce(), rt.lastStatusWriteAt + periodMs - performance.now());
      this.#queue.add(STATUS_PREFIX + key, wait);
    }

    // 3. Slices.
    const desired = desiredSlices(swh, this.node, rt.endpoints, healthy);
    const changes = this.#sliceChanges(ns, name, desired);
    if (changes.apply.length === 0 && changes.remove.length === 0) return;
    const wait = rt.lastSliceWriteAt + (this.#opts.minWriteIntervalMs ?? 200) - performance.now();
    if (wait > 0) return { requeueAfterMs: wait };
    rt.lastSliceWriteAt = performance.now();
    await this.#writeSlices(key, changes);
  }

  #sliceChanges(ns: string, service: string, desired: SliceBody[]): { apply: SliceBody[]; remove: string[] } {
    const apply = desired.filter((d) =>
      this.#known.get(`${ns}/${d.metadata.name}`)?.content !== sliceContent(d)
    );
    const wanted = new Set(desired.map((d) => d.metadata.name));
    const remove: string[] = [];
    for (const [k, known] of this.#known) {
      if (known.namespace !== ns || known.service !== service) continue;
      const sliceName = k.slice(ns.length + 1);
      if (!wanted.has(sliceName)) remove.push(sliceName);
    }
    return { apply, remove };
  }

  async #writeSlices(key: string, changes: { apply: SliceBody[]; remove: string[] }): Promise<void> {
    const [ns] = splitKey(key);
    for (const body of changes.apply) {
      const applied = await this.#sliceApi.apply(body, { fieldManager: this.#fieldManager, force: true });
      const k = `${ns}/${body.metadata.name}`;
      const rv = rvOf(applied);
      const cur = this.#known.get(k);
      if (!cur || cur.rv <= rv) {
        this.#known.set(k, {
          namespace: ns,
          service: body.metadata.labels?.[SERVICE_NAME_LABEL] ?? "",
          content: sliceContent(applied),
          rv,
        });
      }
      this.#log.debug("slice applied", { object: k, endpoints: body.endpoints.length });
    }
    for (const sliceName of changes.remove) {
      try {
        await Api.namespaced(this.#transport, EndpointSlices, ns).delete(sliceName);
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
      this.#known.delete(`${ns}/${sliceName}`);
      this.#log.debug("empty slice deleted", { object: `${ns}/${sliceName}` });
    }
  }

  /** The SWH is gone: stop probing its endpoints and delete our slices (garbage collection would too). */
  async #teardown(key: string, ns: string, name: string): Promise<void> {
    const rt = this.#runtimes.get(key);
    if (rt) {
      for (const epKey of rt.scheduled.keys()) this.#scheduler.remove(schedulerKey(key, epKey));
      this.#runtimes.delete(key);
      this.metrics.endpointsTotal.delete({ swh: key });
      this.metrics.endpointsHealthy.delete({ swh: key });
    }
    const changes = this.#sliceChanges(ns, name, []);
    if (changes.remove.length > 0) await this.#writeSlices(key, changes);
  }

  /** Applies this node's status entries of one SWH if they differ from what was last written. */
  async #writeStatus(key: string): Promise<{ requeueAfterMs: number } | void> {
    const rt = this.#runtimes.get(key);
    const swh = rt?.swh;
    if (!rt || !swh) return;
    const periodMs = swh.spec.healthcheck.periodSeconds * 1000;
    const wait = rt.lastStatusWriteAt + periodMs - performance.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const entries = this.#statusEntriesNow(key, swh, rt);
    const content = entriesContent(entries);
    if (content === rt.statusApplied) return;
    rt.lastStatusWriteAt = performance.now();
    try {
      await this.#swhApi.applyStatus({
        apiVersion: SWH_API_VERSION,
        kind: SWH_KIND,
        metadata: { name: swh.metadata.name, namespace: swh.metadata.namespace },
        status: { endpoints: entries },
      }, { fieldManager: this.#fieldManager, force: true });
    } catch (err) {
      if (isApiError(err, 404)) return; // deleted meanwhile; the SWH watch tears down
      throw err;
    }
    rt.statusApplied = content;
    rt.statusEntries = entries;
  }
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Scheduler key of an endpoint of an SWH: `ns/name|uid/ip` (neither part contains `|`). */
function schedulerKey(swhKey: string, epKey: string): string {
  return `${swhKey}|${epKey}`;
}

function splitSchedulerKey(key: string): [string, string] {
  const i = key.indexOf("|");
  return [key.slice(0, i), key.slice(i + 1)];
}
