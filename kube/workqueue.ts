/**
 * A keyed work queue (kube-rs scheduler + runner) shared by the controller and the agents: de-duplicates,
 * never runs one key twice at once, delays, retries with backoff.
 */

/** How {@link WorkQueue.add} schedules a key. */
export interface AddOptions {
  /**
   * Run before every key added without it (FIFO among urgent keys): work that unblocks others, such as a
   * controller creating the Service that agents wait for, must not queue behind bookkeeping.
   */
  urgent?: boolean;
}

/** What a handler asks for after it ran. */
export interface Action {
  /** Run the key again after this long (e.g. a periodic check); undefined waits for the next change. */
  requeueAfterMs?: number;
}

/** Options of {@link WorkQueue}. */
export interface QueueOptions {
  /** Keys handled at the same time (default 4). */
  concurrency?: number;
  /** Retry delay of a failing key: first delay (default 500 ms), doubled per consecutive failure. */
  backoffInitialMs?: number;
  /** Cap of the retry delay (default 60 s). */
  backoffMaxMs?: number;
  /** Called with every handler failure and the retry delay chosen (for logs and metrics). */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /** Keys that are always urgent (see {@link AddOptions}), also when a handler's action requeues them. */
  urgentKey?: (key: string) => boolean;
}

/**
 * Guarantees: a key added several times before it runs runs once, at the earliest requested time; a key is
 * never handled by two workers at once — added while running, it runs again right after; a handler that
 * throws is retried after a jittered exponential delay that resets on success; keys added as `urgent` run
 * before the others that are due (a key keeps its urgency until it runs). The reason a key runs is not passed
 * on purpose: handlers must be idempotent.
 */
export class WorkQueue {
  readonly #due = new Map<string, number>();
  /** Keys of `#due` that were added as urgent. */
  readonly #urgent = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #concurrency: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #onError: QueueOptions["onError"];
  readonly #urgentKey: QueueOptions["urgentKey"];
  #wake: (() => void) | undefined;

  /** Creates an empty queue. */
  constructor(opts: QueueOptions = {}) {
    this.#concurrency = opts.concurrency ?? 4;
    this.#initialMs = opts.backoffInitialMs ?? 500;
    this.#maxMs = opts.backoffMaxMs ?? 60_000;
    this.#onError = opts.onError;
    this.#urgentKey = opts.urgentKey;
  }

  /** Schedules `key` after `delayMs` (0 = now); an earlier schedule of the same key wins. */
  add(key: string, delayMs = 0, opts: AddOptions = {}): void {
    const at = Date.now() + Math.max(0, delayMs);
    if (opts.urgent || this.#urgentKey?.(key)) this.#urgent.add(key);
    if (this.#running.has(key)) {
      const again = this.#again.get(key);
      if (again === undefined || at < again) this.#again.set(key, at);
      return;
    }
    const current = this.#due.get(key);
    if (current === undefined || at < current) this.#due.set(key, at);
    this.#wake?.();
  }

  /** Urgent keys due now and not running: when non-zero, handlers may postpone work that can wait. */
  get urgentReady(): number {
    const now = Date.now();
    let n = 0;
    for (const key of this.#urgent) {
      const at = this.#due.get(key);
      if (at !== undefined && at <= now) n++;
    }
    return n;
  }

  /** Keys waiting (due now or later) plus keys running. */
  get depth(): number {
    return this.#due.size + this.#running.size;
  }

  /** Keys due now and not running: the backlog. */
  get ready(): number {
    const now = Date.now();
    let n = 0;
    for (const at of this.#due.values()) if (at <= now) n++;
    return n;
  }

  /** Consecutive failures of `key` so far (0 after a success). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Resolves when nothing runs and nothing is due within `horizonMs` (default: now; later requeues may
   * still be pending). For start-up, tests and benchmarks: it polls every few milliseconds.
   */
  async idle(horizonMs = 0): Promise<void> {
    while (!this.#isIdle(horizonMs)) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * Runs `handler` for due keys until `signal` aborts, at most `concurrency` at once; resolves after the
   * running handlers finished. The handler receives the signal to cancel its own work.
   */
  async run(
    handler: (key: string, signal: AbortSignal) => Promise<Action>,
    signal: AbortSignal,
  ): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    while (!signal.aborted) {
      const now = Date.now();
      let nextAt = Infinity;
      const start = (key: string) => {
        this.#due.delete(key);
        this.#urgent.delete(key);
        this.#running.add(key);
        const task = this.#runOne(key, handler, signal).finally(() => {
          inFlight.delete(task);
          this.#wake?.();
        });
        inFlight.add(task);
      };
      for (const key of this.#urgent) {
        if (inFlight.size >= this.#concurrency) break;
        const at = this.#due.get(key);
        if (at !== undefined && at <= now) start(key);
      }
      for (const [key, at] of this.#due) {
        if (inFlight.size >= this.#concurrency) break;
        if (at > now) {
          nextAt = Math.min(nextAt, at);
          continue;
        }
        start(key);
      }
      await new Promise<void>((resolve) => {
        const timer = nextAt === Infinity || inFlight.size >= this.#concurrency
          ? undefined
          : setTimeout(resolve, Math.max(1, nextAt - Date.now()));
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.#wake = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          this.#wake = undefined;
          resolve();
        };
      });
    }
    this.#wake = undefined;
    await Promise.allSettled([...inFlight]);
  }

  async #runOne(
    key: string,
    handler: (key: string, signal: AbortSignal) => Promise<Action>,
    signal: AbortSignal,
  ): Promise<void> {
    let next: number | undefined;
    try {
      const action = await handler(key, signal);
      this.#failures.delete(key);
      next = action.requeueAfterMs;
    } catch (error) {
      if (signal.aborted) return;
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      next = this.backoffDelay(failures);
      this.#onError?.(key, error, next);
    } finally {
      this.#running.delete(key);
      const again = this.#again.get(key);
      this.#again.delete(key);
      if (again !== undefined) this.add(key, again - Date.now());
    }
    if (next !== undefined && !signal.aborted) this.add(key, next);
  }

  /** Delay before retry number `failures` (1-based): exponential from the initial delay, capped, ±20 % jitter. */
  backoffDelay(failures: number): number {
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(30, failures - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  #isIdle(horizonMs: number): boolean {
    if (this.#running.size > 0) return false;
    const horizon = Date.now() + horizonMs;
    for (const at of this.#due.values()) if (at <= horizon) return false;
    return true;
  }
}
