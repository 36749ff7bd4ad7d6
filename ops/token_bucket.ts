/**
 * A token bucket: at most `burst` actions at once and `perSecond` on average. Used where a burst of the same
 * kind of output (a node-wide outage flipping every endpoint) must tell its story in a few Events or log lines
 * instead of thousands.
 *
 * @module
 */

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Average rate, tokens per second. */
  readonly perSecond: number;
  /** Capacity: how many actions may happen back to back after a quiet period. */
  readonly burst: number;
  /** Monotonic clock in milliseconds (default `performance.now`); injectable for tests. */
  readonly now?: () => number;
}

/** Starts full. */
export class TokenBucket {
  readonly #opts: TokenBucketOptions;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;

  /** Creates a full bucket. */
  constructor(opts: TokenBucketOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#tokens = opts.burst;
    this.#refilledAt = this.#now();
  }

  /** Takes one token if there is one; false means the action should be dropped (and counted). */
  take(): boolean {
    const now = this.#now();
    const refill = ((now - this.#refilledAt) / 1000) * this.#opts.perSecond;
    this.#tokens = Math.min(this.#opts.burst, this.#tokens + refill);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
