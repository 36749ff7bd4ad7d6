/**
 * The per-pod view of an SWH's status, aggregated from what the agents publish: their EndpointSlices (which
 * pods receive traffic) and their node reports (which pods fail, or have started failing, and why). A pure
 * function.
 *
 * Truthful by construction: a pod counts as ready only while a slice of this SWH publishes it as serving and no
 * report says it fails — the agents write the slice before the report, so a reader of the status never sees
 * "ready" for a pod that is out of its slice.
 *
 * @module
 */
import { metaTime as timestamp } from "../kube/time.ts";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { sliceNode } from "../crds/conventions.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import type { ServiceWithHealthchecks, SwhEndpointStatus } from "../crds/schema.ts";
import { MAX_STATUS_ENDPOINTS } from "../crds/status.ts";

/** The aggregated view: entries for `status.endpoints` (capped) and the counts over every pod. */
export interface EndpointView {
  /** Not-ready pods first, then by name; at most {@link MAX_STATUS_ENDPOINTS}. */
  readonly entries: SwhEndpointStatus[];
  /** Pods published as serving and not reported failing. */
  readonly ready: number;
  /** Pods any agent published or reported. */
  readonly total: number;
  /** Pods left out of `entries` by the cap. */
  readonly omitted: number;
}

interface Published {
  node?: string;
  addresses: string[];
  serving: boolean;
  terminating: boolean;
}

/** Whether a slice or report belongs to this incarnation of the SWH (not a deleted one of the same name). */
function ownedSlice(slice: IEndpointSlice, uid: string | undefined): boolean {
  return (slice.metadata?.ownerReferences ?? []).some((o) => o.uid === uid);
}

/**
 * Aggregates `slices` (the agents' slices labelled with the SWH's name) and `reports` (the node reports about
 * it) into the status view. Objects of another incarnation (other uid) are ignored. `lastTransitionTime` is
 * kept from `previous` while `ready` is unchanged, else taken from the report, else `now`.
 */
export function aggregateEndpoints(
  swh: ServiceWithHealthchecks,
  slices: readonly IEndpointSlice[],
  reports: readonly SwhNodeReport[],
  previous: readonly SwhEndpointStatus[] | undefined,
  now: Date,
): EndpointView {
  const uid = swh.metadata.uid;
  const published = new Map<string, Published>();
  for (const slice of slices) {
    if (!ownedSlice(slice, uid)) continue;
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.name;
      if (!pod) continue;
      let p = published.get(pod);
      if (!p) {
        published.set(
          pod,
          p = {
            node: ep.nodeName ?? sliceNode(slice),
            addresses: [],
            serving: false,
            terminating: false,
          },
        );
      }
      p.addresses.push(...ep.addresses);
      p.serving ||= ep.conditions?.serving ?? ep.conditions?.ready ?? true;
      p.terminating ||= ep.conditions?.terminating ?? false;
    }
  }
  const reported = new Map<string, SwhEndpointStatus>();
  for (const report of reports) {
    if (report.swh.uid !== uid) continue;
    for (const entry of report.endpoints) {
      reported.set(entry.pod, { ...entry, node: entry.node ?? report.node });
    }
  }
  const prev = new Map((previous ?? []).map((e) => [e.pod, e]));
  const all: SwhEndpointStatus[] = [];
  for (const pod of new Set([...published.keys(), ...reported.keys()])) {
    const pub = published.get(pod);
    const rep = reported.get(pod);
    const ready = !!pub?.serving && (rep?.ready ?? true);
    const before = prev.get(pod);
    const since = before?.ready === ready && before.lastTransitionTime
      ? before.lastTransitionTime
      : rep?.ready === ready && rep.lastTransitionTime
      ? rep.lastTransitionTime
      : timestamp(now);
    all.push({
      pod,
      ...(rep?.node ?? pub?.node ? { node: rep?.node ?? pub?.node } : {}),
      addresses: [...new Set([...(rep?.addresses ?? []), ...(pub?.addresses ?? [])])].slice(0, 2),
      ready,
      terminating: rep?.terminating ?? pub?.terminating ?? false,
      ...(rep?.failingProbes?.length ? { failingProbes: rep.failingProbes } : {}),
      lastTransitionTime: since,
    });
  }
  all.sort((a, b) => Number(a.ready) - Number(b.ready) || (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  const ready = all.filter((e) => e.ready).length;
  const entries = all.slice(0, MAX_STATUS_ENDPOINTS);
  return { entries, ready, total: all.length, omitted: all.length - entries.length };
}
