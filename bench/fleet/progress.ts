/** Progress lines of the fleet benchmark. @module */

/** Progress lines on stderr, with the time since the benchmark started. */
export function progress(line: string): void {
  console.error(`[fleet ${(performance.now() / 1000).toFixed(0).padStart(4)} s] ${line}`);
}
