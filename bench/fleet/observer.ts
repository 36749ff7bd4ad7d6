/**
 * What users of the fleet see, from the benchmark's own watches (admin credentials, independent of the operator's
 * caches): the addresses each SWH's EndpointSlices publish, its Service, its status. Records when each SWH first
 * became complete, and every address that left an SWH's slices — with whether its backend had ever been stopped,
 * so a withdrawn healthy endpoint (a flip the operator must never cause) is told apart from an expected one.
 *
 * Times are wall-clock milliseconds (`Date.now()`) at which this process saw the change, so they compare with
 * the backend process's stop times.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, SERVICE_NAME_LABEL } from "../../crds/conventions.ts";
import { SwhResource } from "../../crds/resource.ts";
import type { ServiceWithHealthchecks } from "../../crds/schema.ts";
import { Api, EndpointSlices, Informer, Services, stripManagedFields } from "../../kube/mod.ts";
import type { InformerEvent, KubeObject, KubeTransport } from "../../kube/mod.ts";

/** An address that left the published endpoints of an SWH. */
export interface Withdrawal {
  readonly swh: string;
  readonly address: string;
  /** When the watch delivered it (epoch ms). */
  readonly at: number;
  /** True when the address's backend had never been stopped: a healthy endpoint was withdrawn. */
  readonly healthy: boolean;
}

/** Addresses an EndpointSlice publishes as ready (an absent condition means ready, as for kube-proxy). */
function readyAddresses(slice: IEndpointSlice): string[] {
  return (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses);
}

/** The benchmark's watches of one namespace's slices, Services and SWHs. */
export class FleetObserver {
  /** SWH → when its slices first published all its expected addresses. */
  readonly slicesCompleteAt = new Map<string, number>();
  /** SWH → when its Service was first seen. */
  readonly serviceAt = new Map<string, number>();
  /** SWH → when its status first counted every expected endpoint ready. */
  readonly statusReadyAt = new Map<string, number>();
  /** Every withdrawal seen, in order. */
  readonly withdrawals: Withdrawal[] = [];
  /** Slice changes seen (adds, updates, deletes). */
  sliceEvents = 0;
  readonly #expected: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #stopped = new Set<string>();
  /** SWH → slice name → ready addresses. */
  readonly #slices = new Map<string, Map<string, string[]>>();
  readonly #informers: Informer<KubeObject>[];
  readonly #abort = new AbortController();
  #running: Promise<void>[] = [];

  /** `expected`: SWH name → the addresses its slices must publish when every backend is healthy. */
  constructor(
    transport: KubeTransport,
    namespace: string,
    expected: ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    this.#expected = expected;
    const slices = new Informer(Api.namespaced(transport, EndpointSlices, namespace), {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      transform: stripManagedFields,
    });
    slices.subscribe((e) => this.#onSlice(e));
    const services = new Informer(Api.namespaced(transport, Services, namespace), {
      transform: stripManagedFields,
    });
    services.subscribe((e) => {
      const name = e.object.metadata?.name ?? "";
      if (e.type !== "delete" && !this.serviceAt.has(name)) this.serviceAt.set(name, Date.now());
    });
    const swhs = new Informer(Api.namespaced(transport, SwhResource, namespace), {
      transform: stripManagedFields,
    });
    swhs.subscribe((e) => this.#onSwh(e));
    this.#informers = [slices, services, swhs] as unknown as Informer<KubeObject>[];
  }

  /** Starts the watches; resolves once all three have listed. */
  async start(): Promise<void> {
    this.#running = this.#informers.map((i) => i.start(this.#abort.signal));
    await Promise.all(this.#informers.map((i) => i.synced));
  }

  /** Stops the watches. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#running);
  }

  /** Notes that `address`'s backend is being stopped: its withdrawals are expected from now on. */
  markStopped(address: string): void {
    this.#stopped.add(address);
  }

  /** Whether `address` is currently published by SWH `swh`. */
  isPublished(swh: string, address: string): boolean {
    for (const addresses of this.#slices.get(swh)?.values() ?? []) {
      if (addresses.includes(address)) return true;
    }
    return false;
  }

  /** SWHs whose slices publish every expected address right now. */
  completeNow(): number {
    let n = 0;
    for (const [swh, want] of this.#expected) {
      const have = this.#published(swh);
      if ([...want].every((a) => have.has(a))) n++;
    }
    return n;
  }

  /** Withdrawals of healthy endpoints seen in [from, to) (epoch ms). */
  healthyWithdrawals(from: number, to = Infinity): Withdrawal[] {
    return this.withdrawals.filter((w) => w.healthy && w.at >= from && w.at < to);
  }

  /** When `address` first left SWH `swh`'s slices at or after `since`, if it has. */
  withdrawnAt(swh: string, address: string, since: number): number | undefined {
    return this.withdrawals.find((w) => w.swh === swh && w.address === address && w.at >= since)?.at;
  }

  #published(swh: string): Set<string> {
    return new Set([...(this.#slices.get(swh)?.values() ?? [])].flat());
  }

  #onSlice(e: InformerEvent<IEndpointSlice>): void {
    const now = Date.now();
    this.sliceEvents++;
    const swh = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
    const name = e.object.metadata?.name;
    if (!swh || !name) return;
    const before = this.#published(swh);
    const slices = this.#slices.get(swh) ?? new Map<string, string[]>();
    this.#slices.set(swh, slices);
    if (e.type === "delete") slices.delete(name);
    else slices.set(name, readyAddresses(e.object));
    const after = this.#published(swh);
    for (const address of before) {
      if (!after.has(address)) {
        this.withdrawals.push({ swh, address, at: now, healthy: !this.#stopped.has(address) });
      }
    }
    const want = this.#expected.get(swh);
    if (want && !this.slicesCompleteAt.has(swh) && [...want].every((a) => after.has(a))) {
      this.slicesCompleteAt.set(swh, now);
    }
  }

  #onSwh(e: InformerEvent<ServiceWithHealthchecks>): void {
    const name = e.object.metadata?.name ?? "";
    const want = this.#expected.get(name)?.size;
    const status = e.object.status;
    if (
      e.type !== "delete" && want !== undefined && !this.statusReadyAt.has(name) &&
      status?.readyEndpoints === want && status?.totalEndpoints === want
    ) this.statusReadyAt.set(name, Date.now());
  }
}
