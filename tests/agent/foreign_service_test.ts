/**
 * A slice names its Service, and kube-proxy follows the name: an agent publishes only for a Service its SWH owns,
 * whether a same-named foreign Service existed before the SWH, appears later, or replaces the SWH's own.
 */
import { deepStrictEqual } from "node:assert";
import { Api, Services } from "../../kube/mod.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../crds/conventions.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  slicesOf,
  startTestAgent,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest("agent: no slice for a Service the SWH does not own, whenever that Service appears", async () => {
  await withCluster("agent-foreign", async (ctx) => {
    const backend = tcpBackend(ctx.net.v4(0));
    const services = Api.namespaced(ctx.transport, Services, ctx.ns);
    const foreign = (name: string) =>
      services.create({ metadata: { name }, spec: { selector: { app: "other" }, ports: [{ port: 80 }] } });
    const agent = await startTestAgent(ctx);
    try {
      await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ctx.net.v4(0)] });
      const spec = {
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: backend.port }],
        healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: backend.port } }] },
      };
      // 1. The foreign Service was there first: its name gets no slice from us, ever.
      await foreign("taken");
      await createSwh(ctx, "taken", spec, { ownService: false });
      // 2. Our own Service: published…
      await createSwh(ctx, "web", spec);
      await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);
      // …until it is replaced by someone else's: withdrawn.
      await services.delete("web");
      await waitFor(async () => (await services.getOpt("web")) === undefined, { what: "the Service gone" });
      await foreign("web");
      await waitForAddresses(ctx, "web", []);
      // The endpoint passed its probes all along (so nothing but ownership kept it out).
      await agent.agent.settled(1_500);
      // (The built-in controller makes its own slices for the foreign Services' selectors; ours are none.)
      const ours = async (name: string) =>
        (await slicesOf(ctx, name)).filter((s) =>
          s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE
        );
      deepStrictEqual(await ours("taken"), []);
      deepStrictEqual(await ours("web"), []);
    } finally {
      await agent.stop();
      backend.close();
    }
  });
});
