import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { fleetTopology } from "./topology.ts";

Deno.test("fleet topology: every node carries podsPerNode pods, each SWH's pods sit on different nodes", () => {
  const t = fleetTopology({ nodes: 7, podsPerNode: 5, swhs: 6, podsPerSwh: 5 });
  strictEqual(t.pods.length, 35);
  for (const node of t.nodes) strictEqual(t.pods.filter((p) => p.node === node).length, 5);
  strictEqual(t.swhs.size, 6);
  for (const [name, indexes] of t.swhs) {
    strictEqual(indexes.length, 5);
    strictEqual(new Set(indexes.map((i) => t.pods[i].node)).size, 5, `${name} spans 5 nodes`);
    for (const i of indexes) strictEqual(t.pods[i].swh, name);
  }
  // 30 pods are selected, the last 5 by no SWH.
  deepStrictEqual(t.pods.filter((p) => !p.swh).map((p) => p.index), [30, 31, 32, 33, 34]);
});
