import { deepStrictEqual, strictEqual } from "node:assert";
import { selectEndpoints } from "./endpoints.ts";
import { reportEntries } from "./report_entries.ts";
import type { EndpointVerdict } from "./report_entries.ts";
import { reportContent } from "./report_writer.ts";
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

const healthy: EndpointVerdict = { healthy: true, failing: [] };
const now = new Date("2025-01-02T03:04:05.678Z");

Deno.test("report entries: failing pods (dual-stack as one), pods failing below the threshold; healthy pods left out", () => {
  const pods = [
    makePod({ name: "a", ips: ["10.0.0.1", "fd00::1"] }),
    makePod({ name: "b", terminating: true }),
    makePod({ name: "c" }),
  ];
  const eps = selectEndpoints(swh, pods, "node-a");
  const entries = reportEntries(
    swh,
    "node-a",
    eps,
    (key) => {
      if (key === "uid-a/fd00::1") {
        return {
          healthy: false,
          failing: [{ index: 1, reason: "UnexpectedStatus", message: "HTTP 503", consecutiveFailures: 3 }],
        };
      }
      if (key.startsWith("uid-c/")) {
        return {
          healthy: true,
          failing: [{ index: 0, reason: "ConnectionRefused", message: "refused", consecutiveFailures: 1 }],
        };
      }
      return healthy;
    },
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
      failingProbes: [{
        index: 1,
        mode: "HTTP",
        reason: "UnexpectedStatus",
        message: "HTTP 503",
        consecutiveFailures: 3,
      }],
      lastTransitionTime: "2025-01-02T03:04:05Z",
    },
    {
      pod: "c",
      node: "node-a",
      addresses: ["10.0.0.1"],
      ready: true,
      terminating: false,
      failingProbes: [{
        index: 0,
        mode: "TCP",
        reason: "ConnectionRefused",
        message: "refused",
        consecutiveFailures: 1,
      }],
      lastTransitionTime: "2025-01-02T03:04:05Z",
    },
  ]);
});

Deno.test("report entries: a pod not probed yet is left out while pending, reported NotYetProbed after", () => {
  const eps = selectEndpoints(swh, [makePod({ name: "a" })], "node-a");
  const waiting = (pending: boolean): EndpointVerdict => ({
    healthy: false,
    pending,
    failing: [{ index: 0, reason: "NotYetProbed", message: "not probed yet", consecutiveFailures: 0 }],
  });
  deepStrictEqual(reportEntries(swh, "node-a", eps, () => waiting(true), [], now), []);
  // After a restart nothing is probed yet: the previous report's entry stands.
  const before = { pod: "a", node: "node-a", ready: false, lastTransitionTime: "2024-01-01T00:00:00Z" };
  deepStrictEqual(reportEntries(swh, "node-a", eps, () => waiting(true), [before], now), [before]);
  const late = reportEntries(swh, "node-a", eps, () => waiting(false), [], now);
  deepStrictEqual([late.length, late[0].ready, late[0].failingProbes?.[0].reason], [
    1,
    false,
    "NotYetProbed",
  ]);
});

Deno.test("report entries: transition time kept while ready is unchanged; message and count changes write nothing", () => {
  const eps = selectEndpoints(swh, [makePod({ name: "a" })], "node-a");
  const failing = (message: string, count: number, reason = "Timeout"): EndpointVerdict => ({
    healthy: false,
    since: new Date("2025-01-01T00:00:00Z"),
    failing: [{ index: 0, reason, message, consecutiveFailures: count }],
  });
  const first = reportEntries(swh, "node-a", eps, () => failing("after 1s", 3), [], now);
  strictEqual(first[0].lastTransitionTime, "2025-01-01T00:00:00Z");
  const later = reportEntries(swh, "node-a", eps, () => failing("after 1.0s", 4), first, now);
  strictEqual(later[0].lastTransitionTime, "2025-01-01T00:00:00Z");
  strictEqual(reportContent(later), reportContent(first));
  const otherReason = reportEntries(
    swh,
    "node-a",
    eps,
    () => failing("refused", 5, "ConnectionRefused"),
    first,
    now,
  );
  strictEqual(reportContent(otherReason) === reportContent(first), false);
});
