/**
 * An agent killed with SIGKILL and restarted while backends stay healthy withdraws nothing and rewrites nothing:
 * it fetches the SWHs it holds slices of before its first reconcile.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { waitFor } from "../support/wait.ts";
import {
  addresses,
  clusterTest,
  createPod,
  createSwh,
  recordSlices,
  reportsOf,
  spawnAgent,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "agent: kill -9 and restart of a subprocess agent causes no write: healthy endpoints stay, the report stays",
  async () => {
    await withCluster("agent-restart", async (ctx) => {
      const ips = [ctx.net.v4(0), ctx.net.v4(1), ctx.net.v4(2)];
      const first = tcpBackend(ips[0]);
      const backends = [first, ...ips.slice(1).map((ip) => tcpBackend(ip, first.port))];
      let agent = spawnAgent(ctx.node);
      try {
        for (const [i, ip] of ips.entries()) {
          await createPod(ctx, { name: `p${i}`, node: ctx.node, ips: [ip] });
        }
        // One pod nothing answers for: it is in the node's report, which the restart must adopt, not rewrite.
        await createPod(ctx, { name: "down", node: ctx.node, ips: [ctx.net.v4(3)] });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: first.port } }],
          },
        });
        // An SWH with no pod on this node: not the restarted agent's business.
        await createSwh(ctx, "elsewhere", {
          selector: { app: "db" },
          ports: [{ port: 5432 }],
          healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 5432 } }] },
        });
        await agent.ready();
        await waitForAddresses(ctx, "web", ips);
        await waitFor(async () => (await reportsOf(ctx, ctx.node)).get("web")?.endpoints.length === 1, {
          what: "the report of the pod that fails",
        });
        const reportRv = (await reportsOf(ctx, ctx.node)).get("web")?.metadata?.resourceVersion;

        const recorder = await recordSlices(ctx, "web");
        agent.child.kill("SIGKILL");
        strictEqual((await agent.child.status).signal, "SIGKILL");
        agent = spawnAgent(ctx.node);
        await agent.ready();
        // Observe at least three probe rounds of every endpoint by the new process before judging.
        await waitFor(async () => (await agent.metric("swh_agent_probes_total", 'result="success"')) >= 9, {
          timeoutMs: 15_000,
          what: "the restarted agent to probe every endpoint three times",
        });
        await recorder.stop();
        for (const e of recorder.events) {
          deepStrictEqual(addresses([e.object]), [...ips].sort(), `a ${e.type} event changed the endpoints`);
        }
        strictEqual(recorder.events.length, 0, "no slice write at all after the restart");
        strictEqual(
          (await reportsOf(ctx, ctx.node)).get("web")?.metadata?.resourceVersion,
          reportRv,
          "no report write",
        );
        // No slice and no report write (the heartbeat Lease is renewed, by design).
        for (const resource of ["endpointslices", "servicewithhealthchecksnodereports"]) {
          strictEqual(
            await agent.metric("swh_agent_api_writes_total", `resource="${resource}"`),
            0,
            resource,
          );
        }
        ok((await agent.metric("swh_agent_heartbeats_total", 'result="renewed"')) >= 1, "the heartbeat runs");
        // It holds its own SWH, fetched by GET (agents never list SWHs). (The cluster is shared with other tests:
        // their SWHs select pods on other nodes, so they are not fetched here — see selector_move_test.ts.)
        const [held, fetched] = [
          await agent.metric("swh_agent_swhs_cached"),
          await agent.metric("swh_agent_swh_fetches_total"),
        ];
        ok(held >= 1 && fetched >= held, `held ${held}, fetched ${fetched}`);
      } finally {
        agent.child.kill("SIGKILL");
        await agent.child.status;
        for (const b of backends) {
          b.close();
        }
      }
    });
  },
);
