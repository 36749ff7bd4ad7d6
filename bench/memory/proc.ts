/** Process figures read from /proc (Linux), and the small statistics and table printing the memory benchmarks share. */

/** Resident memory of a process in MiB, split the way the kernel accounts it. */
export interface ProcMemory {
  /** VmRSS: what `ps`, `kubectl top`'s RSS and the issue's figures quote. */
  rss: number;
  /** RssAnon: heap, stacks, JIT code: what the program itself allocated. */
  anon: number;
  /** RssFile: pages of the mapped deno binary (and other files) touched so far; shared, evictable. */
  file: number;
  /** VmHWM: peak VmRSS over the process's life. */
  hwm: number;
}

const MIB_IN_KIB = 1024;

/** Reads `/proc/<pid>/status`; `pid` "self" measures the calling process. */
export function procMemory(pid: number | "self" = "self"): ProcMemory {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return {
    rss: kib("VmRSS") / MIB_IN_KIB,
    anon: kib("RssAnon") / MIB_IN_KIB,
    file: kib("RssFile") / MIB_IN_KIB,
    hwm: kib("VmHWM") / MIB_IN_KIB,
  };
}

/** CPU time (user + system) a process has used so far, in seconds, from `/proc/<pid>/stat`. */
export function procCpuSeconds(pid: number | "self" = "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `min–max (median m)` of repeated measurements, or the single value. */
export function spread(values: readonly number[], digits = 1): string {
  if (values.length === 0) return "–";
  const f = (v: number) => v.toFixed(digits);
  if (values.length === 1) return f(values[0]);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/** Prints a plain-text table with left-aligned columns. */
export function printTable(columns: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(columns));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a child's stdout line by line; `next()` throws once the stream ends before a full line. */
export function lineReader(stream: ReadableStream<Uint8Array>, who: string): {
  next(): Promise<string>;
  cancel(): Promise<void>;
} {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    async next() {
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${who} exited before printing a line`);
        buffered += value;
      }
      const i = buffered.indexOf("\n");
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      return line;
    },
    cancel: () => reader.cancel(),
  };
}
