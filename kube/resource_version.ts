/**
 * Ordering of resourceVersions: which of two states of a resource is newer.
 *
 * @module
 */

const VALID = /^[1-9][0-9]*$/;

/**
 * Compares two resourceVersions of the same resource: -1 when `a` is older, 0 when equal, 1 when newer;
 * `undefined` when either is not comparable. Since Kubernetes 1.35 (KEP-5504, GA) a resourceVersion from
 * kube-apiserver is a positive decimal integer without leading zeros, and versions of one resource are
 * ordered (client-go's `CompareResourceVersion` uses the same rule); aggregated APIs may still serve opaque
 * strings, hence `undefined`. Compares lengths, then digits: no parsing, no precision limit.
 */
export function compareResourceVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  if (!VALID.test(a) || !VALID.test(b)) return undefined;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** True when `a` is known to be older than `b` (false when equal, newer or not comparable). */
export function isOlder(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && compareResourceVersions(a, b) === -1;
}

/** The newest of some resourceVersions (the last one when they cannot be compared); undefined when empty. */
export function newestResourceVersion(versions: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const v of versions) {
    if (newest === undefined || compareResourceVersions(v, newest) !== -1) newest = v;
  }
  return newest;
}
