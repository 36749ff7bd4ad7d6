/**
 * The choice between GETs and one LIST for fetches an informer needs, from the recent demand: the policy
 * of `MetadataWatchInformer`, kept pure so it is tested without a cluster.
 *
 * @module
 */

/** Options of {@link FetchPlanner}. */
export interface FetchPlannerOptions {
  /**
   * Whether `wanted` fetches — those pending plus those served within the last `listIntervalMs` — are better
   * served by LISTs of the whole collection (`cached` objects) than by one GET each. Default: at least 20
   * and at least a twentieth of the collection (a LIST then serialises at most 20 objects per fetch).
   */
  listWhen?: (wanted: number, cached: number) => boolean;
  /** LIST rounds start at least this far apart (default 1000 ms): a burst costs one LIST per interval. */
  listIntervalMs?: number;
}

/** How to serve the pending fetches now. */
export type FetchPlan = { via: "get" } | { via: "list"; waitMs: number };

const DEFAULT_LIST_WHEN = (wanted: number, cached: number) => wanted >= 20 && wanted * 20 >= cached;

/**
 * Decides per round: GETs while fetches trickle in; once the demand over the last interval crosses
 * `listWhen` (a burst of creations, at whatever rate), one LIST per `listIntervalMs`, each serving every
 * fetch that accumulated meanwhile. Counting demand over an interval, not one coalescing window, catches
 * bursts slower than one window (a controller creating 50 objects a second).
 */
export class FetchPlanner {
  readonly #listWhen: (wanted: number, cached: number) => boolean;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #served: Array<{ at: number; count: number }> = [];
  #lastListAt = -Infinity;

  /** Creates the planner; `now` (milliseconds, monotonic) is injectable for tests. */
  constructor(opts: FetchPlannerOptions = {}, now: () => number = () => performance.now()) {
    this.#listWhen = opts.listWhen ?? DEFAULT_LIST_WHEN;
    this.#intervalMs = opts.listIntervalMs ?? 1_000;
    this.#now = now;
  }

  /** The plan for `pending` fetches with `cached` objects in the store. */
  plan(pending: number, cached: number): FetchPlan {
    const now = this.#now();
    while (this.#served.length > 0 && this.#served[0].at <= now - this.#intervalMs) this.#served.shift();
    const wanted = pending + this.#served.reduce((sum, r) => sum + r.count, 0);
    if (!this.#listWhen(wanted, cached)) return { via: "get" };
    return { via: "list", waitMs: Math.max(0, this.#lastListAt + this.#intervalMs - now) };
  }

  /** Records a round that served `count` fetches (by LIST when `listed`), as it starts. */
  record(count: number, listed: boolean): void {
    const now = this.#now();
    this.#served.push({ at: now, count });
    if (listed) this.#lastListAt = now;
  }
}
