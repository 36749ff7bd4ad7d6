import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { selectEndpoints } from "./endpoints.ts";
import { entriesContent, statusEntries } from "./status_entries.ts";
import { makePod, makeSwh } from "./testing.ts";

const swh = makeSwh({
  spec: {
    selector: { app: "web" },
    ports: [{ port: 80 }],
    healthcheck: {
      probes: [{ mode: "TCP", tcp: { targetPort: 80 } }, { mode: "HTTP", http: { targetPort: 80 } }],
    },
  },
});

Deno.test("one entry per pod: dual-stack addresses together, failing probes with reasons, terminating", () => {
  const pods = [
    makePod({ name: "a", ips: ["10.0.0.1", "fd00::1"] }),
    makePod({ name: "b", terminating: true }),
  ];
  const eps = selectEndpoints(swh, pods, "node-a");
  const now = new Date("2025-01-02T03:04:05.678Z");
  const entries = statusEntries(
    swh,
    "node-a",
    eps,
    (key) =>
      key === "uid-a/fd00::1"
        ? { healthy: false, failing: [{ index: 1, reason: "UnexpectedStatus", message: "HTTP 503" }] }
        : { healthy: true, failing: [] },
    [],
    now,
  );
  deepStrictEqual(entries, [
    {
      pod: "a",
      node: "node-a",
      addresses: ["10.0.0.1", "fd00::1"],
      ready: false,
      terminating: false,
      failingProbes: [{ index: 1, mode: "HTTP", reason: "UnexpectedStatus", message: "HTTP 503" }],
      lastTransitionTime: "2025-01-02T03:04:05Z",
    },
    {
      pod: "b",
      node: "node-a",
      addresses: ["10.0.0.1"],
      ready: true,
      terminating: true,
      lastTransitionTime: "2025-01-02T03:04:05Z",
    },
  ]);
});

Deno.test("lastTransitionTime is kept while ready does not change, so recomputing writes nothing", () => {
  const eps = selectEndpoints(swh, [makePod({ name: "a" })], "node-a");
  const t1 = new Date("2025-01-01T00:00:00Z"), t2 = new Date("2025-01-01T00:01:00Z");
  const healthy = () => ({ healthy: true, failing: [] });
  const first = statusEntries(swh, "node-a", eps, healthy, [], t1);
  const again = statusEntries(swh, "node-a", eps, healthy, first, t2);
  strictEqual(entriesContent(again), entriesContent(first));
  const flipped = statusEntries(swh, "node-a", eps, () => undefined, first, t2);
  deepStrictEqual([flipped[0].ready, flipped[0].lastTransitionTime], [false, "2025-01-01T00:01:00Z"]);
  ok(entriesContent(flipped) !== entriesContent(first));
});
