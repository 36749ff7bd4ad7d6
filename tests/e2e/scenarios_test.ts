/**
 * The user guide's scenarios end to end, with the guide's own manifests: a PostgreSQL primary and replicas
 * behind postgres-read / postgres-write (with failover), one VM serving HTTP and SMTP behind two independent
 * SWHs, and migrating a plain Service to a ServiceWithHealthchecks without dropping its ClusterIP.
 */
import { guideSecretCommand } from "../../tools/lab/guide.ts";
import { deepStrictEqual, ok } from "node:assert";
import { parse } from "yaml";
import { waitFor } from "../support/wait.ts";
import { backendFromEnv, type GuideBackend } from "./backend.ts";
import { clusterIP, report, sliceAddresses, waitForEndpoints } from "./observe.ts";

const GUIDE = new URL("../crds/valid/", import.meta.url).pathname;
const NS = "my-ns";
/** The guide's manifests leave probe timing at the defaults: period 10 s, failureThreshold 3. */
const PERIOD_S = 10;
const FAILURE_THRESHOLD = 3;
/**
 * How long a client may wait for a ClusterIP to reach a changed set of endpoints: the client's node programs it
 * when its kube-proxy syncs (local backend: < 0.1 s; kind: at most once a second, and once over 10 s on a
 * loaded machine).
 */
const PROXY_SYNC_MS = 30_000;

async function applyGuide(backend: GuideBackend, file: string): Promise<void> {
  await backend.kubectl(["apply", "-n", NS, "-f", `${GUIDE}${file}`]);
}

Deno.test({
  name: "user guide scenarios",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const backend = await backendFromEnv();
    try {
      await backend.createNamespace(NS);
      await t.step(
        "database: reads over all replicas, writes to the primary, failover",
        () => database(backend),
      );
      await t.step("virtual machine: web and smtp drop out independently", () => virtualMachine(backend));
      await t.step("migration: a Service becomes an SWH and keeps its ClusterIP", () => migration(backend));
    } finally {
      await backend.close();
    }
  },
});

async function database(backend: GuideBackend): Promise<void> {
  // Exactly the guide's command (minus its stray trailing argument).
  await backend.kubectl(guideSecretCommand(NS));
  const db = await backend.startDatabase(NS);
  const [db0, db1, db2] = ["db-0", "db-1", "db-2"].map((pod) => db.address(pod));
  const started = performance.now();
  await applyGuide(backend, "guide-postgres-read.yaml");
  await applyGuide(backend, "guide-postgres-write.yaml");
  const timeout = (PERIOD_S * 2 + 10) * 1000;
  await waitForEndpoints(backend, NS, "postgres-write", [db0], timeout);
  await waitForEndpoints(backend, NS, "postgres-read", [db0, db1, db2], timeout);
  report(`database: both SWHs serving ${((performance.now() - started) / 1000).toFixed(1)} s after apply`);

  const writeIP = await clusterIP(backend, NS, "postgres-write");
  const readIP = await clusterIP(backend, NS, "postgres-read");
  const whoAmI = "SELECT pg_is_in_recovery()::text || ' ' || host(inet_server_addr())";
  deepStrictEqual(
    await waitFor(async () => await backend.sql(writeIP, whoAmI), {
      what: "a write through the ClusterIP",
      timeoutMs: PROXY_SYNC_MS,
    }),
    `false ${db0}`,
  );
  // kube-proxy programs the endpoints a moment after the slices change: read until every server answered.
  const readers = new Set<string>();
  await waitFor(async () => {
    readers.add(await backend.sql(readIP, "SELECT host(inet_server_addr())"));
    return readers.size === 3;
  }, { what: "reads through postgres-read to reach all three servers", timeoutMs: 20_000, intervalMs: 10 });
  deepStrictEqual(
    [...readers].sort(),
    [db0, db1, db2].sort(),
    "reads through postgres-read reach every replica",
  );
  report(`database: reads through postgres-read reached ${readers.size} servers`);

  await db.stopServer("db-0");
  await db.promote("db-1");
  const failedOver = performance.now();
  const bound = FAILURE_THRESHOLD * PERIOD_S + 1;
  const followed = await waitForEndpoints(backend, NS, "postgres-write", [db1], bound * 1000);
  report(`database: postgres-write followed the promotion in ${followed.toFixed(1)} s (bound ${bound} s)`);
  deepStrictEqual(
    await waitFor(async () => await backend.sql(writeIP, whoAmI), {
      what: "a write to the new primary",
      timeoutMs: PROXY_SYNC_MS,
    }),
    `false ${db1}`,
  );
  report(
    `database: clients through the ClusterIP reach the new primary ${
      ((performance.now() - failedOver) / 1000).toFixed(1)
    } s after promotion`,
  );
  await waitForEndpoints(backend, NS, "postgres-read", [db1, db2], bound * 1000);

  // The same failover with transitionPeriodSeconds: 1 — the first failure is still found by the regular probe
  // (within one period), the other failureThreshold - 1 are confirmed a second apart instead of a period.
  await backend.kubectl([
    "patch",
    "-n",
    NS,
    "swh",
    "postgres-write",
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { healthcheck: { transitionPeriodSeconds: 1 } } }),
  ]);
  await db.stopServer("db-1");
  await db.promote("db-2");
  const fastBound = PERIOD_S + (FAILURE_THRESHOLD - 1) * 1 + 1 + 1;
  const fast = await waitForEndpoints(backend, NS, "postgres-write", [db2], fastBound * 1000);
  report(
    `database: with transitionPeriodSeconds 1, postgres-write followed the promotion in ${
      fast.toFixed(1)
    } s ` +
      `(bound ${fastBound} s)`,
  );
  deepStrictEqual(
    await waitFor(async () => await backend.sql(writeIP, whoAmI), {
      what: "a write to the newest primary",
      timeoutMs: PROXY_SYNC_MS,
    }),
    `false ${db2}`,
  );
}

async function virtualMachine(backend: GuideBackend): Promise<void> {
  const vm = await backend.startServers(NS, "my-vm", { vm: "my-vm" }, ["http", "smtp"]);
  await applyGuide(backend, "guide-web.yaml");
  await applyGuide(backend, "guide-smtp.yaml");
  const timeout = (PERIOD_S * 2 + 10) * 1000;
  await waitForEndpoints(backend, NS, "web", [vm.address], timeout);
  await waitForEndpoints(backend, NS, "smtp", [vm.address], timeout);
  const webIP = await clusterIP(backend, NS, "web");
  const smtpIP = await clusterIP(backend, NS, "smtp");
  const web = () => backend.client(["http", `http://${webIP}:80/healthz`]);
  const smtp = () => backend.client(["smtp", smtpIP, "25"]);
  deepStrictEqual(await waitFor(web, { what: "web through its ClusterIP", timeoutMs: PROXY_SYNC_MS }), "ok");
  ok(
    (await waitFor(smtp, { what: "smtp through its ClusterIP", timeoutMs: PROXY_SYNC_MS })).startsWith(
      "220 my-vm",
    ),
  );

  const bound = (FAILURE_THRESHOLD * PERIOD_S + 1) * 1000;
  for (
    const [down, up, downName, upCheck] of [
      ["smtp", "http", "smtp", web],
      ["http", "smtp", "web", smtp],
    ] as const
  ) {
    await vm.stop(down);
    const gone = await waitForEndpoints(backend, NS, downName, [], bound);
    report(`vm: ${downName} dropped the endpoint ${gone.toFixed(1)} s after ${down} stopped`);
    deepStrictEqual(await sliceAddresses(backend, NS, downName === "web" ? "smtp" : "web"), [vm.address]);
    ok(await upCheck(), `${up} still answers through its ClusterIP while ${down} is down`);
    // What a user sees: an Event on the SWH, and `mod.ts explain` naming the failing probe.
    const events = await waitFor(async () => {
      const text = await backend.kubectl([
        "-n",
        NS,
        "get",
        "events",
        "--field-selector",
        `involvedObject.name=${downName},reason=EndpointUnhealthy`,
        "-o",
        "jsonpath={.items[*].message}",
      ]);
      return text.includes("my-vm") ? text : undefined;
    }, { what: `an EndpointUnhealthy Event on ${downName}`, timeoutMs: 15_000 });
    ok(events.includes("withdrawn"), events);
    const explained = await explain(`${NS}/${downName}`);
    ok(/my-vm\s.*\sno\s.*probe 0 \((TCP|HTTP)\)/.test(explained), explained);
    await vm.start(down);
    const back = await waitForEndpoints(backend, NS, downName, [vm.address], (PERIOD_S * 2 + 5) * 1000);
    report(`vm: ${downName} took the endpoint back ${back.toFixed(1)} s after ${down} restarted`);
  }
}

async function migration(backend: GuideBackend): Promise<void> {
  const pods = [
    await backend.startServers(NS, "legacy-0", { app: "legacy" }, ["http"]),
    await backend.startServers(NS, "legacy-1", { app: "legacy" }, ["http"]),
  ];
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "legacy", namespace: NS },
    spec: { selector: { app: "legacy" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  };
  await backend.kubectl(["apply", "-f", "-"], JSON.stringify(service));
  const ip = await clusterIP(backend, NS, "legacy");
  const url = `http://${ip}/healthz`;
  await waitFor(() => backend.client(["http", url]), {
    what: "the plain Service to answer",
    timeoutMs: 60_000,
  });

  // A client keeps querying through the ClusterIP for the whole migration.
  const loop = backend.client(["loop", url, "40000", "50"]);
  // Awaited below; until then a failure of this step must not surface as an unhandled rejection.
  loop.catch(() => {});
  const exported = await backend.kubectl(["-n", NS, "get", "service", "legacy", "-o", "yaml"]);
  const converted = await convert(exported);
  const swh = parse(converted);
  ok(swh.metadata.annotations["network.deckhouse.io/adopt-existing-service"] === "true");
  await backend.kubectl(["apply", "-f", "-"], converted);
  const addresses = pods.map((p) => p.address);
  await waitFor(async () => {
    const svc = JSON.parse(await backend.kubectl(["-n", NS, "get", "service", "legacy", "-o", "json"]));
    return svc.spec.selector === undefined && svc.spec.clusterIP === ip;
  }, { what: "the controller to adopt the Service (no selector, same ClusterIP)", timeoutMs: 60_000 });
  await waitForEndpoints(backend, NS, "legacy", addresses, (PERIOD_S * 2 + 10) * 1000);
  const summary = JSON.parse(await loop) as { ok: number; failed: number; longestGapMs: number };
  report(
    `migration: ${summary.ok} requests ok, ${summary.failed} failed, longest gap ${summary.longestGapMs} ms ` +
      `(ClusterIP ${ip} kept)`,
  );
  ok(summary.ok > 0);
  deepStrictEqual(summary.failed, 0, "no request through the ClusterIP failed during the migration");

  // Roll-back: deleting the SWH gives the Service back with its selector, again without a failed request.
  const back = backend.client(["loop", url, "20000", "50"]);
  back.catch(() => {});
  await backend.kubectl(["-n", NS, "delete", "swh", "legacy", "--wait=false"]);
  await waitFor(async () => {
    const svc = JSON.parse(await backend.kubectl(["-n", NS, "get", "service", "legacy", "-o", "json"]));
    return svc.spec.selector?.app === "legacy" && !svc.metadata.ownerReferences?.length &&
      svc.spec.clusterIP === ip;
  }, { what: "the Service given back with its selector and ClusterIP", timeoutMs: 60_000 });
  const rolledBack = JSON.parse(await back) as { ok: number; failed: number; longestGapMs: number };
  report(
    `migration roll-back: ${rolledBack.ok} requests ok, ${rolledBack.failed} failed, longest gap ` +
      `${rolledBack.longestGapMs} ms`,
  );
  ok(rolledBack.ok > 0);
  deepStrictEqual(rolledBack.failed, 0, "no request through the ClusterIP failed during the roll-back");
}

/** `deno run -A mod.ts explain NS/NAME` against the cluster under test, as the README tells users. */
async function explain(target: string): Promise<string> {
  const kubeconfig = Deno.env.get("SWH_TEST_KUBECONFIG") ?? Deno.env.get("KUBECONFIG");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../mod.ts", import.meta.url).pathname, "explain", target],
    env: kubeconfig ? { KUBECONFIG: kubeconfig } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`explain failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** `deno run mod.ts convert` on a manifest, as the README tells users. */
async function convert(manifest: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      new URL("../../mod.ts", import.meta.url).pathname,
      "convert",
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(manifest));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`convert failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}
