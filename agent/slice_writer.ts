/**
 * Writes one node's EndpointSlices: compares what should exist with what the apiserver holds (the slice cache
 * plus our own apply responses) and applies or deletes only what differs, with flap damping.
 *
 * Flap damping: a slice is written at most once per probe period while the only endpoints whose state changed
 * are flapping ones (their previous transition was less than two periods before the latest), so a backend that
 * passes and fails on alternate probes costs one write per period instead of one per probe. Any other change —
 * the first withdrawal of a healthy endpoint, a new pod, a deleted pod — is written at once, or, in a burst
 * (a node-wide outage flipping every endpoint within one period), at most once per `minIntervalMs`.
 *
 * RBAC: create/patch/delete endpointslices in the SWHs' namespaces.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { SERVICE_NAME_LABEL } from "../crds/conventions.ts";
import { Api, EndpointSlices, isApiError } from "../kube/mod.ts";
import type { InformerEvent, KubeTransport } from "../kube/mod.ts";
import type { Logger } from "../ops/log.ts";
import { sliceContent } from "./desired_slices.ts";
import type { SliceBody } from "./desired_slices.ts";
import { endpointKey } from "./endpoints.ts";

/** What we know one of our slices holds on the apiserver. */
interface KnownSlice {
  readonly namespace: string;
  /** Its `kubernetes.io/service-name` (the SWH name). */
  readonly service: string;
  /** {@link sliceContent} of it. */
  readonly content: string;
  /** Each endpoint's content by endpoint key (pod uid/IP), to tell which endpoints a change touches. */
  readonly endpoints: ReadonlyMap<string, string>;
  readonly rv: bigint;
}

/** An endpoint published in a slice the agent found at start-up (a restart adopts these as healthy). */
export interface PublishedEndpoint {
  /** `namespace/name` of the SWH. */
  readonly swh: string;
  /** Endpoint key (pod uid/IP). */
  readonly endpoint: string;
}

/** What {@link SliceWriter.sync} needs besides the desired slices. */
export interface SyncPolicy {
  /** The SWH's probe period: the damping interval. */
  readonly periodMs: number;
  /** Least time between two writes of one slice for any change (bursts); the first write is never delayed. */
  readonly minIntervalMs: number;
  /** Whether an endpoint is flapping (see the module docs). */
  readonly flapping: (endpointKey: string) => boolean;
}

function rvOf(obj: IEndpointSlice): bigint {
  try {
    return BigInt(obj.metadata?.resourceVersion ?? "0");
  } catch {
    return 0n;
  }
}

function endpointsOf(slice: IEndpointSlice): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of slice.endpoints ?? []) {
    const text = JSON.stringify([e.conditions ?? {}, e.targetRef?.name ?? "", e.hostname ?? "", slice.ports]);
    for (const ip of e.addresses) out.set(endpointKey(e.targetRef?.uid ?? "", ip), text);
  }
  return out;
}

function known(slice: IEndpointSlice): KnownSlice {
  return {
    namespace: slice.metadata?.namespace ?? "",
    service: slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? "",
    content: sliceContent(slice),
    endpoints: endpointsOf(slice),
    rv: rvOf(slice),
  };
}

/** Keys whose content differs between two endpoint maps. */
function changedKeys(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) out.push(k);
  for (const k of before.keys()) if (!after.has(k)) out.push(k);
  return out;
}

/** One node's slice writer (see the module docs). */
export class SliceWriter {
  readonly #transport: KubeTransport;
  readonly #fieldManager: string;
  readonly #log: Logger;
  readonly #now: () => number;
  /** By `namespace/sliceName`. */
  readonly #known = new Map<string, KnownSlice>();
  /** When we last wrote each slice (by `namespace/sliceName`), kept across its deletion. */
  readonly #writtenAt = new Map<string, number>();

  /** A writer applying as `fieldManager`. */
  constructor(opts: { transport: KubeTransport; fieldManager: string; log: Logger; now?: () => number }) {
    this.#transport = opts.transport;
    this.#fieldManager = opts.fieldManager;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Takes in the slices found at start-up; returns the endpoints they publish as serving. */
  adopt(slices: Iterable<IEndpointSlice>): PublishedEndpoint[] {
    const out: PublishedEndpoint[] = [];
    for (const slice of slices) {
      const k = known(slice);
      this.#known.set(`${k.namespace}/${slice.metadata?.name}`, k);
      for (const ep of slice.endpoints ?? []) {
        const uid = ep.targetRef?.uid;
        if (!uid || ep.conditions?.serving === false) continue;
        for (const ip of ep.addresses) {
          out.push({ swh: `${k.namespace}/${k.service}`, endpoint: endpointKey(uid, ip) });
        }
      }
    }
    return out;
  }

  /**
   * Records a watched change of one of our slices. Returns the SWH key (`namespace/name`) to reconcile when
   * the change is news — someone else changed or deleted our slice, or a relist after an outage — and undefined
   * for the echo of our own write or an older state.
   */
  observe(event: InformerEvent<IEndpointSlice>): string | undefined {
    const slice = event.object;
    const key = `${slice.metadata?.namespace}/${slice.metadata?.name}`;
    const rv = rvOf(slice);
    const cur = this.#known.get(key);
    if (event.type === "delete") {
      if (cur && cur.rv <= rv) this.#known.delete(key);
    } else {
      if (cur && cur.rv >= rv) return undefined;
      this.#known.set(key, known(slice));
    }
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    return service ? `${slice.metadata?.namespace}/${service}` : undefined;
  }

  /** Whether we hold a slice of the Service `namespace/service`. */
  publishes(namespace: string, service: string): boolean {
    for (const k of this.#known.values()) if (k.namespace === namespace && k.service === service) return true;
    return false;
  }

  /** Keys (`namespace/name`) of the SWHs we hold slices for. */
  services(): Set<string> {
    return new Set([...this.#known.values()].map((k) => `${k.namespace}/${k.service}`));
  }

  /**
   * Makes the slices of SWH `namespace/service` on this node equal `desired`: applies changed ones and deletes
   * ours that are no longer wanted, except changes of flapping endpoints only within a period of the slice's
   * last write. Returns milliseconds after which to call again for what was deferred, or undefined.
   */
  async sync(
    namespace: string,
    service: string,
    desired: readonly SliceBody[],
    policy: SyncPolicy,
  ): Promise<number | undefined> {
    const now = this.#now();
    let retryIn: number | undefined;
    const due = (key: string, before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>) => {
      const last = this.#writtenAt.get(key) ?? -Infinity;
      const onlyFlapping = changedKeys(before, after).every(policy.flapping);
      const next = last +
        (onlyFlapping ? Math.max(policy.periodMs, policy.minIntervalMs) : policy.minIntervalMs);
      if (next <= now) return true;
      retryIn = Math.min(retryIn ?? Infinity, next - now);
      return false;
    };
    const wanted = new Set<string>();
    for (const body of desired) {
      const key = `${namespace}/${body.metadata.name}`;
      wanted.add(key);
      const cur = this.#known.get(key);
      if (cur?.content === sliceContent(body)) continue;
      if (!due(key, cur?.endpoints ?? new Map(), endpointsOf(body))) continue;
      await this.#apply(key, body);
    }
    for (const [key, cur] of [...this.#known]) {
      if (cur.namespace !== namespace || cur.service !== service || wanted.has(key)) continue;
      if (!due(key, cur.endpoints, new Map())) continue;
      await this.#delete(key, cur);
    }
    return retryIn;
  }

  async #apply(key: string, body: SliceBody): Promise<void> {
    this.#writtenAt.set(key, this.#now());
    const applied = await Api.all(this.#transport, EndpointSlices).apply(body, {
      fieldManager: this.#fieldManager,
      force: true,
    });
    const cur = this.#known.get(key);
    if (!cur || cur.rv <= rvOf(applied)) this.#known.set(key, known(applied));
    this.#log.debug("slice applied", { object: key, endpoints: body.endpoints.length });
  }

  async #delete(key: string, cur: KnownSlice): Promise<void> {
    this.#writtenAt.set(key, this.#now());
    const name = key.slice(cur.namespace.length + 1);
    try {
      await Api.namespaced(this.#transport, EndpointSlices, cur.namespace).delete(name);
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
    this.#known.delete(key);
    this.#log.debug("empty slice deleted", { object: key });
  }

  /** Forgets the damping clock of slices that no longer exist and were not written for `ageMs` (memory bound). */
  prune(ageMs: number): void {
    const limit = this.#now() - ageMs;
    for (const [key, at] of this.#writtenAt) {
      if (at < limit && !this.#known.has(key)) this.#writtenAt.delete(key);
    }
  }
}
