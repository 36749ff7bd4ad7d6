/**
 * Reconciles one ServiceWithHealthchecks on this node: which pods it selects, which probes run against them,
 * and what the node publishes (EndpointSlices first, then the node report), from the caches and the probe
 * verdicts. Idempotent: the reason it runs is not passed on purpose.
 *
 * @module
 */
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { importOnce } from "../ops/import_once.ts";
import type { Logger } from "../ops/log.ts";
import type { HealthChange, Scheduler } from "../probes/scheduler.ts";
import { serviceNote, ZONE_LABEL } from "./caches.ts";
import type { AgentCaches, ServiceNote, SwhObject } from "./caches.ts";
import { desiredSlices } from "./desired_slices.ts";
import { selectEndpoints, unvalidatedSelectorMaySelect } from "./endpoints.ts";
import type { SelectedEndpoint } from "./endpoints.ts";
import type { AgentMetrics } from "./metrics.ts";
import { failureReasonCode, scheduledProbes } from "./probe_specs.ts";
import { reportEntries } from "./report_entries.ts";
import type { EndpointVerdict } from "./report_entries.ts";
import type { ReportWriter } from "./report_writer.ts";
import type { SliceWriter } from "./slice_writer.ts";
import { specAcceptance } from "./spec_acceptance.ts";
import type { TransitionReporter } from "./transitions.ts";

/**
 * The SWH validator (zod and the schema: ~10 MiB resident, bench/memory.ts `modules`), imported only when a spec
 * the controller has not accepted must be judged here (agent/spec_acceptance.ts): with a current controller, an
 * agent that restarts while it lags or refuses the newest spec. A failed import is retried on the next
 * reconcile.
 */
const loadValidator = importOnce(() => import("../crds/validate.ts"));

/**
 * Whether `raw` (as stored, not validated) may select one of `pods` on `node`. A selector that is not a map of
 * strings answers yes, so that validation gets to name the problem.
 */
function mayHaveEndpointsHere(raw: SwhObject, pods: readonly IPod[], node: string): boolean {
  const selector: unknown = (raw.spec as { selector?: unknown } | undefined)?.selector;
  return selector !== undefined &&
    unvalidatedSelectorMaySelect(raw.metadata?.namespace, selector, pods, node);
}

/** How long a never-probed endpoint stays out of reports: it will most likely pass within a second. */
export const PENDING_GRACE_MS = 3_000;

/** Scheduler key of an endpoint of an SWH: `ns/name|uid/ip` (neither part contains `|`). */
export function schedulerKey(swhKey: string, epKey: string): string {
  return `${swhKey}|${epKey}`;
}

/** The SWH key and endpoint key of a scheduler key. */
export function splitSchedulerKey(key: string): [string, string] {
  const i = key.indexOf("|");
  return [key.slice(0, i), key.slice(i + 1)];
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Per-SWH state kept between reconciles. */
interface SwhRuntime {
  swh?: ServiceWithHealthchecks;
  /** `uid/generation` that `swh` was parsed from: the spec changes only with these. */
  parsed?: string;
  endpoints: SelectedEndpoint[];
  /** Scheduled endpoints by endpoint key → their configuration text (to call `set` only on change). */
  scheduled: Map<string, string>;
  /** The last two verdict changes of each endpoint (performance.now times), to tell flapping. */
  transitions: Map<string, [number, number]>;
}

/** What the reconciler works with. */
export interface ReconcilerDeps {
  readonly node: string;
  readonly operatorNamespace: string;
  readonly caches: AgentCaches;
  readonly scheduler: Scheduler;
  readonly slices: SliceWriter;
  readonly reports: ReportWriter;
  readonly transitions: TransitionReporter;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Least time between two writes of one slice (see agent/slice_writer.ts). */
  readonly minWriteIntervalMs: number;
}

/** Per-SWH reconcile and the bookkeeping it needs (see the module docs). */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #runtimes = new Map<string, SwhRuntime>();
  /** Endpoints the slices published when the agent started: seeded healthy when first scheduled. */
  readonly #seeds = new Set<string>();

  /** A reconciler over `deps`. */
  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  /** Endpoints to start healthy (what the node's slices publish at start-up): a restart withdraws nothing. */
  seed(swhKey: string, epKey: string): void {
    this.#seeds.add(schedulerKey(swhKey, epKey));
  }

  /** Metric labels of probe `name` of SWH `swhKey`: the SWH's namespace and name, and the probe's mode. */
  probeLabels(swhKey: string, probe: string): { namespace: string; name: string; mode: string } {
    const [namespace, name] = splitKey(swhKey);
    const mode = this.#runtimes.get(swhKey)?.swh?.spec.healthcheck.probes[Number(probe)]?.mode ?? "unknown";
    return { namespace, name, mode };
  }

  /** Records a verdict change from the scheduler (flap detection, logs, Events). */
  recordChange(change: HealthChange): void {
    if (!change.endpointChanged) return;
    const [swhKey, epKey] = splitSchedulerKey(change.endpoint);
    const rt = this.#runtimes.get(swhKey);
    this.#d.metrics.transitions.inc({ to: change.endpointHealthy ? "healthy" : "unhealthy" });
    if (!rt?.swh) return;
    const previous = rt.transitions.get(epKey);
    rt.transitions.set(epKey, [previous?.[1] ?? -Infinity, performance.now()]);
    this.#d.transitions.report({
      first: previous === undefined,
      swh: rt.swh,
      endpoint: rt.endpoints.find((e) => e.key === epKey),
      key: epKey,
      healthy: change.endpointHealthy,
      failingProbes: change.failingProbes,
      result: change.result,
    });
  }

  /** Sets `rt.swh` from the stored `raw` as {@link specAcceptance} decides (see agent/spec_acceptance.ts). */
  async #takeSpec(
    key: string,
    rt: SwhRuntime,
    raw: SwhObject,
    note: ServiceNote | undefined,
    parsedFrom: string,
  ): Promise<void> {
    const uid = raw.metadata?.uid;
    const generation = raw.metadata?.generation;
    const acceptance = specAcceptance(uid, generation, note, rt.swh?.metadata.uid === uid);
    if (acceptance === "accepted") {
      rt.parsed = parsedFrom;
      rt.swh = { ...raw, status: undefined } as unknown as ServiceWithHealthchecks;
      return;
    }
    if (acceptance === "keep") {
      rt.parsed = parsedFrom;
      this.#d.log.debug("spec not accepted by the controller yet: serving by the accepted one", {
        object: key,
        generation,
        noted: note?.generation,
        kept: rt.swh?.metadata.generation,
      });
      return;
    }
    const { formatSwhErrors, validateSwh } = await loadValidator();
    rt.parsed = parsedFrom;
    const parsed = validateSwh({ ...raw, status: undefined });
    if (!parsed.ok) {
      // Admission should have refused it (the controller reports InvalidSpec with these errors). Keep serving
      // by the last valid spec — probes go on, so a dead pod still leaves — or, with none known (a restart),
      // leave what is published alone: a configuration slip must not become an outage.
      this.#d.log.warn("invalid ServiceWithHealthchecks: keeping the last valid spec", {
        object: key,
        generation,
        kept: rt.swh?.metadata.generation ?? "none",
        errors: formatSwhErrors(parsed.errors),
      });
    } else rt.swh = parsed.value;
  }

  /**
   * Brings probing, slices and the report of SWH `key` in line with the caches and verdicts. Returns
   * milliseconds after which to run again (a held-back write, a pending endpoint's grace), or undefined.
   */
  async reconcile(key: string): Promise<number | undefined> {
    const [ns, name] = splitKey(key);
    const raw = this.#d.caches.swhs.get(ns, name);
    if (!raw || raw.metadata?.deletionTimestamp) return await this.#teardown(key, ns, name);
    const pods = this.#d.caches.pods.list().filter((p) => p.metadata?.namespace === ns);
    const note = serviceNote(this.#d.caches.services.get(ns, name));
    // The spec is decided anew only when the object or the controller's note of it changes.
    const parsedFrom = `${raw.metadata?.uid}/${raw.metadata?.generation}/${note?.uid}/${note?.generation}/${
      note?.defaultsMissing ?? false
    }`;
    const known = this.#runtimes.get(key);
    if (known?.parsed !== parsedFrom) {
      if (!known?.swh && !mayHaveEndpointsHere(raw, pods, this.#d.node)) {
        // Never had endpoints here and has none now (in a fleet, most SWHs on most nodes): nothing to probe and
        // no state to keep, and whatever an earlier agent left (slices, a report) goes — without parsing the
        // spec. A pod event requeues it when that changes.
        return await this.#withdraw(ns, name);
      }
    }
    const rt = this.#runtime(key);
    if (rt.parsed !== parsedFrom) await this.#takeSpec(key, rt, raw, note, parsedFrom);
    const swh = rt.swh;
    if (!swh) return;
    const periodMs = swh.spec.healthcheck.periodSeconds * 1000;

    // 1. Endpoints and probing.
    rt.endpoints = selectEndpoints(swh, pods, this.#d.node);
    this.#schedule(key, swh, rt, pods);
    const healthy = (epKey: string) => this.#d.scheduler.health(schedulerKey(key, epKey))?.healthy ?? false;
    // Bounded series: per-SWH gauges only for SWHs with endpoints on this node.
    const labels = { namespace: ns, name };
    if (rt.endpoints.length > 0) {
      this.#d.metrics.endpointsTotal.set(labels, rt.endpoints.length);
      this.#d.metrics.specGeneration.set(labels, swh.metadata.generation ?? 0);
      this.#d.metrics.endpointsHealthy.set(labels, rt.endpoints.filter((e) => healthy(e.key)).length);
      for (const mode of new Set(swh.spec.healthcheck.probes.map((p) => p.mode))) {
        for (const result of ["success", "failure"]) this.#d.metrics.probes.init({ ...labels, mode, result });
      }
    } else this.#forgetSeries(ns, name);

    // 2. Slices first: the report (and so the status) never claims what the slices do not publish yet.
    const now = performance.now();
    const flapping = (epKey: string) => {
      const t = rt.transitions.get(epKey);
      return !!t && now - t[1] < periodMs && t[1] - t[0] < 2 * periodMs;
    };
    // A slice names its Service (kube-proxy follows the label): only a Service this SWH owns may get any — a
    // same-named Service someone else made (refused by the controller) gets none, and loses what it had.
    const service = this.#d.caches.services.get(ns, name);
    const owned = (service?.metadata?.ownerReferences ?? []).some((o) => o.uid === swh.metadata.uid);
    const sliceRetry = await this.#d.slices.sync(
      ns,
      name,
      owned ? desiredSlices(swh, this.#d.node, rt.endpoints, healthy, this.#zone()) : [],
      { periodMs, minIntervalMs: this.#d.minWriteIntervalMs, flapping: owned ? flapping : () => false },
    );

    // 3. The report.
    let pendingRetry: number | undefined;
    const verdict = (epKey: string): EndpointVerdict | undefined => {
      const v = this.#verdict(key, epKey, now);
      if (v?.pending) pendingRetry = Math.min(pendingRetry ?? Infinity, v.pendingForMs);
      return v;
    };
    const entries = reportEntries(
      swh,
      this.#d.node,
      rt.endpoints,
      verdict,
      this.#d.reports.previous(ns, name),
      new Date(),
    );
    const reportRetry = await this.#d.reports.sync(
      { namespace: ns, name, uid: swh.metadata.uid ?? "", generation: swh.metadata.generation },
      entries,
      periodMs,
    );
    const retries = [sliceRetry, reportRetry, pendingRetry].filter((r): r is number => r !== undefined);
    return retries.length ? Math.max(1, Math.min(...retries)) : undefined;
  }

  /** Drops the per-SWH series of an SWH without endpoints here (or gone). */
  #forgetSeries(namespace: string, name: string): void {
    const labels = { namespace, name };
    this.#d.metrics.endpointsTotal.delete(labels);
    this.#d.metrics.specGeneration.delete(labels);
    this.#d.metrics.endpointsHealthy.delete(labels);
    this.#d.metrics.probes.deleteMatching(labels);
  }

  /** This node's zone, from its Node's well-known label (for endpoint zones and topology hints). */
  #zone(): string | undefined {
    return this.#d.caches.node.get(undefined, this.#d.node)?.metadata?.labels?.[ZONE_LABEL];
  }

  #runtime(key: string): SwhRuntime {
    let rt = this.#runtimes.get(key);
    if (!rt) {
      rt = { endpoints: [], scheduled: new Map(), transitions: new Map() };
      this.#runtimes.set(key, rt);
    }
    return rt;
  }

  /** Schedules the selected endpoints' probes (only where their configuration changed) and drops the rest. */
  #schedule(key: string, swh: ServiceWithHealthchecks, rt: SwhRuntime, pods: IPod[]): void {
    const podsByUid = new Map(pods.map((p) => [p.metadata?.uid ?? "", p]));
    const secretLookup = (secretName: string) =>
      this.#d.caches.secrets.get(this.#d.operatorNamespace, secretName);
    const seen = new Set<string>();
    for (const ep of rt.endpoints) {
      seen.add(ep.key);
      const probes = scheduledProbes(swh, podsByUid.get(ep.podUid)!, secretLookup);
      const config = JSON.stringify([ep.ip, probes]);
      if (rt.scheduled.get(ep.key) === config) continue;
      const sk = schedulerKey(key, ep.key);
      this.#d.scheduler.set(sk, { ip: ep.ip, probes, seedHealthy: this.#seeds.delete(sk) });
      rt.scheduled.set(ep.key, config);
    }
    for (const epKey of [...rt.scheduled.keys()]) {
      if (seen.has(epKey)) continue;
      this.#d.scheduler.remove(schedulerKey(key, epKey));
      rt.scheduled.delete(epKey);
      rt.transitions.delete(epKey);
    }
  }

  /** One endpoint's verdict for its report entry, from the scheduler's per-probe states. */
  #verdict(
    swhKey: string,
    epKey: string,
    now: number,
  ): (EndpointVerdict & { pendingForMs: number }) | undefined {
    const h = this.#d.scheduler.health(schedulerKey(swhKey, epKey));
    if (!h) return undefined;
    const states = Object.entries(h.probes);
    const failing = states.filter(([, s]) => !s.healthy || s.failures > 0).map(([name, s]) => {
      const reason = failureReasonCode(s.last);
      const text = s.last?.reason ?? "not probed yet";
      // Configuration errors carry their reason in front ("NoCredentials: …"): say it once.
      const message = text.startsWith(`${reason}: `) ? text.slice(reason.length + 2) : text;
      return { index: Number(name), reason, message, consecutiveFailures: s.failures };
    });
    const started = Math.min(...states.map(([, s]) => s.sinceMs));
    const neverProbed = !h.healthy && states.every(([, s]) => !s.last);
    const pendingForMs = started + PENDING_GRACE_MS - now;
    const changedAt = h.healthy
      ? Math.max(...states.map(([, s]) => s.sinceMs))
      : Math.min(...states.filter(([, s]) => !s.healthy).map(([, s]) => s.sinceMs));
    return {
      healthy: h.healthy,
      failing,
      pending: neverProbed && pendingForMs > 0,
      pendingForMs,
      since: new Date(Date.now() - (now - changedAt)),
    };
  }

  /** The SWH is gone: stop probing its endpoints, delete our slices and our report. */
  async #teardown(key: string, ns: string, name: string): Promise<undefined> {
    const rt = this.#runtimes.get(key);
    if (rt) {
      for (const epKey of rt.scheduled.keys()) this.#d.scheduler.remove(schedulerKey(key, epKey));
      this.#runtimes.delete(key);
      this.#forgetSeries(ns, name);
    }
    return await this.#withdraw(ns, name);
  }

  /** Deletes this node's slices and report of SWH `ns/name`. */
  async #withdraw(ns: string, name: string): Promise<undefined> {
    await this.#d.slices.sync(ns, name, [], { periodMs: 0, minIntervalMs: 0, flapping: () => false });
    await this.#d.reports.remove(ns, name);
    return undefined;
  }
}
