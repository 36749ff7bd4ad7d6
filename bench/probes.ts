/**
 * Probe engine benchmark: TCP, HTTP and PostgreSQL targets on loopback at a 1 s period; prints probes/s,
 * counted and inconclusive failures, scheduling lateness, event-loop lag, CPU share and peak RSS of the probing
 * process.
 *
 * Usage: `./deno run -A bench/probes.ts [--seconds 15] [--only tcp,http,pg]`. Each scenario runs in its own
 * process (so RSS and CPU are the prober's alone) and the servers it probes run in yet another process (or in
 * PostgreSQL), so their cost is not counted.
 *
 * @module
 */
import process from "node:process";
import { runProbe } from "../probes/run.ts";
import { createScheduler } from "../probes/scheduler.ts";
import type { ScheduledProbe } from "../probes/scheduler.ts";
import type { ProbeSpec } from "../probes/types.ts";
import { readFirstLine } from "../probes/testing.ts";
import { startPostgres } from "../tests/support/postgres.ts";

/** What one scenario process reports. */
interface ScenarioReport {
  name: string;
  targets: number;
  seconds: number;
  probesPerSecond: number;
  failures: number;
  inconclusive: number;
  firstFailure?: string;
  latenessP50: number;
  latenessP99: number;
  latenessMax: number;
  skipped: number;
  lagP50: number;
  lagMax: number;
  cpuShare: number;
  peakRssMiB: number;
  peakHeapMiB: number;
}

const self = new URL(import.meta.url).pathname;
const args = Deno.args;
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

// ---- servers (child process) ------------------------------------------------------------------------------

/** `--serve tcp|http N`: listen on N loopback ports, print them as JSON, serve until stdin closes. */
async function serve(kind: string, count: number): Promise<void> {
  const ports: number[] = [];
  const encoder = new TextEncoder();
  const okResponse = encoder.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  for (let i = 0; i < count; i++) {
    if (kind === "http") {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () => new Response("ok"),
      );
      ports.push(server.addr.port);
      continue;
    }
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    ports.push((listener.addr as Deno.NetAddr).port);
    (async () => {
      for await (const conn of listener) {
        if (kind === "tcp") conn.close();
        else conn.write(okResponse).finally(() => conn.close()).catch(() => {});
      }
    })().catch(() => {});
  }
  console.log(JSON.stringify(ports));
  // Live until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  Deno.exit(0);
}

async function startServer(kind: string, count: number): Promise<{ ports: number[]; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", self, "--serve", kind, String(count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const text = await readFirstLine(child.stdout, `${kind} server`);
  return {
    ports: JSON.parse(text),
    async stop() {
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    },
  };
}

// ---- scenario (child process) -----------------------------------------------------------------------------

/** `--scenario name --targets JSON`: probes the given targets for `seconds` and prints a ScenarioReport. */
async function scenario(
  name: string,
  seconds: number,
  spec: ProbeSpec,
  targets: { ip: string; port: number }[],
) {
  const lateness: number[] = [];
  const lags: number[] = [];
  let measuring = false;
  let completed = 0;
  let failures = 0;
  let inconclusive = 0;
  let firstFailure: string | undefined;
  const scheduler = createScheduler({
    runProbe,
    onChange: () => {},
    onResult: (c) => {
      if (!measuring) return;
      completed++;
      lateness.push(c.latenessMs);
      if (c.inconclusive) inconclusive++;
      else if (!c.result.ok) {
        failures++;
        firstFailure ??= c.result.reason;
      }
    },
    onLagSample: (ms) => void (measuring && lags.push(ms)),
  });
  let stopFloor = false;
  if (name === "TCP floor") {
    // Reference point, not the engine: bare Deno.connect + close at the same rate (50 connects every 10 ms),
    // no scheduler, no deadline, no result objects. The engine cannot be cheaper than this.
    const perTick = Math.max(1, Math.round(targets.length / 100));
    let next = 0;
    (async () => {
      while (!stopFloor) {
        const tick = performance.now();
        await Promise.all(Array.from({ length: perTick }, async () => {
          const t = targets[next++ % targets.length];
          try {
            (await Deno.connect({ hostname: t.ip, port: t.port })).close();
            if (measuring) completed++;
          } catch (error) {
            if (measuring) failures++, firstFailure ??= String(error);
          }
        }));
        if (measuring) lateness.push(0);
        await new Promise((r) => setTimeout(r, Math.max(0, 10 - (performance.now() - tick))));
      }
    })();
  } else {targets.forEach((t, i) => {
      const probe: ScheduledProbe = {
        name: "p",
        port: t.port,
        spec,
        periodSeconds: 1,
        initialDelaySeconds: 0,
      };
      scheduler.set(`ep-${i}`, { ip: t.ip, probes: [probe], seedHealthy: true });
    });}
  let peakRss = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const m = Deno.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapTotal);
  }, 100);
  // Warm-up: let every target get its first (randomly phased) run and the JIT settle.
  await new Promise((r) => setTimeout(r, 2000));
  const skippedBefore = scheduler.stats().skipped;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const skipped = scheduler.stats().skipped - skippedBefore;
  clearInterval(sampler);
  stopFloor = true;
  await scheduler.close();
  lateness.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  const pctOf = (values: number[], p: number) =>
    values.length ? values[Math.min(values.length - 1, Math.floor(p * values.length))] : NaN;
  const pct = (p: number) => pctOf(lateness, p);
  const report: ScenarioReport = {
    name,
    targets: targets.length,
    seconds: Math.round(wall / 100) / 10,
    probesPerSecond: Math.round(completed / (wall / 1000)),
    failures,
    inconclusive,
    firstFailure,
    latenessP50: pct(0.5),
    latenessP99: pct(0.99),
    latenessMax: lateness.at(-1) ?? NaN,
    skipped,
    lagP50: pctOf(lags, 0.5),
    lagMax: lags.at(-1) ?? NaN,
    cpuShare: (cpu.user + cpu.system) / 1000 / wall,
    peakRssMiB: peakRss / 1048576,
    peakHeapMiB: peakHeap / 1048576,
  };
  console.log(JSON.stringify(report));
}

async function runScenario(
  name: string,
  seconds: number,
  spec: ProbeSpec,
  targets: { ip: string; port: number }[],
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...v8Flags(),
      self,
      "--scenario",
      name,
      "--seconds",
      String(seconds),
      "--spec",
      JSON.stringify(spec),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Targets go through stdin: 5,000 of them exceed the 128 KiB limit of one argument or environment string.
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(targets)));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`scenario ${name} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!) as ScenarioReport;
}

// ---- main -------------------------------------------------------------------------------------------------

/** Milliseconds for a table cell; "–" for none (a report's JSON turns NaN — no sample — into null). */
function msCell(ms: number | null, digits = 0): string {
  return ms === null || Number.isNaN(ms) ? "–" : `${ms.toFixed(digits)} ms`;
}

/** `--v8-flags X` is passed on to the probing process (e.g. `--max-semi-space-size=2` trades CPU for RSS). */
function v8Flags(): string[] {
  const v8 = flag("--v8-flags");
  return v8 ? [`--v8-flags=${v8}`] : [];
}

function spread(ports: number[], count: number) {
  return Array.from({ length: count }, (_, i) => ({ ip: "127.0.0.1", port: ports[i % ports.length] }));
}

async function main() {
  const seconds = Number(flag("--seconds") ?? 15);
  const only = (flag("--only") ?? "tcp,http,pg").split(",");
  const reports: ScenarioReport[] = [];
  const common = { timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
  if (only.includes("tcp")) {
    // 50 ports: spreads the connect 4-tuples so 5,000 connects/s do not run out of ephemeral ports.
    const srv = await startServer("tcp", 50);
    try {
      reports.push(await runScenario("TCP", seconds, { mode: "TCP", ...common }, spread(srv.ports, 5000)));
      reports.push(
        await runScenario("TCP floor", seconds, { mode: "TCP", ...common }, spread(srv.ports, 5000)),
      );
    } finally {
      await srv.stop();
    }
  }
  if (only.includes("http")) {
    const srv = await startServer("http", 20);
    try {
      const spec: ProbeSpec = {
        mode: "HTTP",
        ...common,
        http: { path: "/healthz", method: "GET", scheme: "HTTP" },
      };
      reports.push(await runScenario("HTTP", seconds, spec, spread(srv.ports, 2000)));
    } finally {
      await srv.stop();
    }
  }
  if (only.includes("pg")) {
    await using pg = await startPostgres({ maxConnections: 400, extraConfig: ["log_connections = off"] });
    await pg.psql("CREATE ROLE prober LOGIN PASSWORD 's3cret'");
    const spec: ProbeSpec = {
      mode: "PostgreSQL",
      ...common,
      timeoutSeconds: 2,
      postgreSQL: {
        dbName: "postgres",
        query: "SELECT NOT pg_is_in_recovery()",
        credentials: { user: "prober", password: "s3cret" },
      },
    };
    reports.push(await runScenario("PostgreSQL (SCRAM)", seconds, spec, spread([pg.port], 200)));
  }
  const cols = [
    "scenario",
    "targets",
    "probes/s",
    "fail",
    "inconcl.",
    "late p50",
    "late p99",
    "late max",
    "skipped",
    "lag p50",
    "lag max",
    "CPU",
    "peak RSS",
    "JS heap",
  ];
  const rows = reports.map((r) => [
    r.name,
    String(r.targets),
    String(r.probesPerSecond),
    String(r.failures),
    String(r.inconclusive),
    msCell(r.latenessP50, 1),
    msCell(r.latenessP99, 1),
    msCell(r.latenessMax),
    String(r.skipped),
    msCell(r.lagP50),
    msCell(r.lagMax),
    `${(r.cpuShare * 100).toFixed(0)} %`,
    `${r.peakRssMiB.toFixed(0)} MiB`,
    `${r.peakHeapMiB.toFixed(0)} MiB`,
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(
    `period 1 s, ${seconds} s measured per scenario after 2 s warm-up; CPU = process CPU time / wall;`,
  );
  console.log("late = probe start minus its slot on the grid; JS heap = peak V8 heapTotal");
  console.log(
    "fail = counted failures; inconcl. = timeouts while the prober itself stalled (not counted); " +
      "lag = event-loop lag monitor ticks (100 ms, only while a probe is in flight; – when none fired)",
  );
  console.log(line(cols));
  for (const r of rows) console.log(line(r));
  for (const r of reports) if (r.firstFailure) console.log(`${r.name}: first failure: ${r.firstFailure}`);
  if (reports.some((r) => r.name === "TCP floor")) {
    console.log(
      "TCP floor = bare Deno.connect+close at the same rate without the engine (lower bound; no lateness)",
    );
  }
}

if (import.meta.main) {
  if (flag("--serve")) await serve(flag("--serve")!, Number(args[args.indexOf("--serve") + 2]));
  else if (flag("--scenario")) {
    const targets = JSON.parse(await new Response(Deno.stdin.readable).text());
    await scenario(flag("--scenario")!, Number(flag("--seconds")), JSON.parse(flag("--spec")!), targets);
  } else await main();
}
