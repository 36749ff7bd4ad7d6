/** Unit tests of `validateSwh`: defaults, error paths, narrowing, and status entries. */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { HEALTHCHECK_DEFAULTS } from "./healthcheck.ts";
import type { Probe, ServiceWithHealthchecksInput, SwhEndpointStatus } from "./schema.ts";
import {
  formatFieldPath,
  formatSwhErrors,
  parseSwh,
  sameAsParsed,
  type SwhFieldError,
  SwhValidationError,
  validateSwh,
} from "./validate.ts";

function minimal(): ServiceWithHealthchecksInput {
  return {
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: { name: "web", namespace: "my-ns", uid: "u-1", managedFields: [{ manager: "kubectl" }] },
    spec: {
      ports: [{ port: 80, targetPort: "http" }],
      selector: { app: "web" },
      healthcheck: {
        probes: [
          { mode: "HTTP", http: { targetPort: 8080 } },
          { mode: "PostgreSQL", postgreSQL: { targetPort: 5432, authSecretName: "cred" } },
        ],
      },
    },
  };
}

function errorsOf(obj: unknown): SwhFieldError[] {
  const result = validateSwh(obj);
  ok(!result.ok, "expected a rejection");
  return result.errors;
}

Deno.test("defaults are applied as the apiserver applies them", () => {
  const result = validateSwh(minimal());
  ok(result.ok, result.ok ? "" : formatSwhErrors(result.errors));
  const { spec } = result.value;
  strictEqual(spec.type, "ClusterIP");
  strictEqual(spec.ports?.[0].protocol, "TCP");
  strictEqual(spec.healthcheck.initialDelaySeconds, HEALTHCHECK_DEFAULTS.initialDelaySeconds);
  strictEqual(spec.healthcheck.periodSeconds, HEALTHCHECK_DEFAULTS.periodSeconds);
  const [http, pg] = spec.healthcheck.probes;
  deepStrictEqual(
    [http.timeoutSeconds, http.successThreshold, http.failureThreshold],
    [
      HEALTHCHECK_DEFAULTS.timeoutSeconds,
      HEALTHCHECK_DEFAULTS.successThreshold,
      HEALTHCHECK_DEFAULTS.failureThreshold,
    ],
  );
  ok(http.mode === "HTTP" && pg.mode === "PostgreSQL");
  deepStrictEqual(http.http, { targetPort: 8080, path: "/", method: "GET", scheme: "HTTP" });
  deepStrictEqual(pg.postgreSQL, {
    targetPort: 5432,
    authSecretName: "cred",
    dbName: "postgres",
    query: "SELECT 1",
  });
});

Deno.test("metadata keeps fields the schema does not name (objects read from the apiserver)", () => {
  const result = validateSwh(minimal());
  ok(result.ok);
  deepStrictEqual(result.value.metadata.managedFields, [{ manager: "kubectl" }]);
});

Deno.test("probe types narrow on mode", () => {
  const describe = (p: Probe): string => {
    switch (p.mode) {
      case "TCP":
        return `tcp ${p.tcp.targetPort}`;
      case "HTTP":
        return `${p.http.method} ${p.http.path}`;
      case "PostgreSQL":
        return p.postgreSQL.query;
    }
  };
  const result = validateSwh(minimal());
  ok(result.ok);
  deepStrictEqual(result.value.spec.healthcheck.probes.map(describe), ["GET /", "SELECT 1"]);
});

Deno.test("errors name the offending field the way the apiserver does", () => {
  const obj = minimal();
  obj.spec.healthcheck.probes = [
    { mode: "TCP" } as never,
    { mode: "TCP", tcp: { targetPort: 1 }, http: {} } as never,
  ];
  obj.spec.ports = [{ port: 0 }];
  deepStrictEqual(errorsOf(obj).map((e) => e.path).sort(), [
    "spec.healthcheck.probes[0].tcp",
    "spec.healthcheck.probes[1].http",
    "spec.ports[0].port",
  ]);
});

Deno.test("a missing int-or-string is reported as required, not as a bad port", () => {
  const obj = minimal();
  obj.spec.healthcheck.probes = [{ mode: "TCP", tcp: {} } as never];
  deepStrictEqual(errorsOf(obj), [{
    path: "spec.healthcheck.probes[0].tcp.targetPort",
    message: "Required value",
  }]);
});

Deno.test("cross-field rules report at their fieldPath", () => {
  const obj = minimal();
  obj.spec.healthcheck.periodSeconds = 1;
  (obj.spec.healthcheck as Record<string, unknown>).transitionPeriodSeconds = 2;
  deepStrictEqual(errorsOf(obj).map((e) => e.path), ["spec.healthcheck.transitionPeriodSeconds"]);
  const named = minimal();
  named.metadata.name = "a.b";
  deepStrictEqual(errorsOf(named).map((e) => e.path), ["metadata.name"]);
});

Deno.test("status: endpoint entries are keyed by pod; conditions by type", () => {
  const entry = (pod: string): SwhEndpointStatus => ({
    pod,
    node: "node-a",
    addresses: ["10.0.0.1"],
    ready: false,
    failingProbes: [{ index: 0, mode: "HTTP", reason: "UnexpectedStatus", message: "503" }],
    lastTransitionTime: "2026-01-02T03:04:05Z",
  });
  const obj = {
    ...minimal(),
    status: {
      observedGeneration: 2,
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "EndpointsReady",
        message: "1/2 endpoints ready",
        lastTransitionTime: "2026-01-02T03:04:05+02:00",
      }],
      readyEndpoints: 1,
      totalEndpoints: 2,
      endpointSummary: "1/2",
      endpoints: [entry("web-0"), { ...entry("web-1"), ready: true, failingProbes: [] }],
      clusterIP: "10.96.0.10",
      loadBalancer: { ingress: [{ ip: "203.0.113.1", ipMode: "VIP" }] },
    },
  };
  ok(validateSwh(obj).ok);
  obj.status.endpoints.push(entry("web-0"));
  deepStrictEqual(errorsOf(obj).map((e) => e.path), ["status.endpoints[2]"]);
});

Deno.test("status timestamps must be RFC 3339", () => {
  const obj = {
    ...minimal(),
    status: { endpoints: [{ pod: "p", ready: true, lastTransitionTime: "yesterday" }] },
  };
  deepStrictEqual(errorsOf(obj).map((e) => e.path), ["status.endpoints[0].lastTransitionTime"]);
});

Deno.test("parseSwh throws an error carrying every problem", () => {
  const obj = minimal();
  obj.spec.selector = {};
  throws(
    () => parseSwh(obj),
    (e: unknown) =>
      e instanceof SwhValidationError && e.errors.length === 1 && e.errors[0].path === "spec.selector" &&
      e.message.startsWith("invalid ServiceWithHealthchecks my-ns/web: spec.selector: "),
  );
});

Deno.test("non-objects are rejected, not thrown on", () => {
  for (const bad of [null, 3, "swh", []]) ok(!validateSwh(bad).ok);
});

Deno.test("formatFieldPath writes indices and odd map keys in brackets", () => {
  strictEqual(formatFieldPath(["spec", "ports", 0, "name"]), "spec.ports[0].name");
  strictEqual(
    formatFieldPath(["spec", "selector", "app.kubernetes.io/name"]),
    "spec.selector[app.kubernetes.io/name]",
  );
  strictEqual(formatFieldPath([]), "");
});

Deno.test("sameAsParsed: a stored spec with every default equals its parse; one without does not", () => {
  const written = {
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: { name: "web", namespace: "ns" },
    spec: {
      selector: { app: "web" },
      ports: [{ port: 80 }],
      healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 80 } }] },
    },
  };
  const parsed = parseSwh(written);
  // As the apiserver stores it under the current CRD: the defaults applied, members in reverse order.
  const reversed = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(reversed)
      : v && typeof v === "object"
      ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]))
      : v;
  const stored = reversed(parsed.spec);
  ok(JSON.stringify(stored) !== JSON.stringify(parsed.spec));
  ok(sameAsParsed(stored, parsed.spec));
  ok(sameAsParsed({ ...parsed.spec, extra: undefined }, parsed.spec), "an undefined member counts as absent");
  ok(sameAsParsed(JSON.parse(JSON.stringify(parsed.spec)), parsed.spec));
  ok(!sameAsParsed(written.spec, parsed.spec), "stored under an older CRD: defaults missing");
  ok(!sameAsParsed({ ...parsed.spec, ports: [] }, parsed.spec));
  ok(!sameAsParsed([1, 2], [2, 1]));
  ok(!sameAsParsed({ a: 1 }, [1]));
  ok(!sameAsParsed(null, {}));
});
