/** This node's `status.endpoints` entries of one ServiceWithHealthchecks: a pure function. */
import type { ServiceWithHealthchecks, SwhEndpointStatus, SwhFailingProbe } from "../crds/schema.ts";
import type { SelectedEndpoint } from "./endpoints.ts";

/** What the agent knows about one endpoint's probes. */
export interface EndpointVerdict {
  /** All probes pass. */
  readonly healthy: boolean;
  /** Probes that fail now: index in `spec.healthcheck.probes`, CamelCase reason, message. */
  readonly failing: readonly { index: number; reason: string; message: string }[];
}

const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * One entry per selected pod on `node` (a dual-stack pod's addresses are one entry): ready when every address
 * passes every probe; failing probes listed once per index (first address that fails wins). A pod whose
 * verdict is unknown yet counts as not ready with reason `NotYetProbed`. `lastTransitionTime` is kept from
 * `previous` (this node's entries as last written or read back) while `ready` is unchanged, so recomputing
 * the same state gives identical entries and no write. Sorted by pod name.
 */
export function statusEntries(
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
    let ready = true;
    const failing = new Map<number, SwhFailingProbe>();
    for (const ep of eps) {
      const v = verdict(ep.key);
      if (!v) {
        ready = false;
        continue;
      }
      if (!v.healthy) ready = false;
      for (const f of v.failing) {
        if (failing.has(f.index) || !probes[f.index]) continue;
        failing.set(f.index, {
          index: f.index,
          mode: probes[f.index].mode,
          reason: REASON.test(f.reason) && f.reason.length <= 64 ? f.reason : "ProbeFailed",
          ...(f.message ? { message: f.message.slice(0, 1024) } : {}),
        });
      }
    }
    const before = prev.get(pod);
    const entry: SwhEndpointStatus = {
      pod,
      node,
      addresses: eps.map((e) => e.ip),
      ready,
      terminating: eps.some((e) => e.terminating),
      ...(failing.size > 0 ? { failingProbes: [...failing.values()].sort((a, b) => a.index - b.index) } : {}),
      lastTransitionTime: before && before.ready === ready && before.lastTransitionTime
        ? before.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, "Z"),
    };
    out.push(entry);
  }
  return out.sort((a, b) => a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0);
}

/** Canonical JSON of a set of entries, for "did anything change" comparisons. */
export function entriesContent(entries: readonly SwhEndpointStatus[]): string {
  return JSON.stringify(
    [...entries].sort((a, b) => a.pod < b.pod ? -1 : 1).map((e) => [
      e.pod,
      e.node ?? "",
      e.addresses ?? [],
      e.ready,
      e.terminating ?? false,
      (e.failingProbes ?? []).map((f) => [f.index, f.mode, f.reason, f.message ?? ""]),
      e.lastTransitionTime ?? "",
    ]),
  );
}
