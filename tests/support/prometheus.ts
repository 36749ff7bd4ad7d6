/**
 * Reading Prometheus text exposition (kube-apiserver's /metrics, our programs' /metrics) for benchmarks: samples
 * with their labels, sums grouped by chosen labels, and the difference between two scrapes.
 *
 * @module
 */

/** One sample line: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the samples of `text` whose metric name is in `names` (all when omitted); skips comments. */
export function parseSamples(text: string, names?: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = line.slice(0, nameEnd);
    if (names && !names.has(name)) continue;
    const labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith("{")) {
      const close = rest.lastIndexOf("}");
      for (const m of rest.slice(1, close).matchAll(LABEL)) {
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
      rest = rest.slice(close + 1);
    }
    // A timestamp may follow the value.
    samples.push({ name, labels, value: Number(rest.trim().split(/\s+/)[0]) });
  }
  return samples;
}

/** Sums of samples named `name` (and accepted by `filter`), keyed by `key(labels)`. */
export function sumBy(
  samples: readonly Sample[],
  name: string,
  key: (labels: Readonly<Record<string, string>>) => string,
  filter: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): Map<string, number> {
  const sums = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !filter(s.labels)) continue;
    const k = key(s.labels);
    sums.set(k, (sums.get(k) ?? 0) + s.value);
  }
  return sums;
}

/** `after - before` per key (counters: what happened in between); keys that did not change are left out. */
export function difference(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  const diff = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) diff.set(k, d);
  }
  return diff;
}

/** The sum of every value in `sums`. */
export function total(sums: ReadonlyMap<string, number>): number {
  let t = 0;
  for (const v of sums.values()) t += v;
  return t;
}
