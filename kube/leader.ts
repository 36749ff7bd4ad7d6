/** Leader election on a coordination.k8s.io/v1 Lease (client-go's algorithm): one holder at a time. */
import { microTime } from "./time.ts";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import type { Api } from "./api.ts";
import { isApiError } from "./errors.ts";
import { sleep } from "./transport.ts";

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Name of the Lease (in the Api's namespace). */
  name: string;
  /** This candidate's identity, unique among candidates (e.g. the pod name). */
  identity: string;
  /** How long a lease is valid after its last renewal (default 15 s). Others wait this long before taking over. */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long stops leading (default 10 s; must be < leaseDurationMs). */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  /** Called when this candidate becomes the leader. */
  onStartedLeading?: () => void;
  /** Called when it stops being the leader (lost the lease, could not renew, or released it). */
  onStoppedLeading?: () => void;
  /** Failed API calls (retried on the next period). */
  onError?: (error: unknown) => void;
}

/** Lease times are metav1.MicroTime. */
function leaseTime(ms: number): string {
  return microTime(new Date(ms));
}

/**
 * Competes for a Lease. Expiry is judged by *local* observation, like client-go: a holder's lease expires
 * `leaseDurationSeconds` after this candidate last saw the record change, so clock skew between machines
 * does not matter; a lease whose holder is empty (released) is taken at once. Updates use the Lease's
 * resourceVersion, so two candidates can never both win. On abort of `run`'s signal a leader releases the
 * lease (empty holder) so a successor takes over within one retry period instead of a lease duration.
 *
 * RBAC: `get`, `create`, `update` on `leases` in the namespace.
 */
export class LeaderElector {
  readonly #api: Api<ILease>;
  readonly #opts: Required<Omit<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading" | "onError">>;
  readonly #callbacks: Pick<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading" | "onError">;
  #leader = false;
  #lastRenew = 0;
  #observed: { key: string; at: number } | undefined;
  /** The Lease as our last successful write left it: a leader renews from it without a GET first. */
  #written: ILease | undefined;

  /** Creates a candidate; call {@link LeaderElector.run}. */
  constructor(api: Api<ILease>, opts: LeaderElectionOptions) {
    this.#api = api;
    this.#opts = {
      name: opts.name,
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs ?? 15_000,
      renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
      retryPeriodMs: opts.retryPeriodMs ?? 2_000,
    };
    if (this.#opts.renewDeadlineMs >= this.#opts.leaseDurationMs) {
      throw new RangeError("renewDeadlineMs must be shorter than leaseDurationMs");
    }
    this.#callbacks = opts;
  }

  /** Whether this candidate currently holds the lease. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** Acquires and renews until `signal` aborts; then releases the lease if held. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const won = await this.#tryAcquireOrRenew(signal);
      const now = Date.now();
      if (won) {
        this.#lastRenew = now;
        if (!this.#leader) {
          this.#leader = true;
          this.#callbacks.onStartedLeading?.();
        }
      } else if (this.#leader && (won === false || now - this.#lastRenew > this.#opts.renewDeadlineMs)) {
        this.#stopLeading();
      }
      const jitter = this.#leader ? 1 : 1 + Math.random() * 0.2;
      try {
        await sleep(this.#opts.retryPeriodMs * jitter, signal);
      } catch {
        break;
      }
    }
    if (this.#leader) {
      await this.#release();
      this.#stopLeading();
    }
  }

  #stopLeading(): void {
    this.#leader = false;
    this.#callbacks.onStoppedLeading?.();
  }

  /** true = we hold the lease now; false = someone else does; undefined = the attempt failed (API error). */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean | undefined> {
    const callSignal = AbortSignal.any([signal, AbortSignal.timeout(this.#opts.renewDeadlineMs)]);
    const { name, identity } = this.#opts;
    const leaseSeconds = Math.max(1, Math.ceil(this.#opts.leaseDurationMs / 1000));
    try {
      // Fast path (as client-go's): the leader renews the record it wrote last, one request instead of GET+PUT
      // — on a saturated apiserver each request counts against the renew deadline. A conflict (someone else
      // wrote the Lease) falls back to reading it.
      const written = this.#written;
      if (this.#leader && written?.spec?.holderIdentity === identity) {
        try {
          this.#written = await this.#api.replace({
            ...written,
            spec: { ...written.spec, renewTime: leaseTime(Date.now()) },
          }, { signal: callSignal });
          return true;
        } catch (error) {
          if (!isApiError(error, 409)) throw error;
        }
      }
      this.#written = undefined;
      const lease = await this.#api.getOpt(name, { signal: callSignal });
      const now = Date.now();
      if (!lease) {
        this.#written = await this.#api.create({
          metadata: { name },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: leaseTime(now),
            renewTime: leaseTime(now),
            leaseTransitions: 0,
          },
        }, { signal: callSignal });
        return true;
      }
      const spec = lease.spec ?? {};
      const key = `${spec.holderIdentity ?? ""}|${spec.renewTime ?? ""}|${
        lease.metadata?.resourceVersion ?? ""
      }`;
      if (this.#observed?.key !== key) this.#observed = { key, at: now };
      const holder = spec.holderIdentity ?? "";
      const durationMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (holder !== "" && holder !== identity && this.#observed.at + durationMs > now) return false;
      this.#written = await this.#api.replace({
        metadata: { ...lease.metadata, name },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : leaseTime(now),
          renewTime: leaseTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
        },
      }, { signal: callSignal });
      return true;
    } catch (error) {
      if (signal.aborted) return undefined;
      // Another candidate won the race for this resourceVersion (or created the Lease first).
      if (isApiError(error, 409)) return false;
      this.#callbacks.onError?.(error);
      return undefined;
    }
  }

  async #release(): Promise<void> {
    const signal = AbortSignal.timeout(this.#opts.renewDeadlineMs);
    try {
      const lease = await this.#api.getOpt(this.#opts.name, { signal });
      if (!lease || lease.spec?.holderIdentity !== this.#opts.identity) return;
      const now = leaseTime(Date.now());
      await this.#api.replace({
        metadata: lease.metadata,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: now,
          acquireTime: now,
        },
      }, { signal });
    } catch (error) {
      this.#callbacks.onError?.(error);
    }
  }
}
