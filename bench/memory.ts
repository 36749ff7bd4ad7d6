/**
 * Where the agent's resident memory goes, without a cluster: module graphs, runtime flags under the probing
 * workload, and the whole agent process against a fake apiserver.
 *
 * Usage: `./deno run -A bench/memory.ts [modules] [probing] [agent] [options]` (no part named: modules and
 * agent with the deployed flags; `./deno task bench memory` runs that too, ignoring its cluster).
 * - `modules`: one process per module set (bench/memory/modules.ts), RSS after GC, with the agent's flags;
 *   `--repeats N` (default 3).
 * - `probing`: the scheduler + `runProbe` against `--targets` (default 1,000) loopback TCP listeners every
 *   `--period` seconds (default 1; 10 with 100 targets is a fleet node's agent), for every `--flags` candidate,
 *   `--rounds` (default 2) interleaved rounds of `--seconds` (default 40) each: A, B, A, B, because the
 *   machine is shared. A run with probe failures (the machine starved the prober) is repeated, up to 3 times.
 * - `agent`: agent/main.ts with the deployed permissions against bench/memory/fake_apiserver.ts: idle (ready,
 *   no SWH), then `--targets` pods on its node selected by one SWH with a TCP probe at period 1 s. `--inspect`
 *   adds V8 space sizes, the heap after a full GC and a heap snapshot summary (diagnosis; skews RSS a little).
 *
 * A `--flags` value is one candidate: a space-separated list of
 * - runtime flags (`--v8-flags=…`, `--no-code-cache`), `deployed` (deploy/permissions.ts `AGENT_RUNTIME_FLAGS` and
 *   `AGENT_RUNTIME_ENV`; a later `NAME=value` overrides the latter)
 *   or `none`;
 * - `NAME=value` environment settings (`MALLOC_ARENA_MAX=2`; `NAME=` unsets one, e.g. of `deployed`);
 * - what-ifs: `--root=DIR` runs the agent (probing: the probe engine) of another checkout (before/after:
 *   `git archive <commit> | tar -x -C DIR`), `--entry=FILE` runs another entry module (a `deno bundle -o FILE
 *   agent/main.ts`), `--kubeconfig=json` (no YAML parser, as in a cluster), `--pods=compact` (pods with only
 *   the fields the agent reads), `--hide-swh-status` (the agent never receives SWH status), `--preload=MODULE` (probing:
 *   import a module first, e.g. `yaml` or `./crds/validate.ts`).
 * Example: `--flags deployed --flags "deployed --v8-flags=--optimize-for-size"`. Measurement-only V8 flags
 * (`--expose-gc`) are added by the module-set children only, never to the candidates.
 *
 * @module
 */
import { AGENT_RUNTIME_ENV, AGENT_RUNTIME_FLAGS } from "../deploy/permissions.ts";
import { MODULE_SETS } from "./memory/modules.ts";
import type { ModuleSetReport } from "./memory/modules.ts";
import { startListeners } from "./memory/listeners.ts";
import { runProbing } from "./memory/probing.ts";
import type { ProbingReport } from "./memory/probing.ts";
import { median, printTable, spread } from "./memory/proc.ts";
import { runAgent } from "./memory/agent.ts";
import type { AgentRunReport } from "./memory/agent.ts";

/** A candidate: runtime flags for `deno run` and environment for the process. */
export interface Candidate {
  /** As given on the command line. */
  readonly label: string;
  /** `deno run` flags. */
  readonly flags: string[];
  /** Environment additions. */
  readonly env: Record<string, string>;
  /** Another checkout to run the agent from (`--root=DIR`, e.g. a `git archive` of a base commit). */
  readonly root?: string;
  /** The agent's entry module instead of agent/main.ts (`--entry=FILE`, e.g. a `deno bundle` of it). */
  readonly entry?: string;
  /** Agent what-ifs for this candidate (`--pods=compact`, `--hide-swh-status`, `--kubeconfig=json`). */
  readonly podShape?: "full" | "compact";
  readonly hideSwhStatus?: boolean;
  readonly kubeconfigFormat?: "yaml" | "json";
  /** Probing what-if: modules imported before probing starts (`--preload=yaml`, `--preload=./crds/validate.ts`). */
  readonly preload?: string[];
}

/** Parses one `--flags` value (see module docs). */
export function parseCandidate(text: string): Candidate {
  const flags: string[] = [];
  const env: Record<string, string> = {};
  const candidate: { -readonly [K in keyof Candidate]?: Candidate[K] } = {};
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (word === "deployed") {
      flags.push(...AGENT_RUNTIME_FLAGS);
      Object.assign(env, AGENT_RUNTIME_ENV);
    } else if (word.startsWith("--root=")) candidate.root = word.slice(7);
    else if (word.startsWith("--entry=")) candidate.entry = word.slice(8);
    else if (word.startsWith("--pods=")) candidate.podShape = word.endsWith("=compact") ? "compact" : "full";
    else if (word === "--hide-swh-status") candidate.hideSwhStatus = true;
    else if (word.startsWith("--preload=")) candidate.preload = [...candidate.preload ?? [], word.slice(10)];
    else if (word.startsWith("--kubeconfig=")) {
      candidate.kubeconfigFormat = word.endsWith("=json") ? "json" : "yaml";
    } else if (word === "none") continue;
    else if (/^[A-Z_][A-Z0-9_]*=/.test(word)) {
      const [name, value] = [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)];
      if (value === "") delete env[name]; // `NAME=`: unset (e.g. one of AGENT_RUNTIME_ENV)
      else env[name] = value;
    } else flags.push(word);
  }
  // Several `--v8-flags` (e.g. `deployed` plus one more) become one list, the form deploy/ uses.
  return { ...candidate, label: text, flags: withV8Flags(flags, []), env };
}

/** `--v8-flags=a,b` merged with `extra` V8 flags into one `--v8-flags` (Deno takes one list). */
export function withV8Flags(flags: readonly string[], extra: readonly string[]): string[] {
  const v8 = flags.filter((f) => f.startsWith("--v8-flags=")).flatMap((f) => f.slice(11).split(","));
  const rest = flags.filter((f) => !f.startsWith("--v8-flags="));
  const all = [...v8, ...extra].filter(Boolean);
  return all.length ? [...rest, `--v8-flags=${all.join(",")}`] : rest;
}

const args = Deno.args;
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const options = (name: string): string[] => args.flatMap((a, i) => a === name ? [args[i + 1]] : []);

async function modules(candidate: Candidate, repeats: number): Promise<void> {
  const root = new URL("../", import.meta.url).pathname;
  const reports = new Map<string, ModuleSetReport[]>();
  // Interleaved over sets: a slow moment of the machine spreads over all rows instead of hitting one.
  for (let r = 0; r < repeats; r++) {
    for (const set of MODULE_SETS) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          ...withV8Flags(candidate.flags, ["--expose-gc"]),
          "bench/memory/modules.ts",
          "--set",
          set.name,
        ],
        cwd: root,
        env: candidate.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      if (!out.success) throw new Error(`module set ${set.name}: ${new TextDecoder().decode(out.stderr)}`);
      reports.set(set.name, [...reports.get(set.name) ?? [], JSON.parse(text.split("\n").at(-1)!)]);
    }
  }
  const bare = median(reports.get(MODULE_SETS[0].name)!.map((r) => r.rss));
  console.log(
    `\nModule sets: one process each, after 3 GCs; flags ${candidate.label}; median of ${repeats} (MiB).` +
      "\nRSS = anon (heap, JIT code, Rust allocations) + file (touched pages of the deno binary).",
  );
  printTable(
    ["module set", "RSS", "Δ bare", "anon", "file", "V8 heap used", "V8 heap total", "external"],
    MODULE_SETS.map((set) => {
      const rs = reports.get(set.name)!;
      const m = (f: (r: ModuleSetReport) => number) => median(rs.map(f)).toFixed(1);
      return [
        set.name,
        spread(rs.map((r) => r.rss)),
        (median(rs.map((r) => r.rss)) - bare).toFixed(1),
        m((r) => r.anon),
        m((r) => r.file),
        m((r) => r.heapUsed),
        m((r) => r.heapTotal),
        m((r) => r.external),
      ];
    }),
  );
}

async function probing(
  candidates: Candidate[],
  targetCount: number,
  seconds: number,
  rounds: number,
  periodSeconds: number,
) {
  const listeners = await startListeners(targetCount);
  const targets = listeners.ips.map((ip) => ({ ip, port: listeners.port }));
  const results = new Map<string, ProbingReport[]>();
  let discarded = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const c of candidates) {
        const run = { ...c, seconds, periodSeconds };
        let report = await runProbing(run, targets);
        // Failures against listeners that always accept mean the machine starved the prober (timeouts), which
        // also inflates its memory (connects pile up): such a run says nothing about the flags. Repeat it.
        for (let retry = 1; report.failures > 0 && retry <= 3; retry++) {
          console.log(`round ${r + 1} ${c.label}: ${report.failures} failures (machine busy), repeating`);
          discarded++;
          report = await runProbing(run, targets);
        }
        console.log(
          `round ${r + 1} ${c.label}: RSS ${report.rss.toFixed(0)} MiB (peak ${
            report.rssPeak.toFixed(0)
          }), ` +
            `CPU ${(report.cpu * 100).toFixed(1)} %, ${report.probesPerSecond.toFixed(0)} probes/s, ` +
            `${report.failures} failures`,
        );
        results.set(c.label, [...results.get(c.label) ?? [], report]);
      }
    }
  } finally {
    await listeners.stop();
  }
  console.log(
    `\nProbing: ${targetCount} TCP targets, period ${periodSeconds} s, ${seconds} s windows after 5 s warm-up, ` +
      `${rounds} interleaved rounds; median (min–max). RSS = median of 1 s samples. ` +
      `${discarded} starved runs (probe failures) repeated.`,
  );
  printTable(
    [
      "flags",
      "RSS MiB",
      "peak MiB",
      "anon end",
      "CPU % core",
      "probes/s",
      "late p99 ms",
      "fail",
      "heap used/total",
    ],
    candidates.map((c) => {
      const rs = results.get(c.label)!;
      return [
        c.label,
        spread(rs.map((r) => r.rss), 0),
        spread(rs.map((r) => r.rssPeak), 0),
        spread(rs.map((r) => r.anonEnd), 0),
        spread(rs.map((r) => r.cpu * 100)),
        median(rs.map((r) => r.probesPerSecond)).toFixed(0),
        spread(rs.map((r) => r.latenessP99)),
        String(rs.reduce((n, r) => n + r.failures, 0)),
        `${median(rs.map((r) => r.heapUsed)).toFixed(0)}/${median(rs.map((r) => r.heapTotal)).toFixed(0)}`,
      ];
    }),
  );
}

async function agent(candidates: Candidate[], pods: number, seconds: number, rounds: number) {
  const results = new Map<string, AgentRunReport[]>();
  let discarded = 0;
  for (let r = 0; r < rounds; r++) {
    for (const c of candidates) {
      const run = () =>
        runAgent({
          label: c.label,
          flags: c.flags,
          env: c.env,
          root: c.root,
          entry: c.entry,
          pods,
          seconds,
          kubeconfigFormat: c.kubeconfigFormat ?? "yaml",
          inspect: args.includes("--inspect"),
          podShape: c.podShape ?? "full",
          hideSwhStatus: c.hideSwhStatus ?? false,
        });
      let report = await run();
      for (let retry = 1; report.starved && retry <= 2; retry++) {
        console.log(`round ${r + 1} ${c.label}: starved (machine busy), repeating`);
        discarded++;
        report = await run();
      }
      console.log(`round ${r + 1} ${JSON.stringify(report)}`);
      results.set(c.label, [...results.get(c.label) ?? [], report]);
    }
  }
  console.log(
    `\nAgent process (agent/main.ts, deployed permissions) against the fake apiserver (YAML kubeconfig, full ` +
      "pods, SWH status sent unless the candidate says otherwise); " +
      `idle = ready, no SWH; loaded = ${pods} pods (pod B = one stored pod's JSON) selected by one SWH, TCP, ` +
      `period 1 s; ${seconds} s windows, ${rounds} interleaved rounds; median (min–max); ${discarded} starved ` +
      "runs (publishing took > 120 s, or endpoints flipped) repeated; `*` = still starved after 2 repeats.",
  );
  printTable(
    [
      "flags",
      "idle RSS",
      "idle anon",
      "idle CPU %",
      "publish s",
      "loaded RSS",
      "peak",
      "loaded anon",
      "CPU %",
      "writes",
      "pod B",
    ],
    candidates.map((c) => {
      const rs = results.get(c.label)!;
      const col = (f: (r: AgentRunReport) => number, digits = 0) => spread(rs.map(f), digits);
      return [
        c.label + (rs.some((r) => r.starved) ? " *" : ""),
        col((r) => r.idleRss),
        col((r) => r.idleAnon),
        col((r) => r.idleCpu * 100, 1),
        col((r) => r.publishSeconds, 1),
        col((r) => r.loadedRss),
        col((r) => r.loadedPeak),
        col((r) => r.loadedAnon),
        col((r) => r.loadedCpu * 100, 1),
        col((r) => r.loadedWrites),
        String(rs[0].podBytes),
      ];
    }),
  );
}

async function main(): Promise<void> {
  const parts = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  const chosen = parts.length ? parts : ["modules", "agent"];
  const flagTexts = options("--flags");
  const candidates = (flagTexts.length ? flagTexts : ["deployed"]).map(parseCandidate);
  const seconds = Number(option("--seconds", "40"));
  const rounds = Number(option("--rounds", "2"));
  const targets = Number(option("--targets", "1000"));
  console.log(
    `machine: ${navigator.hardwareConcurrency} cores, load ${Deno.loadavg().map((l) => l.toFixed(1))}`,
  );
  if (chosen.includes("modules")) {
    for (const c of candidates) await modules(c, Number(option("--repeats", "3")));
  }
  if (chosen.includes("probing")) {
    await probing(candidates, targets, seconds, rounds, Number(option("--period", "1")));
  }
  if (chosen.includes("agent")) {
    await agent(candidates, targets, seconds, rounds);
  }
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
