/** Minimal assertions for the kube tests (no @std here): deep equality via node:assert, typed rejections. */
import { deepStrictEqual } from "node:assert";

/** Throws when `condition` is falsy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep strict equality with a readable diff. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Awaits `fn`, requires it to reject with an instance of `type`, and returns that error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw new Error(
      `expected ${type.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : err}`,
      {
        cause: err,
      },
    );
  }
  throw new Error(`expected ${type.name}, but it resolved`);
}
