/**
 * RSS and CPU per component class (agents, controller, kube-apiserver, etcd, …) over measurement windows, read
 * from /proc once a second: which process the machine's time went to.
 *
 * @module
 */
import { CLOCK_TICKS_PER_SECOND, procStats } from "../../tests/support/measure.ts";

/** A class of processes measured together. */
export interface ProcessClass {
  readonly name: string;
  readonly pids: readonly number[];
}

/** One class over one window. */
export interface ClassUsage {
  readonly name: string;
  readonly processes: number;
  /** Mean over the window's samples of the mean RSS of the class's processes. */
  readonly rssMeanMiB: number;
  /** Largest RSS of any one process of the class at any sample. */
  readonly rssMaxMiB: number;
  /** CPU time of the whole class over the window, in % of one core. */
  readonly cpuPercent: number;
}

/** Busy CPU ticks of the whole machine so far (all cores; /proc/stat minus idle and iowait). */
function machineBusyTicks(): number {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  return fields.slice(0, 8).reduce((a, b) => a + b, 0) - fields[3] - fields[4];
}

/** Name of the row for CPU used by processes outside every class (other work on a shared machine). */
export const OTHERS = "everything else on the machine";

interface Accumulator {
  readonly startedAt: number;
  readonly machineStart: number;
  readonly startTicks: Map<number, number>;
  readonly rssSums: number[];
  readonly rssMax: number[];
  samples: number;
}

/** Samples every class once a second while any window is open. */
export class ProcSampler {
  readonly #classes: readonly ProcessClass[];
  readonly #open = new Set<Accumulator>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts sampling `classes` (stop with {@link ProcSampler.close}). */
  constructor(classes: readonly ProcessClass[], intervalMs = 1_000) {
    this.#classes = classes;
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** Opens a window; the returned function closes it and reports each class's usage over it. */
  begin(): () => ClassUsage[] {
    const acc: Accumulator = {
      startedAt: performance.now(),
      startTicks: this.#ticks(),
      machineStart: machineBusyTicks(),
      rssSums: this.#classes.map(() => 0),
      rssMax: this.#classes.map(() => 0),
      samples: 0,
    };
    this.#open.add(acc);
    return () => {
      this.#sample();
      this.#open.delete(acc);
      const seconds = (performance.now() - acc.startedAt) / 1000;
      const end = this.#ticks();
      const percent = (ticks: number) => (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100;
      const usage = this.#classes.map((c, i): ClassUsage => {
        let ticks = 0;
        // A process started within the window (a restarted agent) counts from zero; one that ended within it
        // (the agent it replaced) is no longer listed and its time is lost.
        for (const pid of c.pids) ticks += (end.get(pid) ?? 0) - (acc.startTicks.get(pid) ?? 0);
        return {
          name: c.name,
          processes: c.pids.length,
          rssMeanMiB: acc.samples ? acc.rssSums[i] / acc.samples : 0,
          rssMaxMiB: acc.rssMax[i],
          cpuPercent: percent(ticks),
        };
      });
      // The machine is shared: what the classes did not use, someone else did.
      const machine = percent(machineBusyTicks() - acc.machineStart);
      const ours = usage.reduce((a, u) => a + u.cpuPercent, 0);
      usage.push({
        name: OTHERS,
        processes: 0,
        rssMeanMiB: 0,
        rssMaxMiB: 0,
        cpuPercent: Math.max(0, machine - ours),
      });
      return usage;
    };
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.#timer);
  }

  #ticks(): Map<number, number> {
    const ticks = new Map<number, number>();
    for (const c of this.#classes) {
      for (const pid of c.pids) {
        const s = procStats(pid);
        if (s) ticks.set(pid, s.cpuTicks);
      }
    }
    return ticks;
  }

  #sample(): void {
    if (this.#open.size === 0) return;
    const means: number[] = [];
    const maxes: number[] = [];
    for (const c of this.#classes) {
      const rss = c.pids.map((pid) => procStats(pid)?.rssMiB).filter((r): r is number => r !== undefined);
      means.push(rss.length ? rss.reduce((a, b) => a + b, 0) / rss.length : 0);
      maxes.push(Math.max(0, ...rss));
    }
    for (const acc of this.#open) {
      acc.samples++;
      means.forEach((m, i) => (acc.rssSums[i] += m));
      maxes.forEach((m, i) => (acc.rssMax[i] = Math.max(acc.rssMax[i], m)));
    }
  }
}
