/**
 * The status tells the truth at once and names the cause (controller + a real agent): `kubectl get swh` shows
 * the Ready reason (NoPodsSelected, PortNotFound…), configuration problems raise a Warning Event, and an endpoint
 * that has started failing below its threshold is said to be failing while it still serves.
 */
import { ok } from "node:assert";
import { startAgent } from "../../agent/mod.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api } from "../../kube/mod.ts";
import { createLogger } from "../../ops/log.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";
import { eventsAbout } from "../controller/helpers.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  FAST,
  startTestController,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "status: the Ready reason is the root cause, shown by kubectl get, with a Warning Event",
  async () => {
    await withCluster("agent-reasons", async (ctx) => {
      const quiet = createLogger("agent", { level: "error" });
      const controller = await startTestController(ctx);
      const agent = await startAgent({
        nodeName: ctx.node,
        transport: ctx.transport,
        logger: quiet,
        ...FAST,
      });
      const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
      let seen = "";
      const ready = (name: string) =>
        waitFor(async () => {
          const c = (await swhs.get(name)).status?.conditions?.find((c) => c.type === "Ready");
          seen = `${c?.status} ${c?.reason}: ${c?.message}`;
          return c;
        }, { what: `the Ready condition of ${name}`, lastSeen: () => seen });
      const readyReason = async (
        name: string,
        reason: string,
        check: (message: string) => boolean = () => true,
      ) =>
        await waitFor(async () => {
          const c = (await swhs.get(name)).status?.conditions?.find((c) => c.type === "Ready");
          seen = `${c?.status} ${c?.reason}: ${c?.message}`;
          return c?.reason === reason && check(c.message) ? c : undefined;
        }, { what: `Ready reason ${reason} on ${name}`, lastSeen: () => seen, timeoutMs: 20_000 });
      const backend = tcpBackend(ctx.net.v4(0));
      try {
        // A selector that matches nothing says so.
        await createSwh(ctx, "nothing", {
          selector: { app: "nobody" },
          ports: [{ port: 80 }],
          healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 80 } }] },
        });
        await readyReason("nothing", "NoPodsSelected");
        const table = await kubectlOk(["-n", ctx.ns, "get", "swh", "nothing"]);
        ok(/REASON/.test(table) && /NoPodsSelected/.test(table), table);
        await waitFor(
          async () => (await eventsAbout(ctx.ns, "nothing")).some((l) => l.startsWith("NoPodsSelected:")),
          {
            what: "a NoPodsSelected Warning Event",
          },
        );

        // A probe port the pods do not have: the agent says PortNotFound, the status says so too.
        await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ctx.net.v4(0)], labels: { app: "web" } });
        await createSwh(ctx, "misnamed", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: backend.port }],
          healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: "metrics" } }] },
        });
        await readyReason("misnamed", "PortNotFound", (m) => m.includes("web-0") && m.includes("metrics"));
        await waitFor(
          async () => (await eventsAbout(ctx.ns, "misnamed")).some((l) => l.startsWith("PortNotFound:")),
          {
            what: "a PortNotFound Warning Event",
          },
        );

        // Serving, then failing below its threshold (period 5 s, 3 failures): "failing 1/3" while still ready.
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: backend.port }],
          healthcheck: { periodSeconds: 5, probes: [{ mode: "TCP", tcp: { targetPort: backend.port } }] },
        });
        await waitForAddresses(ctx, "web", [ctx.net.v4(0)], 20_000);
        await readyReason("web", "EndpointsReady");
        backend.close();
        const failing = await readyReason(
          "web",
          "EndpointsReady",
          (m) => /web-0 failing [12]\/3: ConnectionRefused/.test(m),
        );
        ok(failing.status === "True", "still serving below the threshold");
        await ready("web");
      } finally {
        backend.close();
        await agent.stop();
        await controller.stop();
      }
    });
  },
);
