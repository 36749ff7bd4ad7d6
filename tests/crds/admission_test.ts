/**
 * The generated CRD on a real kube-apiserver: the admission corpus (server-side dry runs), agreement between
 * the apiserver and `validateSwh` (verdicts, error fields and defaults), `kubectl explain`, printer columns,
 * and per-node ownership of status entries under server-side apply.
 *
 * Needs SWH_TEST_KUBECONFIG and SWH_TEST_KUBECTL (see tests/support/env.ts); fails, never skips, without them.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { formatSwhErrors, sameAsParsed, validateSwh } from "../../crds/validate.ts";
import { kubectl, kubectlOk, type KubectlResult } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";
import { installSwhCrd } from "../support/crd.ts";
import { pool } from "../support/measure.ts";
import { type CorpusCase, loadCorpus } from "./corpus.ts";

/** The user guide's web and smtp examples name this namespace; a manifest's own namespace must exist. */
const GUIDE_NAMESPACE = "my-ns";
const FIELD_MANAGER = "swh-crds-test";

/** A private discovery cache, so a stale cache of another run (without our kind) cannot fail a create. */
const cacheDir = await Deno.makeTempDir({ prefix: "swh-crds-kubectl-" });

function k(args: string[], stdin?: string): Promise<KubectlResult> {
  return kubectl(["--cache-dir", cacheDir, ...args], stdin);
}

function kOk(args: string[], stdin?: string): Promise<string> {
  return kubectlOk(["--cache-dir", cacheDir, ...args], stdin);
}

/** Creates a namespace unless it exists (apply is idempotent and safe when tests run concurrently). */
async function ensureNamespace(name: string): Promise<void> {
  await kOk(
    ["apply", "--server-side", "--field-manager", FIELD_MANAGER, "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
  );
}

/** Server-side-applies `status` to postgres-read's /status as field manager `manager`. */
function applyStatus(
  namespace: string,
  manager: string,
  status: Record<string, unknown>,
): Promise<KubectlResult> {
  return k(
    [
      "apply",
      "--server-side",
      "--subresource=status",
      "--field-manager",
      manager,
      "-n",
      namespace,
      "-f",
      "-",
    ],
    JSON.stringify({
      apiVersion: "network.deckhouse.io/v1alpha1",
      kind: "ServiceWithHealthchecks",
      metadata: { name: "postgres-read" },
      status,
    }),
  );
}

/** What the apiserver said about one manifest: accepted (with the defaulted object) or rejected (with why). */
type Verdict = { accepted: true; object: Record<string, unknown> } | { accepted: false; message: string };

async function submit(c: CorpusCase, namespace: string): Promise<Verdict> {
  const ns = c.namespace ? [] : ["-n", namespace];
  const result = await k(["create", "--dry-run=server", "-o", "json", ...ns, "-f", c.path]);
  if (result.code === 0) return { accepted: true, object: JSON.parse(result.stdout) };
  return { accepted: false, message: result.stderr.trim() };
}

const corpus = await loadCorpus();

Deno.test("admission: the CRD on a real kube-apiserver", async (t) => {
  const namespace = `swh-crds-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await ensureNamespace(namespace);
    await ensureNamespace(GUIDE_NAMESPACE);
    await installSwhCrd();

    const verdicts = await pool(corpus, 6, (c) => submit(c, namespace));
    for (const [i, c] of corpus.entries()) {
      const verdict = verdicts[i];
      await t.step(`${c.valid ? "accepts" : "rejects"} ${c.file}`, () => {
        if (c.valid) {
          ok(verdict.accepted, verdict.accepted ? "" : verdict.message);
          return;
        }
        ok(!verdict.accepted, "the apiserver accepted an invalid manifest");
        for (const fragment of c.expect) {
          ok(verdict.message.includes(fragment), `expected "${fragment}" in: ${verdict.message}`);
        }
      });
      await t.step(`validateSwh agrees on ${c.file}`, () => {
        const zod = validateSwh(c.object);
        strictEqual(
          zod.ok,
          verdict.accepted,
          zod.ok ? "zod accepts" : `zod rejects: ${formatSwhErrors(zod.errors)}`,
        );
        if (zod.ok && verdict.accepted) {
          // same defaults: what zod returns is what the apiserver stores
          deepStrictEqual(zod.value.spec, verdict.object.spec);
          // …so the controller never tells agents that defaults are missing under the current CRD
          ok(sameAsParsed(verdict.object.spec, zod.value.spec), "stored spec differs from its parse");
        } else if (!zod.ok) {
          const text = formatSwhErrors(zod.errors);
          for (const fragment of c.expect) ok(text.includes(fragment), `expected "${fragment}" in: ${text}`);
        }
      });
    }

    await t.step("kubectl explain teaches the probes", async () => {
      const text = await waitFor(async () => {
        const out = await kOk(["explain", "servicewithhealthchecks.spec.healthcheck.probes"]);
        return out.includes("FIELDS:") ? out : undefined;
      }, { timeoutMs: 30_000, what: "the CRD's OpenAPI to be published" });
      for (
        const fragment of [
          "Probes run against every selected pod",
          "mode\t<string> -required-",
          "Kind of probe",
          "timeoutSeconds",
          "Consecutive failures after which a healthy endpoint is withdrawn",
          "postgreSQL\t<Object>",
        ]
      ) ok(text.includes(fragment), `explain lacks "${fragment}":\n${text}`);
      const targetPort = await kOk(["explain", "swh.spec.healthcheck.probes.tcp.targetPort"]);
      ok(targetPort.includes("container port"), targetPort);
    });

    await t.step(
      "agents of different nodes own their own status entries; kubectl get shows health",
      async () => {
        const guide = corpus.find((c) => c.file.endsWith("guide-postgres-read.yaml"))!;
        await kOk(["create", "-n", namespace, "-f", guide.path]);
        const status = async (manager: string, status: Record<string, unknown>) => {
          const result = await applyStatus(namespace, manager, status);
          if (result.code !== 0) throw new Error(`status apply as ${manager} failed: ${result.stderr}`);
        };
        await status("swh-agent-node-a", { endpoints: [{ pod: "db-0", node: "node-a", ready: true }] });
        await status("swh-agent-node-b", {
          endpoints: [{
            pod: "db-1",
            node: "node-b",
            ready: false,
            failingProbes: [{ index: 0, mode: "PostgreSQL", reason: "QueryFalse" }],
          }],
        });
        await status("swh-controller", {
          conditions: [{
            type: "Ready",
            status: "True",
            reason: "EndpointsReady",
            message: "1 of 2 endpoints ready",
            lastTransitionTime: "2026-01-01T00:00:00Z",
          }],
          readyEndpoints: 1,
          totalEndpoints: 2,
          endpointSummary: "1/2",
          clusterIP: "10.96.0.42",
        });
        // node-a re-applies its entry: node-b's entry must survive (list-map keyed by pod)
        await status("swh-agent-node-a", { endpoints: [{ pod: "db-0", node: "node-a", ready: false }] });
        const stored = JSON.parse(
          await kOk(["get", "swh", "-n", namespace, "postgres-read", "-o", "json", "--show-managed-fields"]),
        );
        deepStrictEqual(
          stored.status.endpoints.map((e: { pod: string; ready: boolean }) => [e.pod, e.ready]),
          [["db-0", false], ["db-1", false]],
        );
        const managers = stored.metadata.managedFields.map((m: { manager: string }) => m.manager);
        for (const m of ["swh-agent-node-a", "swh-agent-node-b", "swh-controller"]) {
          ok(managers.includes(m), m);
        }
        const read = validateSwh(stored);
        ok(read.ok, read.ok ? "" : formatSwhErrors(read.errors));

        const table = await kOk(["get", "swh", "-n", namespace, "postgres-read"]);
        const [header, row] = table.trim().split("\n").map((l) => l.trim().split(/\s+/));
        deepStrictEqual(header, ["NAME", "READY", "REASON", "ENDPOINTS", "TYPE", "CLUSTER-IP", "AGE"]);
        deepStrictEqual(row.slice(0, 6), [
          "postgres-read",
          "True",
          "EndpointsReady",
          "1/2",
          "ClusterIP",
          "10.96.0.42",
        ]);
      },
    );

    await t.step("the apiserver rejects an invalid status entry", async () => {
      const result = await applyStatus(namespace, "swh-agent-x", {
        endpoints: [{ node: "node-x", ready: true }],
      });
      ok(result.code !== 0 && result.stderr.includes("status.endpoints"), result.stderr);
    });
  } finally {
    try {
      // the namespace controller finishes the deletion in the background; do not wait for it
      await k(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"]);
    } finally {
      await Deno.remove(cacheDir, { recursive: true });
    }
  }
});
