/**
 * Small measuring tools shared by benchmarks and tests: percentiles, a process's RSS and CPU from /proc, and
 * bounded concurrency.
 *
 * @module
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The `p`-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Resident memory and CPU time used so far by one process. */
export interface ProcStats {
  /** VmRSS in MiB. */
  rssMiB: number;
  /** User + system CPU time in clock ticks ({@link CLOCK_TICKS_PER_SECOND}). */
  cpuTicks: number;
}

/** RSS and CPU time of process `pid` from /proc; undefined when it is gone. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { rssMiB: rssKb / 1024, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of `items`. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
