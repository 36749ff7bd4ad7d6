import { deepStrictEqual, ok, strictEqual } from "node:assert";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { MIRRORED_SECRET_SOURCE_ANNOTATION, mirroredSecretName } from "../crds/conventions.ts";
import { configErrorOf, failureReasonCode, scheduledProbes, withConfigErrors } from "./probe_specs.ts";
import { makePod, makeSwh } from "./testing.ts";

const pgSwh = makeSwh({
  spec: {
    selector: { app: "db" },
    ports: [{ port: 5432 }],
    healthcheck: {
      periodSeconds: 2,
      probes: [
        { mode: "PostgreSQL", postgreSQL: { targetPort: "pg", authSecretName: "cred", query: "SELECT 1" } },
        { mode: "HTTP", failureThreshold: 1, http: { targetPort: 8080, path: "/healthz" } },
      ],
    },
  },
});

/** The mirrored copy of ns/cred (or, with `source`, a copy that says it mirrors another Secret). */
function secret(data: Record<string, string>, source = "ns/cred"): ISecret {
  const enc = (s: string) => btoa(s);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: mirroredSecretName("ns", "cred"),
      annotations: { [MIRRORED_SECRET_SOURCE_ANNOTATION]: source },
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, enc(v)])),
  };
}

const pod = makePod({ name: "db-0", ports: [{ name: "pg", containerPort: 5433 }] });

Deno.test("probes map to concrete specs: resolved port, credentials from the mirrored secret, policy", () => {
  const s = secret({ user: "postgres", password: "pw" });
  const probes = scheduledProbes(pgSwh, pod, (name) => name === s.metadata!.name ? s : undefined);
  strictEqual(probes.length, 2);
  const [pg, http] = probes;
  deepStrictEqual([pg.name, pg.port, pg.periodSeconds, pg.spec.failureThreshold], ["0", 5433, 2, 3]);
  strictEqual(pg.spec.mode, "PostgreSQL");
  if (pg.spec.mode === "PostgreSQL") {
    deepStrictEqual(pg.spec.postgreSQL.credentials, {
      user: "postgres",
      password: "pw",
      tls: { mode: "disable" },
    });
    strictEqual(pg.spec.postgreSQL.query, "SELECT 1");
  }
  deepStrictEqual([http.name, http.port, http.spec.failureThreshold], ["1", 8080, 1]);
  if (http.spec.mode === "HTTP") strictEqual(http.spec.http.path, "/healthz");
});

Deno.test("missing credentials, missing keys and unknown port names become failing specs, not crashes", async () => {
  const none = scheduledProbes(pgSwh, pod, () => undefined)[0];
  strictEqual(configErrorOf(none.spec)?.reason, "NoCredentials");
  const noPw = scheduledProbes(pgSwh, pod, () => secret({ user: "u" }))[0];
  strictEqual(configErrorOf(noPw.spec)?.reason, "NoCredentials");
  const badMode = scheduledProbes(pgSwh, pod, () => secret({ user: "u", password: "p", sslmode: "x" }))[0];
  strictEqual(configErrorOf(badMode.spec)?.reason, "InvalidCredentials");
  // A copy recorded as another Secret's is never used, whatever its name.
  const borrowed =
    scheduledProbes(pgSwh, pod, () => secret({ user: "u", password: "p" }, "other-ns/cred"))[0];
  strictEqual(configErrorOf(borrowed.spec)?.reason, "NoCredentials");
  ok(configErrorOf(borrowed.spec)?.message.includes("other-ns/cred"));
  const noPort =
    scheduledProbes(pgSwh, makePod({ name: "x" }), () => secret({ user: "u", password: "p" }))[0];
  strictEqual(configErrorOf(noPort.spec)?.reason, "PortNotFound");

  let called = 0;
  const run = withConfigErrors(() => {
    called++;
    return Promise.resolve({ ok: true, reason: "", durationMs: 0 });
  });
  const result = await run({ ip: "127.0.0.1", port: 1 }, none.spec);
  strictEqual(result.ok, false);
  strictEqual(failureReasonCode(result), "NoCredentials");
  strictEqual(called, 0);
});

Deno.test("probe failure texts map to CamelCase reasons", () => {
  const r = (reason: string) => failureReasonCode({ ok: false, reason, durationMs: 0 });
  deepStrictEqual(
    [
      r("connect: Connection refused"),
      r("timeout after 1s (connect)"),
      r("HTTP 503 (expected 200-399)"),
      r("query returned false"),
      r("PortNotFound: pod x has no port"),
      r("something odd"),
    ],
    ["ConnectionRefused", "Timeout", "UnexpectedStatus", "QueryFalse", "PortNotFound", "ProbeFailed"],
  );
  ok(failureReasonCode(undefined) === "NotYetProbed");
});
