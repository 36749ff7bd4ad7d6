/**
 * What a lab run leaves behind when it is killed before its clean-up ran (SIGKILL, a crashed terminal, a
 * machine under OOM): its control plane's processes and directory, the lab's processes, network namespaces,
 * bridge and blackhole route, test address interfaces, and PostgreSQL data directories. `./deno task lab down`
 * removes them, under the machine's lab lock, so it can never take a running lab apart.
 *
 * @module
 */
import { cacheRoot } from "../cluster/versions.ts";
import { down, readState } from "../cluster/cluster.ts";
import { run } from "../cluster/exec.ts";
import { isRunning, type ManagedProcess, stopProcess } from "../cluster/process.ts";
import { LAB_BRIDGE, LAB_GATEWAY } from "./addresses.ts";
import { labNamespaces, removeNetwork } from "./network.ts";

/** File in a lab's directory listing every process the lab started, one JSON object per line. */
export const LAB_PROCESSES_FILE = "processes.jsonl";

/** Prefix of the throwaway address interfaces of in-process cluster tests (tests/support/local_addresses.ts). */
const TEST_ADDRESS_PREFIX = "swha";

/** Prefix of PostgreSQL instance directories of the test harness (tests/support/postgres.ts). */
const PG_DIR_PREFIX = "swh-pg-";

/** What {@link removeLeftovers} found and removed. */
export interface LeftoverReport {
  /** Cluster instances (by directory) taken down. */
  clusters: string[];
  /** Processes stopped, as `name (pid N)`. */
  processes: string[];
  /** Network namespaces removed (their processes killed first). */
  namespaces: string[];
  /** Interfaces deleted (the lab bridge, test address interfaces). */
  interfaces: string[];
  /** PostgreSQL directories removed. */
  directories: string[];
}

/** Options of {@link removeLeftovers}. */
export interface LeftoverOptions {
  /** Root of the cluster directories (default `<cache>/clusters`). */
  clustersRoot?: string;
  /** Where the PostgreSQL harness makes its directories (default the system temp dir, `/tmp`). */
  tempRoot?: string;
  /** Also delete test address interfaces (default true). Off when a run cleans up on its own: an in-process
   * test against a cluster of one's own (README, "Using an existing cluster") holds no lab lock and may be
   * using one right now. */
  testInterfaces?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Whether `pid` is a live process. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The runs that make their cluster with tools/with_cluster.ts, naming it `<run>-<pid>`. */
export const LAB_RUNS = ["test", "demo", "bench"] as const;
/** One of {@link LAB_RUNS}. */
export type LabRun = typeof LAB_RUNS[number];

/**
 * The cluster instances a lab run made (`test-<pid>`, `demo-<pid>`, `bench-<pid>`) whose run is gone.
 * Instances with other names (`./deno task cluster up [--name N]`) belong to a person and are left alone.
 */
export function abandonedClusters(root: string): string[] {
  const out: string[] = [];
  const pattern = new RegExp(`^(?:${LAB_RUNS.join("|")})-(\\d+)$`);
  try {
    for (const entry of Deno.readDirSync(root)) {
      const match = entry.isDirectory ? pattern.exec(entry.name) : null;
      if (match && !alive(Number(match[1]))) out.push(`${root}/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/** The processes recorded in a lab directory's {@link LAB_PROCESSES_FILE}. */
export function recordedProcesses(labDir: string): ManagedProcess[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${labDir}/${LAB_PROCESSES_FILE}`);
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

/** Harness directories of servers that ran outside the lab are only swept once they are this old. */
const FOREIGN_PG_DIR_AGE_MS = 3_600_000;

/**
 * Whether a PostgreSQL harness directory is a leftover: its server is not running (postmaster.pid names a dead
 * process, or there is none), and it served on a lab address (the lab's own servers die with its namespaces)
 * or is older than an hour — a probe test running outside the lab at this moment may be creating its own.
 */
function stalePgDir(dir: string, now: number): boolean {
  try {
    if (alive(Number(Deno.readTextFileSync(`${dir}/data/postmaster.pid`).split("\n")[0]))) return false;
  } catch { /* never started, or stopped cleanly */ }
  let conf = "";
  try {
    conf = Deno.readTextFileSync(`${dir}/data/postgresql.conf`);
  } catch { /* not initialised */ }
  const labPrefix = LAB_GATEWAY.split(".").slice(0, 2).join(".") + ".";
  if (conf.includes(`listen_addresses = '${labPrefix}`)) return true;
  const mtime = Deno.statSync(dir).mtime?.getTime() ?? now;
  return now - mtime > FOREIGN_PG_DIR_AGE_MS;
}

/**
 * Removes everything an interrupted lab run left behind. The caller must hold the lab lock (tools/lab_lock.ts):
 * the network part removes every lab namespace on the machine.
 */
export async function removeLeftovers(options: LeftoverOptions = {}): Promise<LeftoverReport> {
  const log = options.log ?? (() => {});
  const report: LeftoverReport = {
    clusters: [],
    processes: [],
    namespaces: [],
    interfaces: [],
    directories: [],
  };
  for (const dir of abandonedClusters(options.clustersRoot ?? `${cacheRoot()}/clusters`)) {
    // Lab processes first: agents and controllers talk to this control plane and would log errors meanwhile.
    for (const proc of recordedProcesses(`${dir}/lab`).reverse()) {
      if (!isRunning(proc)) continue;
      await stopProcess(proc, 3_000);
      report.processes.push(`${proc.name} (pid ${proc.pid})`);
      log(`[lab] stopped ${proc.name} (pid ${proc.pid})`);
    }
    for (const component of readState(dir)?.components ?? []) {
      if (isRunning(component)) report.processes.push(`${component.name} (pid ${component.pid})`);
    }
    await down({ dir, log });
    report.clusters.push(dir);
  }
  report.namespaces = await labNamespaces();
  const bridge = await run("ip", ["-o", "link", "show", LAB_BRIDGE], { allowFailure: true });
  await removeNetwork();
  for (const netns of report.namespaces) log(`[lab] removed network namespace ${netns}`);
  if (bridge.code === 0) {
    report.interfaces.push(LAB_BRIDGE);
    log(`[lab] removed bridge ${LAB_BRIDGE}`);
  }
  const links = await run("ip", ["-o", "link", "show"], { allowFailure: true });
  for (const match of links.stdout.matchAll(/^\d+: ([^:@]+)[:@]/gm)) {
    const name = match[1];
    if (!name.startsWith(TEST_ADDRESS_PREFIX) || options.testInterfaces === false) continue;
    await run("ip", ["link", "del", name], { allowFailure: true });
    report.interfaces.push(name);
    log(`[lab] removed test address interface ${name}`);
  }
  const tempRoot = options.tempRoot ?? "/tmp";
  for (const entry of Deno.readDirSync(tempRoot)) {
    const dir = `${tempRoot}/${entry.name}`;
    if (!entry.isDirectory || !entry.name.startsWith(PG_DIR_PREFIX) || !stalePgDir(dir, Date.now())) continue;
    await Deno.remove(dir, { recursive: true });
    report.directories.push(dir);
    log(`[lab] removed ${dir}`);
  }
  return report;
}
