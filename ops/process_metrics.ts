/**
 * The metrics every program serves beside its own, named as Prometheus client libraries name them so stock
 * dashboards and alerts work: `process_*` (CPU, resident memory, start time, open file descriptors) and
 * `swh_build_info{version}` from ops/version.ts.
 *
 * @module
 */
import process from "node:process";
import { Registry } from "./metrics.ts";
import { VERSION } from "./version.ts";

/** What {@link processMetrics} reads; injectable so tests can pin values. */
export interface ProcessSources {
  /** CPU time used, user + system, in microseconds (default `process.cpuUsage()`: getrusage, no permission). */
  cpuMicros?: () => number;
  /** Resident and heap memory in bytes (default `Deno.memoryUsage()`). */
  memory?: () => { rss: number; heapUsed: number; heapTotal: number };
  /** Process start, Unix milliseconds (default `performance.timeOrigin`). */
  startMs?: number;
  /** Open file descriptors and their limit, or undefined when they cannot be read (default: /proc/self). */
  fds?: () => { open: number; max?: number } | undefined;
}

let procReadable = true;

/**
 * Open descriptors from /proc/self/fd and the soft limit from /proc/self/limits. Deno 2.9 grants /proc/self only
 * to `--allow-all` (even `--allow-read=/proc/self/fd` answers NotCapable), so under the deployed, narrowed
 * permissions this is undefined and the two series are left out rather than reported as 0; the first refusal
 * is remembered so a scrape does not pay for it again.
 */
function procFds(): { open: number; max?: number } | undefined {
  if (!procReadable) return undefined;
  try {
    const open = [...Deno.readDirSync("/proc/self/fd")].length;
    const limits = Deno.readTextFileSync("/proc/self/limits").match(/^Max open files\s+(\d+)/m);
    return { open, max: limits ? Number(limits[1]) : undefined };
  } catch {
    procReadable = false;
    return undefined;
  }
}

/** The exposition text of the process and build-info metrics, read now. */
export function processMetrics(sources: ProcessSources = {}): string {
  const registry = new Registry();
  const cpu = sources.cpuMicros ?? (() => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  });
  registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
    .inc({}, cpu() / 1e6);
  const memory = (sources.memory ?? (() => Deno.memoryUsage()))();
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").set({}, memory.rss);
  registry.gauge("deno_heap_used_bytes", "V8 heap in use, in bytes.").set({}, memory.heapUsed);
  registry.gauge("deno_heap_total_bytes", "V8 heap reserved, in bytes.").set({}, memory.heapTotal);
  registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
    .set({}, Math.floor((sources.startMs ?? performance.timeOrigin) / 1000));
  const fds = (sources.fds ?? procFds)();
  if (fds) {
    registry.gauge("process_open_fds", "Number of open file descriptors.").set({}, fds.open);
    if (fds.max !== undefined) {
      registry.gauge("process_max_fds", "Maximum number of open file descriptors.").set({}, fds.max);
    }
  }
  registry.gauge(
    "swh_build_info",
    "Always 1; the labels say which release and which Deno runtime this process runs.",
  ).set({ version: VERSION, deno: Deno.version.deno }, 1);
  return registry.expose();
}
