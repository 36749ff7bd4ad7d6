/** Unit tests of the status summary: conditions, transition times, counts and Service addresses. */
import { deepStrictEqual } from "node:assert";
import { desiredStatus, readyVerdict } from "./status.ts";
import type { ConditionVerdict, ReadyInputs } from "./status.ts";
import { makeSwh } from "./testing.ts";
import type { EndpointView } from "./endpoints.ts";

const OK: ConditionVerdict = { status: "True", reason: "Applied", message: "Service applied" };
const CREDS: ConditionVerdict = { status: "True", reason: "NotRequired", message: "none" };
const T0 = new Date("2025-01-01T00:00:00.123Z");
const T1 = new Date("2025-01-01T01:00:00Z");
const NONE: EndpointView = { entries: [], ready: 0, total: 0, omitted: 0 };

function byType(status: ReturnType<typeof desiredStatus>) {
  return Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c]));
}

Deno.test("status carries the aggregated pods and counts, and reflects the Service addresses", () => {
  const swh = makeSwh({ generation: 3 });
  const entries = [
    { pod: "b", node: "n1", ready: false },
    { pod: "a", node: "n1", ready: true },
    { pod: "c", node: "n2", ready: true },
  ];
  const status = desiredStatus(swh, {
    service: OK,
    credentials: CREDS,
    now: T0,
    endpoints: { entries, ready: 2, total: 3, omitted: 0 },
    serviceObject: {
      apiVersion: "v1",
      kind: "Service",
      spec: { clusterIP: "10.96.0.7", clusterIPs: ["10.96.0.7"] },
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.9", ipMode: "VIP" }] } },
    },
  });
  deepStrictEqual(
    [status.readyEndpoints, status.totalEndpoints, status.endpointSummary, status.observedGeneration],
    [2, 3, "2/3", 3],
  );
  deepStrictEqual(status.endpoints, entries);
  deepStrictEqual("endpointsOmitted" in status, false);
  deepStrictEqual([status.clusterIP, status.clusterIPs], ["10.96.0.7", ["10.96.0.7"]]);
  deepStrictEqual(status.loadBalancer, { ingress: [{ ip: "192.0.2.9", ipMode: "VIP" }] });
  const c = byType(status);
  deepStrictEqual([c.Ready.status, c.Ready.reason, c.Ready.observedGeneration], [
    "True",
    "EndpointsReady",
    3,
  ]);
  deepStrictEqual(c.Ready.lastTransitionTime, "2025-01-01T00:00:00Z");
  deepStrictEqual(c.ServiceReady.reason, "Applied");
  deepStrictEqual(c.Credentials.reason, "NotRequired");
});

Deno.test("lastTransitionTime is kept while a condition's status stays, and moves when it changes", () => {
  const first = desiredStatus(makeSwh(), { service: OK, credentials: CREDS, now: T0, endpoints: NONE });
  deepStrictEqual(byType(first).Ready.reason, "NoReadyEndpoints");
  const swh = makeSwh({ status: { conditions: first.conditions } });
  const same = desiredStatus(swh, {
    service: { ...OK, message: "other words" },
    credentials: CREDS,
    now: T1,
    endpoints: NONE,
  });
  deepStrictEqual(byType(same).ServiceReady.lastTransitionTime, "2025-01-01T00:00:00Z");
  deepStrictEqual(byType(same).ServiceReady.message, "other words");
  const changed = desiredStatus(swh, {
    service: { status: "False", reason: "ServiceConflict", message: "taken" },
    credentials: CREDS,
    now: T1,
    endpoints: NONE,
  });
  const c = byType(changed);
  deepStrictEqual(c.ServiceReady.lastTransitionTime, "2025-01-01T01:00:00Z");
  deepStrictEqual([c.Ready.status, c.Ready.reason, c.Ready.message], ["False", "ServiceConflict", "taken"]);
  deepStrictEqual(c.Ready.lastTransitionTime, "2025-01-01T00:00:00Z", "Ready was False before too");
  deepStrictEqual(changed.clusterIP, undefined);
});

Deno.test("Ready names the root cause: Service, credentials, no pods, a shared configuration problem, failing probes", () => {
  const view = (entries: EndpointView["entries"]): EndpointView => ({
    entries,
    ready: entries.filter((e) => e.ready).length,
    total: entries.length,
    omitted: 0,
  });
  const fail = (pod: string, reason: string, ready = false, message = "details") => ({
    pod,
    ready,
    failingProbes: [{ index: 0, mode: "TCP" as const, reason, message, consecutiveFailures: 1 }],
  });
  const verdict = (inputs: Partial<ReadyInputs>) =>
    readyVerdict({
      service: OK,
      credentials: CREDS,
      endpoints: NONE,
      failureThreshold: () => 3,
      ...inputs,
    });
  const missing = {
    status: "False" as const,
    reason: "SecretNotFound",
    message: "Secret my-ns/cred not found",
  };
  deepStrictEqual(verdict({ credentials: missing }).reason, "SecretNotFound");
  deepStrictEqual(verdict({ podsSelected: false }), {
    status: "False",
    reason: "NoPodsSelected",
    message: "no pod matches the selector",
  });
  deepStrictEqual(verdict({ podsSelected: true }).reason, "NoReadyEndpoints");
  const ports = verdict({ endpoints: view([fail("a", "PortNotFound"), fail("b", "PortNotFound")]) });
  deepStrictEqual([ports.reason, ports.message], [
    "PortNotFound",
    "0/2 endpoints pass their probes: a PortNotFound, b PortNotFound (details)",
  ]);
  deepStrictEqual(
    verdict({ endpoints: view([fail("a", "PortNotFound"), fail("b", "Timeout")]) }).reason,
    "ProbesFailing",
  );
  const partly = verdict({
    endpoints: view([fail("a", "QueryFalse"), fail("b", "Timeout", true), { pod: "c", ready: true }]),
  });
  deepStrictEqual([partly.status, partly.reason, partly.message], [
    "True",
    "EndpointsReady",
    "2/3 endpoints pass their probes; not ready: a QueryFalse; b failing 1/3: Timeout",
  ]);
});
