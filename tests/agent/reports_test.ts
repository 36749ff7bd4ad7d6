/**
 * Node reports: each agent reports the failing pods of its node in its own object, never in the SWH status;
 * reasons follow the probes; PostgreSQL probes use mirrored credentials.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  MIRRORED_SECRET_LABEL,
  MIRRORED_SECRET_SOURCE_ANNOTATION,
  mirroredSecretName,
} from "../../crds/conventions.ts";
import type { SwhEndpointStatus } from "../../crds/schema.ts";
import { startAgent } from "../../agent/mod.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Namespaces, Secrets } from "../../kube/mod.ts";
import { createLogger } from "../../ops/log.ts";
import { startPostgres, SUPERUSER_PASSWORD } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";
import { freePort } from "../../tools/cluster/network.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  FAST,
  httpBackend,
  reportsOf,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";
import type { TestContext } from "./helpers.ts";

const quiet = createLogger("agent", { level: (Deno.env.get("AGENT_LOG") ?? "error") as "error" });

/** The entries every agent reported about SWH `name`, sorted by pod. */
async function entries(
  ctx: TestContext,
  name: string,
  nodes = [ctx.node],
  namespace?: string,
): Promise<SwhEndpointStatus[]> {
  const all: SwhEndpointStatus[] = [];
  for (const node of nodes) {
    const report = (await reportsOf(ctx, node, namespace)).get(name);
    for (const e of report?.endpoints ?? []) all.push({ ...e, node: e.node ?? report?.node });
  }
  return all.sort((a, b) => a.pod < b.pod ? -1 : 1);
}

function summary(list: SwhEndpointStatus[]): string[] {
  return list.map((e) =>
    `${e.pod}@${e.node}:${e.ready}${e.failingProbes?.map((f) => `:${f.reason}`).join("") ?? ""}`
  );
}

clusterTest(
  "agent: two agents on two nodes report only their failing pods, each in its own object",
  async () => {
    await withCluster("agent-report", async (ctx) => {
      const nodeB = await ctx.addNode();
      const first = tcpBackend(ctx.net.v4(0));
      const backends = [first, tcpBackend(ctx.net.v4(1), first.port), tcpBackend(ctx.net.v4(2), first.port)];
      const opts = { transport: ctx.transport, logger: quiet, ...FAST };
      const a = await startAgent({ nodeName: ctx.node, ...opts });
      const b = await startAgent({ nodeName: nodeB, ...opts });
      try {
        await createPod(ctx, { name: "a0", node: ctx.node, ips: [ctx.net.v4(0)] });
        await createPod(ctx, { name: "a1", node: ctx.node, ips: [ctx.net.v4(1)] });
        await createPod(ctx, { name: "b0", node: nodeB, ips: [ctx.net.v4(2)] });
        await createPod(ctx, { name: "b1", node: nodeB, ips: [ctx.net.v4(3)] }); // nothing listens
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: first.port } }] },
        });
        await waitForAddresses(ctx, "web", [ctx.net.v4(0), ctx.net.v4(1), ctx.net.v4(2)]);
        const want = [`b1@${nodeB}:false:ConnectionRefused`];
        let seen: string[] = [];
        await waitFor(async () => {
          seen = summary(await entries(ctx, "web", [ctx.node, nodeB]));
          return JSON.stringify(seen) === JSON.stringify(want);
        }, { what: `reported entries ${want}`, lastSeen: () => seen });
        // Node A's pods all pass: A has no report at all; B's report is B's object, written by B alone.
        strictEqual((await reportsOf(ctx, ctx.node)).size, 0);
        const report = (await reportsOf(ctx, nodeB)).get("web")!;
        deepStrictEqual([report.node, report.swh.name, report.swh.namespace], [nodeB, "web", ctx.ns]);
        const b1 = report.endpoints.find((e) => e.pod === "b1")!;
        deepStrictEqual(b1.addresses, [ctx.net.v4(3)]);
        strictEqual(b1.failingProbes?.[0].mode, "TCP");
        ok(b1.lastTransitionTime);
        // Agents never write the SWH status.
        const swh = await Api.namespaced(ctx.transport, SwhResource, ctx.ns).get("web");
        const managers = swh.metadata.managedFields as { subresource?: string }[] | undefined ?? [];
        deepStrictEqual(managers.filter((m) => m.subresource === "status"), []);

        // b1 starts answering: B's report disappears (nothing left to report).
        backends.push(tcpBackend(ctx.net.v4(3), first.port));
        await waitFor(async () => (await reportsOf(ctx, nodeB)).size === 0, {
          what: "B's report to be deleted",
        });
        await waitForAddresses(ctx, "web", [0, 1, 2, 3].map((i) => ctx.net.v4(i)));
      } finally {
        await a.stop();
        await b.stop();
        for (const x of backends) x.close();
      }
    });
  },
);

clusterTest(
  "agent: the report follows a failing endpoint's reason while its verdict stays unhealthy",
  async () => {
    await withCluster("agent-reason", async (ctx) => {
      const ip = ctx.net.v4(0);
      const port = freePort(ip); // nothing listens there until the test starts a server
      const agent = await startAgent({
        nodeName: ctx.node,
        transport: ctx.transport,
        logger: quiet,
        ...FAST,
      });
      let backend: ReturnType<typeof httpBackend> | undefined;
      try {
        await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ip] });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "HTTP", timeoutSeconds: 1, http: { targetPort: port, path: "/healthz" } }],
          },
        });
        let seen: string[] = [];
        const expect = async (want: string) =>
          await waitFor(async () => {
            seen = summary(await entries(ctx, "web"));
            return JSON.stringify(seen) === JSON.stringify([want]);
          }, { what: `report ${want}`, lastSeen: () => seen });
        await expect(`web-0@${ctx.node}:false:ConnectionRefused`);
        // Nothing pending (the echo of our own report write included), so only the new reason can cause a write.
        await agent.agent.settled(2_000);
        // A server appears but answers 503: still unhealthy (no verdict change), yet the reason is different.
        backend = httpBackend(ip, port);
        backend.healthy = false;
        await expect(`web-0@${ctx.node}:false:UnexpectedStatus`);
      } finally {
        await agent.stop();
        await backend?.close();
      }
    });
  },
);

clusterTest(
  "agent: PostgreSQL probe with mirrored credentials publishes the primary, not the replica",
  async () => {
    await withCluster("agent-pg", async (ctx) => {
      // The harness's replicas listen on 127.0.0.1 only. Loopback cannot be published in a slice, but the replica
      // must never be published anyway (a bug would surface as a failed apply and a wrong address set).
      const primaryIp = ctx.net.v4(0), replicaIp = "127.0.0.1";
      await using primary = await startPostgres({
        extraConfig: [`listen_addresses = '127.0.0.1,${primaryIp}'`],
      });
      // The harness trusts 127.0.0.1 only; probes come from the pod addresses' network.
      await Deno.writeTextFile(
        `${primary.dataDir}/pg_hba.conf`,
        "host all all 198.18.0.0/15 scram-sha-256\n",
        {
          append: true,
        },
      );
      await primary.psql("SELECT pg_reload_conf()");
      await using replica = await primary.startReplica();
      const opNs = `${ctx.ns}-op`;
      await Api.cluster(ctx.transport, Namespaces).create({ metadata: { name: opNs } });
      const agent = await startAgent({
        nodeName: ctx.node,
        transport: ctx.transport,
        operatorNamespace: opNs,
        logger: quiet,
        ...FAST,
      });
      try {
        await createPod(ctx, {
          name: "db-0",
          node: ctx.node,
          ips: [primaryIp],
          labels: { app: "db" },
          ports: [{ name: "pg", containerPort: primary.port }],
        });
        await createPod(ctx, {
          name: "db-1",
          node: ctx.node,
          ips: [replicaIp],
          labels: { app: "db" },
          ports: [{ name: "pg", containerPort: replica.port }],
        });
        await createSwh(ctx, "postgres-write", {
          selector: { app: "db" },
          ports: [{ port: 5432, targetPort: "pg" }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{
              mode: "PostgreSQL",
              timeoutSeconds: 1,
              postgreSQL: {
                targetPort: "pg",
                dbName: "postgres",
                authSecretName: "cred-secret",
                query: "SELECT NOT pg_is_in_recovery()",
              },
            }],
          },
        });
        // Not mirrored yet: failing with NoCredentials, and nothing crashes.
        let seen: string[] = [];
        await waitFor(async () => {
          const list = await entries(ctx, "postgres-write", [ctx.node], opNs);
          seen = summary(list);
          return list.length === 2 && list.every((e) => e.failingProbes?.[0]?.reason === "NoCredentials");
        }, { what: "NoCredentials in the report", lastSeen: () => seen });

        // What the controller would do: mirror the user's Opaque secret into the operator namespace.
        await Api.namespaced(ctx.transport, Secrets, opNs).create({
          metadata: {
            name: mirroredSecretName(ctx.ns, "cred-secret"),
            labels: { [MIRRORED_SECRET_LABEL]: "true" },
            annotations: { [MIRRORED_SECRET_SOURCE_ANNOTATION]: `${ctx.ns}/cred-secret` },
          },
          type: "Opaque",
          stringData: { user: "postgres", password: SUPERUSER_PASSWORD },
        });
        await waitForAddresses(ctx, "postgres-write", [primaryIp]);
        await waitFor(async () => {
          seen = summary(await entries(ctx, "postgres-write", [ctx.node], opNs));
          return JSON.stringify(seen) === JSON.stringify([`db-1@${ctx.node}:false:QueryFalse`]);
        }, { what: "the replica to fail with QueryFalse", lastSeen: () => seen });
      } finally {
        await agent.stop();
        await Api.cluster(ctx.transport, Namespaces).delete(opNs).catch(() => {});
      }
    });
  },
);
