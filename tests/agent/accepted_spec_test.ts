/**
 * An agent serves an SWH by the generation the controller accepted (noted on its Service), never by a newer
 * one it happened to fetch: a spec the controller has not validated — still in its queue, or refused — does
 * not reach the probes, and the agent moves on once the controller notes it. The test plays the controller's
 * part on the Service, so the moment between a fetch and the note can be held open.
 */
import { strictEqual } from "node:assert";
import { SERVICE_GENERATION_ANNOTATION } from "../../crds/conventions.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Services } from "../../kube/mod.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  reportsOf,
  startTestAgent,
  swhFetches,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest("agent: serves by the generation the controller noted, not a newer one it fetched", async () => {
  await withCluster("agent-accepted-spec", async (ctx) => {
    const good = httpBackend(ctx.net.v4(0));
    const bad = httpBackend(ctx.net.v4(1), good.port);
    bad.healthy = false; // a failing pod keeps a node report, which names the generation the agent probes with
    const handle = await startTestAgent(ctx);
    const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
    const note = (generation: number) =>
      Api.namespaced(ctx.transport, Services, ctx.ns).patch("web", {
        type: "merge",
        body: { metadata: { annotations: { [SERVICE_GENERATION_ANNOTATION]: String(generation) } } },
      });
    const reportedGeneration = async () => (await reportsOf(ctx, ctx.node)).get("web")?.observedGeneration;
    const serving = () => handle.agent.metrics.specGeneration.get({ namespace: ctx.ns, name: "web" });
    try {
      await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ctx.net.v4(0)] });
      await createPod(ctx, { name: "web-1", node: ctx.node, ips: [ctx.net.v4(1)] });
      const spec = (path: string) => ({
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: good.port }],
        healthcheck: {
          periodSeconds: 1,
          probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: good.port, path } }],
        },
      });
      await createSwh(ctx, "web", spec("/one")); // noted at generation 1, as the controller would
      await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);
      await waitFor(async () => (await reportedGeneration()) === 1, { what: "a report of generation 1" });

      // Two edits the controller has not applied yet; then it notes the first. The agent fetches (the note is
      // newer than what it holds) and gets the second, which nobody has accepted.
      await swhs.patch("web", { type: "merge", body: { spec: spec("/two") } });
      await swhs.patch("web", { type: "merge", body: { spec: spec("/three") } });
      await waitFor(
        async () => (await swhs.getOpt("web", { resourceVersion: "0" }))?.metadata?.generation === 3,
        { what: "generation 3 in the apiserver's cache" },
      );
      const fetches = swhFetches(handle);
      await note(2);
      await waitFor(() => swhFetches(handle) > fetches, { what: "the agent to fetch the SWH" });

      // A change after the fetch makes the agent reconcile and rewrite its report: with the spec it serves by.
      good.healthy = false;
      await waitForAddresses(ctx, "web", []);
      await waitFor(async () => (await reportsOf(ctx, ctx.node)).get("web")?.endpoints.length === 2, {
        what: "both pods in the report",
      });
      strictEqual(await reportedGeneration(), 1, "the agent still serves by the accepted generation 1");
      strictEqual(serving(), 1);

      // The controller accepts generation 3: the agent takes it as stored (it already holds it, no fetch).
      await note(3);
      await waitFor(() => serving() === 3, { what: "the agent to serve by generation 3" });
      good.healthy = true;
      await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);
      await waitFor(async () => (await reportedGeneration()) === 3, { what: "a report of generation 3" });
    } finally {
      await handle.stop();
      await good.close();
      await bad.close();
    }
  }, { addresses: 2 });
});
