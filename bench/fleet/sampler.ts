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

interface Accumulator {
  readonly startedAt: number;
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
      return this.#classes.map((c, i) => {
        let ticks = 0;
        for (const pid of c.pids) {
          ticks += (end.get(pid) ?? 0) - (acc.startTicks.get(pid) ?? end.get(pid) ?? 0);
        }
        return {
          name: c.name,
          processes: c.pids.length,
          rssMeanMiB: acc.samples ? acc.rssSums[i] / acc.samples : 0,
          rssMaxMiB: acc.rssMax[i],
          cpuPercent: (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100,
        };
      });
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
