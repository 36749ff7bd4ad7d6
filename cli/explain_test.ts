import { deepStrictEqual, ok } from "node:assert";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { explain, renderExplanation } from "./explain.ts";

function pod(name: string, ip: string | undefined, labels: Record<string, string>): IPod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "my-ns", labels },
    spec: { nodeName: "node-a", containers: [] },
    status: { phase: "Running", podIP: ip, podIPs: ip ? [{ ip }] : undefined },
  };
}

const swh = {
  apiVersion: "network.deckhouse.io/v1alpha1",
  kind: "ServiceWithHealthchecks",
  metadata: { name: "postgres-write", namespace: "my-ns" },
  spec: { selector: { app: "postgres" } },
  status: {
    clusterIP: "10.96.0.20",
    conditions: [{
      type: "Ready",
      status: "True",
      reason: "EndpointsReady",
      message: "",
      lastTransitionTime: "2026-11-26T08:00:00Z",
    }],
    endpoints: [
      { pod: "db-0", node: "node-a", ready: true, lastTransitionTime: "2026-11-26T08:00:01.123Z" },
      {
        pod: "db-1",
        node: "node-a",
        ready: false,
        failingProbes: [{
          index: 0,
          mode: "PostgreSQL",
          reason: "QueryFalse",
          message: "first column is false",
        }],
      },
    ],
  },
} as unknown as ServiceWithHealthchecks;

const slice: IEndpointSlice = {
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  addressType: "IPv4",
  metadata: { name: "s" },
  endpoints: [{ addresses: ["10.244.1.1"], targetRef: { kind: "Pod", name: "db-0" } }],
};

Deno.test("explain says for each selected pod whether it is published and why", () => {
  const result = explain(swh, [
    pod("db-1", "10.244.1.2", { app: "postgres" }),
    pod("db-0", "10.244.1.1", { app: "postgres" }),
    pod("db-2", undefined, { app: "postgres" }),
    pod("web", "10.244.1.9", { app: "web" }),
  ], [slice]);
  deepStrictEqual(result.rows.map((r) => [r.pod, r.inSlices]), [["db-0", true], ["db-1", false], [
    "db-2",
    false,
  ]]);
  deepStrictEqual([result.rows[0].why, result.rows[0].since], [
    "all probes pass",
    "2026-11-26T08:00:01.123Z",
  ]);
  deepStrictEqual(result.rows[1].why, "probe 0 (PostgreSQL) QueryFalse: first column is false");
  deepStrictEqual(result.rows[2].why, "pod has no IP yet");
  ok(result.title.startsWith("my-ns/postgres-write: 1/3 pods in the slices; Ready=True (EndpointsReady)"));
  const text = renderExplanation(result, { now: Date.parse("2026-11-26T08:00:13Z") });
  ok(text.split("\n")[1].startsWith("POD "), text);
  ok(text.includes("db-0  node-a  10.244.1.1  yes  11s ago  all probes pass"), text);
  ok(text.includes("db-1  node-a  10.244.1.2  no   -        probe 0 (PostgreSQL) QueryFalse"), text);
});

Deno.test("explain prefers the agent's report: a pod that passes but has started failing says so", () => {
  const withProbe = {
    ...swh,
    spec: {
      selector: { app: "postgres" },
      healthcheck: { probes: [{ mode: "PostgreSQL", failureThreshold: 3 }] },
    },
  } as unknown as ServiceWithHealthchecks;
  const result = explain(withProbe, [pod("db-0", "10.244.1.1", { app: "postgres" })], [slice], [{
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecksNodeReport",
    metadata: { name: "r" },
    swh: { namespace: "my-ns", name: "postgres-write", uid: "" },
    node: "node-a",
    endpoints: [{
      pod: "db-0",
      ready: true,
      lastTransitionTime: "2026-11-26T08:00:01Z",
      failingProbes: [{ index: 0, mode: "PostgreSQL", reason: "Timeout", consecutiveFailures: 1 }],
    }],
  }]);
  deepStrictEqual(
    result.rows[0].why,
    "probe 0 (PostgreSQL) failing 1/3: Timeout",
  );
});
