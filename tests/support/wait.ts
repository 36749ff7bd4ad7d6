/**
 * Waiting for a condition with a deadline: the only way tests synchronise with asynchronous systems.
 *
 * @module
 */

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between checks (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout error, e.g. "namespace x to be removed". */
  what?: string;
  /** What was last observed, for the timeout error (e.g. the state that never became the wanted one). */
  lastSeen?: () => unknown;
}

/** Thrown when the condition did not become true before the deadline; carries the last error, if any. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the deadline passes.
 * Exceptions from the predicate count as "not yet" and the last one is attached as `cause`.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? "condition"}` +
          (lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : lastError})` : "") +
          (opts.lastSeen ? `; last seen: ${JSON.stringify(opts.lastSeen())}` : ""),
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
