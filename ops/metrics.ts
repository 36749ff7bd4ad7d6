/** A small Prometheus metrics registry: counters, gauges and histograms with labels, text exposition. */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",");
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function series(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ""} ${Number.isFinite(value) ? value : value > 0 ? "+Inf" : "-Inf"}`;
}

interface Metric {
  readonly name: string;
  expose(): string[];
}

/** A monotonically increasing count. */
export class Counter implements Metric {
  readonly #values = new Map<string, number>();
  readonly #labels = new Map<string, Labels>();
  /** @param name metric name; @param help one-line description. */
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `by` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
    this.#labels.set(key, labels);
  }
  /** Removes every series whose labels include `subset` (the object they count went away: bounded series). */
  deleteMatching(subset: Labels): void {
    for (const [key, labels] of this.#labels) {
      if (Object.entries(subset).every(([k, v]) => labels[k] === v)) {
        this.#values.delete(key);
        this.#labels.delete(key);
      }
    }
  }
  /**
   * Creates the series with `labels` at 0 unless it exists, so it is exposed before the first increment: a
   * `rate()` or an alert over it then sees the 0 → 1 step instead of a series that appears from nowhere.
   */
  init(labels: Labels = {}): this {
    const key = labelKey(labels);
    if (!this.#values.has(key)) {
      this.#values.set(key, 0);
      this.#labels.set(key, labels);
    }
    return this;
  }
  /** Current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /** Exposition lines. */
  expose(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.#values].map(([k, v]) => series(this.name, k, v)),
    ];
  }
}

/** A value that goes up and down. */
export class Gauge implements Metric {
  readonly #values = new Map<string, number>();
  /** @param name metric name; @param help one-line description. */
  constructor(readonly name: string, readonly help: string) {}
  /** Sets the series with `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(labels), value);
  }
  /** Removes the series with `labels` (an object that went away). */
  delete(labels: Labels): void {
    this.#values.delete(labelKey(labels));
  }
  /** Current value of one series, or undefined. */
  get(labels: Labels = {}): number | undefined {
    return this.#values.get(labelKey(labels));
  }
  /** Exposition lines. */
  expose(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      ...[...this.#values].map(([k, v]) => series(this.name, k, v)),
    ];
  }
}

/** Observations counted into cumulative buckets (seconds, by convention). */
export class Histogram implements Metric {
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  /** @param buckets upper bounds, ascending. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ) {}
  /** Creates the series with `labels` with empty buckets unless it exists (see {@link Counter.init}). */
  init(labels: Labels = {}): this {
    this.#entry(labelKey(labels));
    return this;
  }
  /** Records one observation into the series with `labels`. */
  observe(labels: Labels, value: number): void {
    const entry = this.#entry(labelKey(labels));
    this.buckets.forEach((bound, i) => {
      if (value <= bound) entry.counts[i]++;
    });
    entry.sum += value;
    entry.count++;
  }
  /** Exposition lines. */
  expose(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, entry] of this.#series) {
      const sep = key ? `${key},` : "";
      this.buckets.forEach((bound, i) =>
        lines.push(`${this.name}_bucket{${sep}le="${bound}"} ${entry.counts[i]}`)
      );
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${entry.count}`);
      lines.push(series(`${this.name}_sum`, key, entry.sum));
      lines.push(series(`${this.name}_count`, key, entry.count));
    }
    return lines;
  }
  #entry(key: string): { counts: number[]; sum: number; count: number } {
    let entry = this.#series.get(key);
    if (!entry) {
      entry = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, entry);
    }
    return entry;
  }
}

/** A set of metrics exposed together. */
export class Registry {
  readonly #metrics: Metric[] = [];
  /** Registers and returns a counter. */
  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }
  /** Registers and returns a gauge. */
  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }
  /** Registers and returns a histogram. */
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }
  /** Prometheus text exposition format (version 0.0.4). */
  expose(): string {
    return this.#metrics.flatMap((m) => m.expose()).join("\n") + "\n";
  }
  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new Error(`metric ${metric.name} registered twice`);
    }
    this.#metrics.push(metric);
    return metric;
  }
}
