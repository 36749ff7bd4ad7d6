/**
 * Which agents are alive, from their heartbeat Leases (agent/heartbeat.ts). Judged by local observation, like
 * leader election: an agent is stale when this controller has not seen its Lease renewed for the Lease's
 * duration — clocks of other machines never matter. A node whose agent never had a Lease (an agent of v0.1
 * during an upgrade, or one that never started) is not judged at all.
 *
 * @module
 */
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";

interface Seen {
  /** resourceVersion last observed. */
  rv: string;
  /** When it was observed to change (monotonic ms). */
  at: number;
  durationMs: number;
}

/** Liveness of every agent that has a heartbeat Lease. */
export class AgentLiveness {
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;

  /** `now`: a monotonic clock in ms (default performance.now; injectable for tests). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Records a Lease as listed or watched; returns its node (holderIdentity), if any. */
  observe(lease: ILease): string | undefined {
    const node = lease.spec?.holderIdentity;
    if (!node) return undefined;
    const rv = lease.metadata?.resourceVersion ?? "";
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 40) * 1000;
    const before = this.#seen.get(node);
    if (!before || before.rv !== rv) this.#seen.set(node, { rv, at: this.#now(), durationMs });
    return node;
  }

  /** The Lease is gone (agent uninstalled): its node is no longer judged. */
  forget(lease: ILease): string | undefined {
    const node = lease.spec?.holderIdentity;
    if (node) this.#seen.delete(node);
    return node;
  }

  /** Milliseconds until `node`'s agent counts as stale (≤ 0: it is), or undefined when it has no Lease. */
  staleIn(node: string): number | undefined {
    const seen = this.#seen.get(node);
    return seen ? seen.at + seen.durationMs - this.#now() : undefined;
  }

  /** Whether `node`'s agent has a Lease that was not renewed within its duration. */
  stale(node: string): boolean {
    return (this.staleIn(node) ?? 1) <= 0;
  }

  /** Seconds since `node`'s Lease was last seen renewed (for messages). */
  silentSeconds(node: string): number | undefined {
    const seen = this.#seen.get(node);
    return seen ? Math.round((this.#now() - seen.at) / 1000) : undefined;
  }
}
