import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  agentFieldManager,
  mirroredSecretName,
  NODE_ANNOTATION,
  NODE_LABEL,
  nodeLabelValue,
  reportName,
  sliceNode,
} from "./conventions.ts";

/** v0.1's mirror name: a 40-character readable prefix and a 32-bit FNV-1a hash. Kept here to show the flaw. */
function v01Name(namespace: string, name: string): string {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(`${namespace}/${name}`)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  const readable = `${namespace}-${name}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 40).replace(
    /-+$/,
    "",
  );
  return `swh-cred-${readable}-${h.toString(16).padStart(8, "0")}`;
}

/** Two tenants' Secrets whose v0.1 copies share one name: found by a birthday search over 32 bits. */
function collidingPair(): [[string, string], [string, string]] {
  const base = "credentials-for-the-primary-database-x"; // long enough that suffixes fall past the 40 characters
  const seen = new Map<string, string>();
  for (let i = 0; i < 1_000_000; i++) {
    const a = v01Name("team-a", `${base}-${i}`);
    const b = v01Name("team", `a-${base}-${i}`);
    if (a === b) return [["team-a", `${base}-${i}`], ["team", `a-${base}-${i}`]];
    const hitA = seen.get(a);
    if (hitA !== undefined && hitA !== `team-a/${base}-${i}`) {
      return [split(hitA), ["team-a", `${base}-${i}`]];
    }
    const hitB = seen.get(b);
    if (hitB !== undefined && hitB !== `team/a-${base}-${i}`) {
      return [split(hitB), ["team", `a-${base}-${i}`]];
    }
    seen.set(a, `team-a/${base}-${i}`);
    seen.set(b, `team/a-${base}-${i}`);
  }
  throw new Error("no collision found");
}

function split(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

Deno.test("mirrored Secret names: sources that collided under v0.1's 32-bit hash get different copies", () => {
  const [[nsA, a], [nsB, b]] = collidingPair();
  notStrictEqual(`${nsA}/${a}`, `${nsB}/${b}`);
  strictEqual(v01Name(nsA, a), v01Name(nsB, b), "the v0.1 scheme gave both tenants one copy");
  notStrictEqual(mirroredSecretName(nsA, a), mirroredSecretName(nsB, b));
  for (const n of [mirroredSecretName(nsA, a), mirroredSecretName(nsB, b)]) {
    strictEqual(n.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n), true, n);
  }
});

Deno.test("report names: deterministic, DNS-safe, distinct per SWH and node", () => {
  const n = reportName("my-ns", "postgres-write", "node-a.example.com");
  strictEqual(n, reportName("my-ns", "postgres-write", "node-a.example.com"));
  notStrictEqual(n, reportName("my-ns", "postgres-write", "node-b.example.com"));
  notStrictEqual(n, reportName("my", "ns-postgres-write", "node-a.example.com"));
  strictEqual(n.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n), true, n);
});

/** Kubernetes' label value rule (at most 63 characters). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

Deno.test("node label values: the name when it fits, else its first 63 characters without trailing - and .", () => {
  strictEqual(nodeLabelValue("node-a.example.com"), "node-a.example.com");
  const sixtyThree = `${"a".repeat(62)}b`;
  strictEqual(nodeLabelValue(sixtyThree), sixtyThree);
  // A long node name: DNS labels of 61 characters joined by dots; its first 63 characters end in "b".
  const longest = [..."abcd"].map((c) => c.repeat(61)).join(".") + ".e";
  strictEqual(longest.length, 249);
  const label = nodeLabelValue(longest);
  strictEqual(label, `${"a".repeat(61)}.b`);
  ok(LABEL_VALUE.test(label) && label.length <= 63);
  strictEqual(
    nodeLabelValue(`${"a".repeat(62)}.${"b".repeat(61)}`),
    "a".repeat(62),
    "a trailing dot trimmed",
  );
  const dashes = `${"c".repeat(60)}---${"d".repeat(10)}`;
  strictEqual(nodeLabelValue(dashes), "c".repeat(60));
  for (const node of [longest, dashes, `${"x".repeat(62)}.y.z`]) {
    const value = nodeLabelValue(node);
    ok(LABEL_VALUE.test(value) && value.length <= 63 && node.startsWith(value), value);
  }
});

Deno.test("slice node: the annotation for long names, else the label; field managers stay within 128", () => {
  strictEqual(sliceNode({ metadata: { labels: { [NODE_LABEL]: "node-a" } } }), "node-a");
  const long = `${"n".repeat(70)}.example.com`;
  strictEqual(
    sliceNode({
      metadata: { labels: { [NODE_LABEL]: nodeLabelValue(long) }, annotations: { [NODE_ANNOTATION]: long } },
    }),
    long,
  );
  strictEqual(sliceNode({}), undefined);
  strictEqual(agentFieldManager("node-a"), "swh-agent-node-a");
  const longest = "m".repeat(253);
  const manager = agentFieldManager(longest);
  ok(manager.length <= 128, manager);
  notStrictEqual(manager, agentFieldManager(`${"m".repeat(252)}n`), "distinct for names sharing a prefix");
});
