/** What one node reports about one ServiceWithHealthchecks's pods (crds/report.ts): a pure function. */
import { metaTime as timestamp } from "../kube/time.ts";
import type { ServiceWithHealthchecks, SwhEndpointStatus, SwhFailingProbe } from "../crds/schema.ts";
import type { SelectedEndpoint } from "./endpoints.ts";

/** A probe of an endpoint whose latest result failed, or that has not passed yet. */
export interface FailingProbe {
  /** Index in `spec.healthcheck.probes`. */
  readonly index: number;
  /** CamelCase reason (NotYetProbed when it never ran). */
  readonly reason: string;
  /** The failure's text. */
  readonly message: string;
  /** Failures in a row. */
  readonly consecutiveFailures: number;
}

/** What the agent knows about one endpoint's probes. */
export interface EndpointVerdict {
  /** All probes pass (the endpoint is published). */
  readonly healthy: boolean;
  /** Probes that fail now, including those still below their failureThreshold on a healthy endpoint. */
  readonly failing: readonly FailingProbe[];
  /** Never probed yet and new: not worth a report (it will most likely pass within a second). */
  readonly pending?: boolean;
  /** When `healthy` last changed (wall clock), if known. */
  readonly since?: Date;
}

const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * Entries for the pods on `node` that are not ready or have a failing probe; pods that pass everything are
 * left out (their slice says so), and so are pods whose every address is still `pending` — unless `previous`
 * has an entry for them, which is kept as it was. A dual-stack pod's
 * addresses make one entry: ready when every address passes every probe; failing probes listed once per index
 * (first address that fails wins). `lastTransitionTime` is kept from `previous` (this node's last report) while
 * `ready` is unchanged, else taken from the verdict's `since` (or `now`). Sorted by pod name.
 */
export function reportEntries(
  swh: ServiceWithHealthchecks,
  node: string,
  endpoints: readonly SelectedEndpoint[],
  verdict: (key: string) => EndpointVerdict | undefined,
  previous: readonly SwhEndpointStatus[],
  now: Date,
): SwhEndpointStatus[] {
  const probes = swh.spec.healthcheck.probes;
  const byPod = new Map<string, SelectedEndpoint[]>();
  for (const ep of endpoints) {
    const list = byPod.get(ep.podName);
    if (list) list.push(ep);
    else byPod.set(ep.podName, [ep]);
  }
  const prev = new Map(previous.map((e) => [e.pod, e]));
  const out: SwhEndpointStatus[] = [];
  for (const [pod, eps] of byPod) {
    const verdicts = eps.map((ep) => verdict(ep.key));
    if (verdicts.every((v) => !v || v.pending)) {
      // Not probed yet: what this node reported before stands (an agent restart rewrites nothing).
      const before = prev.get(pod);
      if (before) out.push(before);
      continue;
    }
    let ready = true;
    let since: Date | undefined;
    const failing = new Map<number, SwhFailingProbe>();
    for (const v of verdicts) {
      if (!v) {
        ready = false;
        continue;
      }
      if (!v.healthy) ready = false;
      if (v.since && (!since || v.since > since)) since = v.since;
      for (const f of v.failing) {
        if (failing.has(f.index) || !probes[f.index]) continue;
        failing.set(f.index, {
          index: f.index,
          mode: probes[f.index].mode,
          reason: REASON.test(f.reason) && f.reason.length <= 64 ? f.reason : "ProbeFailed",
          ...(f.message ? { message: f.message.slice(0, 1024) } : {}),
          consecutiveFailures: f.consecutiveFailures,
        });
      }
    }
    if (ready && failing.size === 0) continue;
    const before = prev.get(pod);
    out.push({
      pod,
      node,
      addresses: eps.map((e) => e.ip),
      ready,
      terminating: eps.some((e) => e.terminating),
      ...(failing.size > 0 ? { failingProbes: [...failing.values()].sort((a, b) => a.index - b.index) } : {}),
      lastTransitionTime: before && before.ready === ready && before.lastTransitionTime
        ? before.lastTransitionTime
        : timestamp(since ?? now),
    });
  }
  return out.sort((a, b) => a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0);
}
