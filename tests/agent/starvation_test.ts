/**
 * The agent's own lateness is not the target's failure: an agent process that the OS keeps from running (here
 * stopped with SIGSTOP for longer than the probe timeout, again and again — CPU starvation at its most
 * extreme) must not withdraw endpoints whose backends answered all along.
 */
import { ok } from "node:assert";
import { waitFor } from "../support/wait.ts";
import {
  addresses,
  clusterTest,
  createPod,
  createSwh,
  recordSlices,
  spawnAgent,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

const STALLS = 6;

clusterTest(
  "agent: a starved agent process (SIGSTOP longer than the timeout) withdraws no healthy endpoint",
  async () => {
    await withCluster("agent-starved", async (ctx) => {
      const ips = [ctx.net.v4(0), ctx.net.v4(1), ctx.net.v4(2)];
      // Healthy but unhurried backends (answer after 300 ms of a 1 s timeout), so that whenever the agent is
      // stopped, some probe is in flight: its answer arrives while the agent cannot run, its deadline expires.
      const slowOk = async () => {
        await new Promise((r) => setTimeout(r, 300));
        return new Response("ok");
      };
      const serve = (hostname: string, port = 0) =>
        Deno.serve({ hostname, port, onListen: () => {} }, slowOk);
      const first = serve(ips[0]);
      const port = first.addr.port;
      const backends = [first, ...ips.slice(1).map((ip) => serve(ip, port))];
      const agent = spawnAgent(ctx.node);
      try {
        for (const [i, ip] of ips.entries()) {
          await createPod(ctx, { name: `p${i}`, node: ctx.node, ips: [ip] });
        }
        // The most sensitive settings: one failed probe withdraws an endpoint.
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{
              mode: "HTTP",
              timeoutSeconds: 1,
              failureThreshold: 1,
              http: { targetPort: port, path: "/" },
            }],
          },
        });
        await agent.ready();
        await waitForAddresses(ctx, "web", ips);
        await waitFor(async () => (await agent.metric("swh_agent_probes_total", 'result="success"')) >= 6, {
          what: "two probe rounds before the stalls",
        });

        const recorder = await recordSlices(ctx, "web");
        for (let i = 0; i < STALLS; i++) {
          // Stopped for 1.6 s: every probe in flight outlives its 1 s deadline while the agent cannot run.
          Deno.kill(agent.child.pid, "SIGSTOP");
          await new Promise((r) => setTimeout(r, 1_600));
          Deno.kill(agent.child.pid, "SIGCONT");
          await new Promise((r) => setTimeout(r, 700));
        }
        // Let it catch up and probe everything normally again before judging.
        const probes = await agent.metric("swh_agent_probes_total", 'result="success"');
        await waitFor(
          async () => (await agent.metric("swh_agent_probes_total", 'result="success"')) >= probes + 6,
          {
            what: "probing to resume",
          },
        );
        await recorder.stop();
        const inconclusive = await agent.metric("swh_agent_probes_inconclusive_total");
        const failures = await agent.metric("swh_agent_probes_total", 'result="failure"');
        console.log(
          `${STALLS} stalls of 1.6 s: ${inconclusive} inconclusive probes, ${failures} counted failures, ` +
            `${recorder.events.length} slice writes`,
        );
        for (const e of recorder.events) {
          ok(
            e.type !== "DELETED" && addresses([e.object]).length === ips.length,
            `a healthy endpoint was withdrawn (${e.type}: ${addresses([e.object])})`,
          );
        }
        ok(inconclusive > 0, "the stalls must have been seen (else this test proves nothing)");
      } finally {
        try {
          Deno.kill(agent.child.pid, "SIGCONT");
        } catch { /* exited */ }
        await agent.kill();
        for (const b of backends) await b.shutdown();
      }
    });
  },
);
