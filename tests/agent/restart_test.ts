/** An agent killed with SIGKILL and restarted while backends stay healthy withdraws nothing. */
import { deepStrictEqual, strictEqual } from "node:assert";
import { Api } from "../../kube/mod.ts";
import { SwhResource } from "../../agent/mod.ts";
import { waitFor } from "../support/wait.ts";
import {
  addresses,
  clusterTest,
  createPod,
  createSwh,
  recordSlices,
  spawnAgent,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "agent: kill -9 and restart of a subprocess agent causes no write removing a healthy endpoint",
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
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: first.port } }],
          },
        });
        await agent.ready();
        await waitForAddresses(ctx, "web", ips);
        // Status entries written too (at most once per period), so the restart can be checked against them.
        const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
        await waitFor(
          async () => (await swhs.get("web")).status?.endpoints?.filter((e) => e.ready).length === 3,
          {
            what: "status entries of the three pods",
          },
        );
        const swhRv = (await swhs.get("web")).metadata?.resourceVersion;

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
        strictEqual((await swhs.get("web")).metadata?.resourceVersion, swhRv, "no status write either");
        strictEqual(await agent.metric("swh_agent_api_writes_total", 'failed="false"'), 0);
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
