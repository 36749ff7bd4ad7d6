/**
 * The agent's probing workload without a cluster: the scheduler and `runProbe` (as agent/agent.ts wires them)
 * against real loopback TCP listeners (listeners.ts), one process per run, so runtime flags can be compared on RSS and CPU.
 *
 * Child: `deno run -A <flags> bench/memory/probing.ts --child --seconds S` with the targets as JSON on stdin;
 * it probes every target once per second and prints a report. The parent ({@link runProbing}) samples the
 * child's RSS and CPU from /proc, so the numbers are the kernel's, not the runtime's own view.
 *
 * @module
 */
import { lineReader, median, procCpuSeconds, procMemory, sleep } from "./proc.ts";

/** One probing run as the parent saw it. */
export interface ProbingReport {
  /** Runtime flags of the child. */
  flags: string;
  /** Probes completed per second in the window. */
  probesPerSecond: number;
  /** Failed probes in the window (must be 0: the listeners always accept). */
  failures: number;
  /** 99th percentile of probe start lateness, ms. */
  latenessP99: number;
  /** Median of the RSS samples (one per second) in the window, MiB. */
  rss: number;
  /** RSS at the end of the window, MiB. */
  rssEnd: number;
  /** Largest RSS sample in the window, MiB. */
  rssPeak: number;
  /** Anonymous part of RSS at the end, MiB. */
  anonEnd: number;
  /** Process CPU time in the window over its wall time (1 = one core). */
  cpu: number;
  /** V8 heap used / reserved at the end (no forced GC), MiB. */
  heapUsed: number;
  heapTotal: number;
}

interface ChildReport {
  probesPerSecond: number;
  failures: number;
  latenessP99: number;
  heapUsed: number;
  heapTotal: number;
}

const self = new URL(import.meta.url).pathname;

/** How one probing run is set up. */
export interface ProbingRun {
  /** Runtime flags of the child (`deno run` flags). */
  readonly flags: readonly string[];
  /** Environment additions. */
  readonly env?: Record<string, string>;
  /** Modules the child imports before probing. */
  readonly preload?: readonly string[];
  /** A checkout whose probe engine (`probes/`) the child runs instead of this one's (before/after). */
  readonly root?: string;
  /** Probe period in seconds (default 1). */
  readonly periodSeconds?: number;
  /** Measured window, seconds. */
  readonly seconds: number;
  /** Warm-up before the window, seconds (default 5). */
  readonly warmup?: number;
}

/**
 * Child: probes `targets` every `period` s with the probe engine of `root` (default this checkout); warm-up
 * `warmup` s, then measures `seconds` s (signalled on stdout).
 */
async function child(
  seconds: number,
  warmup: number,
  period: number,
  root: string | undefined,
  preload: string[],
): Promise<void> {
  // Modules the agent would also have loaded (e.g. `yaml`, `node:net`): does their presence change probing?
  for (const spec of preload) {
    await import(spec.startsWith("./") ? new URL(`../../${spec}`, import.meta.url).href : spec);
  }
  const engine = root
    ? new URL(`file://${root.replace(/\/$/, "")}/probes/`)
    : new URL("../../probes/", import.meta.url);
  const { runProbe } = await import(new URL("run.ts", engine).href);
  const { createScheduler } = await import(new URL("scheduler.ts", engine).href);
  const targets: { ip: string; port: number }[] = JSON.parse(await new Response(Deno.stdin.readable).text());
  let measuring = false;
  let completed = 0;
  let failures = 0;
  const lateness: number[] = [];
  const scheduler = createScheduler({
    runProbe,
    onChange: () => {},
    onResult: (c: { latenessMs: number; result: { ok: boolean } }) => {
      if (!measuring) return;
      completed++;
      lateness.push(c.latenessMs);
      if (!c.result.ok) failures++;
    },
  });
  const spec = { mode: "TCP", timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 } as const;
  targets.forEach((t, i) =>
    scheduler.set(`ep-${i}`, {
      ip: t.ip,
      probes: [{ name: "0", port: t.port, spec, periodSeconds: period, initialDelaySeconds: 0 }],
      seedHealthy: true,
    })
  );
  await sleep(warmup * 1000);
  console.log("measuring");
  measuring = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  // Report before closing: the parent takes its last /proc sample when this line arrives.
  lateness.sort((a, b) => a - b);
  const heap = Deno.memoryUsage();
  const report: ChildReport = {
    probesPerSecond: completed / wall,
    failures,
    latenessP99: lateness[Math.floor(lateness.length * 0.99)] ?? NaN,
    heapUsed: heap.heapUsed / 1048576,
    heapTotal: heap.heapTotal / 1048576,
  };
  console.log(JSON.stringify(report));
  // Stay alive (still probing) while the parent takes its last /proc reading.
  await sleep(1000);
  await scheduler.close();
}

/** Runs one child as `run` says against `targets` and samples it; see {@link ProbingReport}. */
export async function runProbing(
  run: ProbingRun,
  targets: readonly { ip: string; port: number }[],
): Promise<ProbingReport> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...run.flags,
      self,
      "--child",
      "--seconds",
      String(run.seconds),
      "--warmup",
      String(run.warmup ?? 5),
      "--period",
      String(run.periodSeconds ?? 1),
      ...(run.root ? ["--root", run.root] : []),
      ...(run.preload ?? []).flatMap((p) => ["--preload", p]),
    ],
    env: run.env ?? {},
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = proc.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(targets)));
  await writer.close();
  const lines = lineReader(proc.stdout, "probing child");
  if ((await lines.next()) !== "measuring") throw new Error("probing child: unexpected output");
  const cpu0 = procCpuSeconds(proc.pid);
  const t0 = performance.now();
  const samples: number[] = [];
  const sampler = setInterval(() => {
    // A sample taken while the child exits reads no VmRSS: skip it.
    const rss = procMemory(proc.pid).rss;
    if (Number.isFinite(rss)) samples.push(rss);
  }, 1000);
  const reportLine = await lines.next();
  clearInterval(sampler);
  const cpu = (procCpuSeconds(proc.pid) - cpu0) / ((performance.now() - t0) / 1000);
  const end = procMemory(proc.pid);
  const report: ChildReport = JSON.parse(reportLine);
  await lines.cancel();
  await proc.status;
  return {
    flags: run.flags.join(" ") || "(none)",
    probesPerSecond: report.probesPerSecond,
    failures: report.failures,
    latenessP99: report.latenessP99,
    rss: median(samples),
    rssEnd: end.rss,
    rssPeak: Math.max(end.rss, ...samples),
    anonEnd: end.anon,
    cpu,
    heapUsed: report.heapUsed,
    heapTotal: report.heapTotal,
  };
}

if (import.meta.main && Deno.args.includes("--child")) {
  const arg = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  };
  const preload = Deno.args.flatMap((a, i) => a === "--preload" ? [Deno.args[i + 1]] : []);
  const rootAt = Deno.args.indexOf("--root");
  const root = rootAt >= 0 ? Deno.args[rootAt + 1] : undefined;
  await child(arg("--seconds", 40), arg("--warmup", 5), arg("--period", 1), root, preload);
  Deno.exit(0);
}
