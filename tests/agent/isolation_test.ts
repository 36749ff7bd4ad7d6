/**
 * An agent never receives other agents' writes, nor the controller's status summaries of them: with other nodes'
 * agents flapping endpoints (slice and report writes, and the controller's status writes, bounded per SWH by
 * the status interval), no agent receives an event of it — so what an agent receives grows with changes to
 * what concerns its node, not with the number of nodes.
 */
import { ok, strictEqual } from "node:assert";
import { SwhResource } from "../../crds/resource.ts";
import { Api } from "../../kube/mod.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  startTestAgent,
  startTestController,
  swhFetches,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

const OTHERS = 4;
const CHURN_MS = 8_000;
const STATUS_INTERVAL_MS = 1_000;

clusterTest(
  `agent: an idle agent's received events stay bounded while ${OTHERS} other agents flap endpoints`,
  async () => {
    await withCluster("agent-isolation", async (ctx) => {
      const others: string[] = [];
      for (let n = 0; n < OTHERS; n++) others.push(await ctx.addNode());
      const first = httpBackend(ctx.net.v4(0));
      const backends = [first];
      for (let i = 1; i < 2 * OTHERS; i++) backends.push(httpBackend(ctx.net.v4(i), first.port));
      const controller = await startTestController(ctx, { statusIntervalMs: STATUS_INTERVAL_MS });
      const observer = await startTestAgent(ctx);
      const agents = await Promise.all(others.map((node) => startTestAgent(ctx, node)));
      let flapping: ReturnType<typeof setInterval> | undefined;
      try {
        // Each other node: a steady pod and a flapping one. The observer's node has none.
        for (const [n, node] of others.entries()) {
          for (const k of [0, 1]) {
            await createPod(ctx, { name: `p${n}-${k}`, node, ips: [ctx.net.v4(2 * n + k)] });
          }
        }
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: first.port, path: "/" } }],
          },
        });
        await waitForAddresses(ctx, "web", backends.map((_, i) => ctx.net.v4(i)), 20_000);
        await controller.idle();

        const events = (resource: string) => observer.agent.metrics.watchEvents.get({ resource });
        const othersWrites = () =>
          agents.reduce(
            (sum, a) =>
              sum + ["endpointslices", "servicewithhealthchecksnodereports"].reduce(
                (s, resource) =>
                  s + ["apply", "delete"].reduce(
                    (t, verb) => t + a.agent.metrics.apiWrites.get({ resource, verb, failed: "false" }),
                    0,
                  ),
                0,
              ),
            0,
          );
        // What the SWH stream itself carries meanwhile (other tests' SWHs included: the cluster is shared).
        const all = Api.all(ctx.transport, SwhResource);
        const stream = { all: 0, web: 0 };
        const stopWatch = new AbortController();
        const watching = (async () => {
          const rv = (await all.list()).metadata.resourceVersion;
          for await (
            const e of all.watch({
              resourceVersion: rv,
              allowWatchBookmarks: false,
              signal: stopWatch.signal,
            })
          ) {
            stream.all++;
            if (e.object.metadata?.namespace === ctx.ns && e.object.metadata?.name === "web") stream.web++;
          }
        })().catch(() => {});
        const swh0 = events("servicewithhealthchecks");
        const services0 = events("services");
        const fetches0 = agents.map(swhFetches);
        const slices0 = events("endpointslices");
        const reports0 = events("reports");
        const writes0 = othersWrites();
        const status0 = controller.metrics.apiWrites.get({
          resource: "servicewithhealthchecks/status",
          verb: "apply",
        });
        // The second pod of every other node flaps: healthy and failing on alternate halves of a period.
        flapping = setInterval(() => {
          for (let n = 0; n < OTHERS; n++) backends[2 * n + 1].healthy = !backends[2 * n + 1].healthy;
        }, 700);
        await new Promise((r) => setTimeout(r, CHURN_MS));
        clearInterval(flapping);
        flapping = undefined;
        await new Promise((r) => setTimeout(r, 500)); // the last events reach both watchers
        stopWatch.abort();
        await watching;

        const received = events("servicewithhealthchecks") - swh0;
        const writes = othersWrites() - writes0;
        const statusWrites =
          controller.metrics.apiWrites.get({ resource: "servicewithhealthchecks/status", verb: "apply" }) -
          status0;
        console.log(
          `over ${
            CHURN_MS / 1000
          } s: ${OTHERS} other agents made ${writes} slice/report writes; the controller ` +
            `${statusWrites} status writes (${stream.web} events of this SWH, ${stream.all} of all); the idle ` +
            `agent received ${received} SWH events, ` +
            `${events("endpointslices") - slices0} slice and ${events("reports") - reports0} report events`,
        );
        ok(writes >= 2 * OTHERS, `the other agents must have churned (${writes} writes)`);
        // The SWH selects no pod on the observer's node (its Service says so): the observer never fetched it;
        // every other agent did.
        strictEqual(swhFetches(observer), 0, "an agent without pods of the SWH does not fetch it");
        ok(agents.every((a) => swhFetches(a) >= 1), `others fetched ${agents.map(swhFetches)}`);
        strictEqual(events("endpointslices") - slices0, 0, "other agents' slices never reach this agent");
        strictEqual(events("reports") - reports0, 0, "other agents' reports never reach this agent");
        // No agent watches SWHs: the controller's status writes reach none, and none fetches the SWH again (its
        // spec did not change, so its Service and notes did not either).
        strictEqual(received, 0, `received ${received} SWH events; the stream carried ${stream.all}`);
        strictEqual(events("services") - services0, 0, "status writes do not touch the Service");
        for (const [i, a] of agents.entries()) {
          strictEqual(a.agent.metrics.watchEvents.get({ resource: "servicewithhealthchecks" }), 0);
          strictEqual(swhFetches(a) - fetches0[i], 0, "a status write costs no agent a fetch");
        }
        // The stream itself: this SWH's part of it is the controller's status writes, bounded by the status
        // interval however many agents churn.
        ok(stream.web >= 1, "the controller wrote status meanwhile");
        ok(
          stream.web <= CHURN_MS / STATUS_INTERVAL_MS + 2,
          `${stream.web} events of this SWH in ${CHURN_MS} ms at one status write per ${STATUS_INTERVAL_MS} ms`,
        );
      } finally {
        if (flapping !== undefined) clearInterval(flapping);
        for (const a of agents) await a.stop();
        await observer.stop();
        await controller.stop();
        for (const b of backends) await b.close();
      }
    }, { addresses: 2 * OTHERS });
  },
);
