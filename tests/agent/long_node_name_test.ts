/**
 * Node names may have 253 characters, label values only 63. Two agents on nodes whose long names share their
 * first 63 characters (so their slices and reports share one node label) each publish and keep their own
 * node's endpoints, never adopt or delete the other's; the controller attributes each slice to its node (the
 * full name in an annotation) for status, agent liveness and the clean-up of a vanished node.
 */
import { deepStrictEqual, ok } from "node:assert";
import { Api, EndpointSlices, Nodes } from "../../kube/mod.ts";
import { SwhResource } from "../../crds/resource.ts";
import { NODE_ANNOTATION, NODE_LABEL, nodeLabelValue } from "../../crds/conventions.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  reportsOf,
  slicesOf,
  spawnAgent,
  startTestController,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "agents on nodes with names longer than a label value: each keeps its own slices; status and clean-up follow the full names",
  async () => {
    await withCluster("agent-long-node", async (ctx) => {
      // DNS labels of at most 63 characters, as hostnames have; the names part after their first 63 characters.
      const prefix = `${`${ctx.ns}-`.padEnd(50, "w")}.datacenter-east.example`;
      const [a, b] = ["a", "b"].map((x) => `${prefix}.rack-${x}.local`);
      ok(a.length > 63 && nodeLabelValue(a) === nodeLabelValue(b), "both nodes share one label value");
      const nodes = Api.cluster(ctx.transport, Nodes);
      for (const n of [a, b]) await nodes.create({ metadata: { name: n } });
      const ips = [ctx.net.v4(0), ctx.net.v4(1)];
      const first = tcpBackend(ips[0]);
      const backends = [first, tcpBackend(ips[1], first.port)];
      const controller = await startTestController(ctx);
      const agents = [a, b].map((n) => spawnAgent(n));
      try {
        await createPod(ctx, { name: "pa", node: a, ips: [ips[0]] });
        await createPod(ctx, { name: "pb", node: b, ips: [ips[1]] });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: first.port } }] },
        });
        for (const agent of agents) await agent.ready();
        const slices = await waitForAddresses(ctx, "web", ips);
        deepStrictEqual(
          slices.map((
            s,
          ) => [s.metadata?.annotations?.[NODE_ANNOTATION], s.endpoints?.map((e) => e.addresses[0])])
            .sort(),
          [[a, [ips[0]]], [b, [ips[1]]]],
        );
        ok(slices.every((s) => s.metadata?.labels?.[NODE_LABEL] === nodeLabelValue(a)));

        // The controller's view: both endpoints ready, on their nodes, both agents reporting.
        const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
        let seen = "";
        await waitFor(async () => {
          const status = (await swhs.get("web")).status;
          const reporting = status?.conditions?.find((c) => c.type === "AgentsReporting");
          const nodesOf = (status?.endpoints ?? []).map((e) => `${e.node}:${e.ready}`).sort();
          seen = JSON.stringify({ reporting, nodesOf });
          return reporting?.status === "True" &&
            JSON.stringify(nodesOf) === JSON.stringify([`${a}:true`, `${b}:true`]);
        }, {
          what: "status with both endpoints on their full node names",
          lastSeen: () => seen,
          timeoutMs: 20_000,
        });

        // A failing backend on b: b's agent withdraws it and reports why; a's slice and report are untouched.
        const aSlice = slices.find((s) => s.metadata?.annotations?.[NODE_ANNOTATION] === a)!;
        backends[1].close();
        await waitForAddresses(ctx, "web", [ips[0]]);
        const reports = await reportsOf(ctx, b);
        ok(reports.get("web")?.endpoints?.some((e) => e.pod === "pb"), JSON.stringify([...reports.values()]));
        const aNow = (await slicesOf(ctx, "web")).find((s) => s.metadata?.name === aSlice.metadata?.name);
        deepStrictEqual(
          aNow?.metadata?.resourceVersion,
          aSlice.metadata?.resourceVersion,
          "a's slice not rewritten",
        );

        // Node a vanishes (its agent gone with it): the controller removes a's slice by its full name, not b's.
        await agents[0].kill();
        await nodes.delete(a);
        await waitFor(async () => {
          const left = await Api.namespaced(ctx.transport, EndpointSlices, ctx.ns).list();
          return left.items.every((s) => s.metadata?.annotations?.[NODE_ANNOTATION] !== a);
        }, { what: "the slice of the vanished node a removed", timeoutMs: 20_000 });
      } finally {
        for (const agent of agents) await agent.kill();
        await controller.stop();
        for (const backend of backends) backend.close();
        for (const n of [a, b]) await nodes.delete(n).catch(() => {});
      }
    });
  },
);
