import { strictEqual } from "node:assert/strict";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { AgentLiveness } from "./liveness.ts";

const lease = (node: string, rv: string, seconds = 40): ILease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name: `swh-agent-${node}`, resourceVersion: rv },
  spec: { holderIdentity: node, leaseDurationSeconds: seconds },
});

Deno.test("liveness: stale once no renewal was seen for the lease duration; unknown nodes are not judged", () => {
  let now = 0;
  const live = new AgentLiveness(() => now);
  strictEqual(live.stale("a"), false, "no lease: not judged");
  live.observe(lease("a", "1"));
  now = 39_000;
  strictEqual(live.stale("a"), false);
  live.observe(lease("a", "1")); // the same resourceVersion again (a relist): not a renewal
  now = 40_000;
  strictEqual(live.stale("a"), true);
  strictEqual(live.silentSeconds("a"), 40);
  live.observe(lease("a", "2"));
  strictEqual(live.stale("a"), false);
  strictEqual(live.staleIn("a"), 40_000);
  live.forget(lease("a", "2"));
  strictEqual(live.staleIn("a"), undefined);
});
