/**
 * Modules loaded on first use, for memory a process may never need (a probe mode no endpoint uses, the SWH
 * validator on a node hosting no SWH pod).
 *
 * @module
 */

/**
 * Wraps `load` (an `import("./literal.ts")`, so `deno compile` and `deno cache` still see the module) so that
 * it runs once: every call returns the same promise, concurrent first uses included. A failed load is
 * forgotten, so the next call tries again.
 */
export function importOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    loading ??= load().catch((error) => {
      loading = undefined;
      throw error;
    });
}
