/** Unit tests of the status view aggregated from the agents' slices and node reports. */
import { deepStrictEqual, strictEqual } from "node:assert";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { SwhNodeReport } from "../crds/report.ts";
import type { SwhEndpointStatus } from "../crds/schema.ts";
import { MAX_STATUS_ENDPOINTS } from "../crds/status.ts";
import { aggregateEndpoints } from "./endpoints.ts";
import { makeSwh } from "./testing.ts";

const NOW = new Date("2025-01-01T00:00:00Z");
const swh = makeSwh();

function slice(node: string, pods: [string, string, boolean?][], uid = "uid-1"): IEndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `web-${node}`,
      namespace: "app",
      ownerReferences: [{ apiVersion: "x", kind: "y", name: "web", uid }],
    },
    addressType: "IPv4",
    endpoints: pods.map(([pod, ip, serving = true]) => ({
      addresses: [ip],
      conditions: { ready: serving, serving, terminating: false },
      nodeName: node,
      targetRef: { kind: "Pod", name: pod, namespace: "app", uid: `uid-${pod}` },
    })),
  };
}

function report(node: string, endpoints: SwhEndpointStatus[], uid = "uid-1"): SwhNodeReport {
  return {
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecksNodeReport",
    metadata: { name: `r-${node}`, namespace: "swh-system" },
    swh: { namespace: "app", name: "web", uid },
    node,
    endpoints,
  };
}

const refused = [{ index: 0, mode: "TCP" as const, reason: "ConnectionRefused", consecutiveFailures: 1 }];

Deno.test("aggregate: ready = published and not reported failing; failing pods come from reports, first", () => {
  const view = aggregateEndpoints(
    swh,
    [slice("n1", [["a", "10.0.0.1"], ["b", "10.0.0.2"]]), slice("n2", [["c", "10.0.0.3"]])],
    [
      report("n1", [{ pod: "b", ready: true, addresses: ["10.0.0.2"], failingProbes: refused }]),
      report("n2", [{
        pod: "d",
        ready: false,
        addresses: ["10.0.0.4"],
        lastTransitionTime: "2024-12-31T00:00:00Z",
      }]),
    ],
    undefined,
    NOW,
  );
  deepStrictEqual([view.ready, view.total, view.omitted], [3, 4, 0]);
  deepStrictEqual(view.entries.map((e) => [e.pod, e.node, e.ready]), [
    ["d", "n2", false],
    ["a", "n1", true],
    ["b", "n1", true],
    ["c", "n2", true],
  ]);
  deepStrictEqual(view.entries[2].failingProbes, refused);
  strictEqual(view.entries[0].lastTransitionTime, "2024-12-31T00:00:00Z");
});

Deno.test("aggregate: a report saying ready does not make an unpublished pod ready; a failing report wins over a slice", () => {
  const view = aggregateEndpoints(
    swh,
    [slice("n1", [["a", "10.0.0.1"]])],
    [report("n1", [
      { pod: "a", ready: false, addresses: ["10.0.0.1"], failingProbes: refused },
      { pod: "b", ready: true, addresses: ["10.0.0.2"], failingProbes: refused },
    ])],
    undefined,
    NOW,
  );
  deepStrictEqual(view.entries.map((e) => [e.pod, e.ready]), [["a", false], ["b", false]]);
});

Deno.test("aggregate: objects of a deleted namesake (other uid) are ignored; not-serving endpoints are not ready", () => {
  const view = aggregateEndpoints(
    swh,
    [slice("n1", [["a", "10.0.0.1"]], "old-uid"), slice("n2", [["b", "10.0.0.2", false]])],
    [report("n1", [{ pod: "x", ready: false }], "old-uid")],
    undefined,
    NOW,
  );
  deepStrictEqual(view.entries.map((e) => [e.pod, e.ready]), [["b", false]]);
});

Deno.test("aggregate: transition times kept while ready holds; the list is capped with the rest counted", () => {
  const pods: [string, string][] = Array.from(
    { length: MAX_STATUS_ENDPOINTS + 5 },
    (_, i) => [`p${String(i).padStart(3, "0")}`, `10.0.${i >> 8}.${i & 255}`],
  );
  const first = aggregateEndpoints(swh, [slice("n1", pods)], [], undefined, NOW);
  deepStrictEqual([first.total, first.entries.length, first.omitted], [pods.length, MAX_STATUS_ENDPOINTS, 5]);
  const later = aggregateEndpoints(
    swh,
    [slice("n1", pods)],
    [],
    first.entries,
    new Date("2025-02-01T00:00:00Z"),
  );
  strictEqual(later.entries[0].lastTransitionTime, "2025-01-01T00:00:00Z");
});
