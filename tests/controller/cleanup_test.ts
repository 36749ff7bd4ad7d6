/** Status counts from agents' entries, and clean-up of what the agent of a deleted Node left behind. */
import { deepStrictEqual } from "node:assert";
import { waitFor } from "../support/wait.ts";
import { Api, EndpointSlices, Nodes } from "../../kube/mod.ts";
import type { ServiceWithHealthchecks } from "../../crds/schema.ts";
import {
  agentFieldManager,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  SERVICE_NAME_LABEL,
} from "../../crds/conventions.ts";
import { applySwh, eventsAbout, swhBody, waitForCondition, withController } from "./helpers.ts";

Deno.test("agents' status entries give counts and Ready; a deleted Node's slices and entries are removed", async () => {
  await withController("cleanup", async ({ transport, ns, swhs, controller }) => {
    const nodes = Api.cluster(transport, Nodes);
    const slices = Api.namespaced(transport, EndpointSlices, ns);
    const id = ns.split("-").pop();
    const nodeA = `node-a-${id}`;
    const nodeB = `node-b-${id}`;
    for (const name of [nodeA, nodeB]) await nodes.create({ metadata: { name } });
    try {
      const swh = await applySwh(swhs, swhBody("db"));
      const owner = {
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        name: "db",
        uid: swh.metadata.uid!,
      };
      // What the agents of two nodes would write: their slices and their pods' status entries.
      for (
        const [node, entries] of [
          [nodeA, [{ pod: "db-0", node: nodeA, ready: true }, { pod: "db-1", node: nodeA, ready: false }]],
          [nodeB, [{ pod: "db-2", node: nodeB, ready: true }]],
        ] as const
      ) {
        await slices.apply({
          metadata: {
            name: `db-${node}`,
            labels: { [SERVICE_NAME_LABEL]: "db", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NODE_LABEL]: node },
            ownerReferences: [owner],
          },
          addressType: "IPv4",
          endpoints: [{ addresses: ["192.0.2.1"], nodeName: node, conditions: { ready: true } }],
        }, { fieldManager: agentFieldManager(node) });
        await swhs.applyStatus({
          apiVersion: "network.deckhouse.io/v1alpha1",
          kind: "ServiceWithHealthchecks",
          metadata: { name: "db", namespace: ns },
          status: { endpoints: entries.map((e) => ({ ...e })) },
        } as unknown as ServiceWithHealthchecks, { fieldManager: agentFieldManager(node) });
      }
      const counted = await waitFor(async () => {
        const s = await swhs.get("db");
        return s.status?.endpointSummary === "2/3" ? s : undefined;
      }, { what: "summary 2/3" });
      deepStrictEqual([counted.status?.readyEndpoints, counted.status?.totalEndpoints], [2, 3]);
      await waitForCondition(
        swhs,
        "db",
        "Ready",
        (c) => c.status === "True" && c.reason === "EndpointsReady",
      );

      // Node A goes away: its slice and its entries go, node B's stay.
      await nodes.delete(nodeA);
      await waitFor(async () => (await slices.getOpt(`db-${nodeA}`)) === undefined, {
        what: "slice of node A deleted",
      });
      const cleaned = await waitFor(async () => {
        const s = await swhs.get("db");
        return s.status?.endpointSummary === "1/1" ? s : undefined;
      }, { what: "entries of node A removed" });
      deepStrictEqual(cleaned.status?.endpoints?.map((e) => e.pod), ["db-2"]);
      deepStrictEqual((await slices.getOpt(`db-${nodeB}`))?.metadata?.name, `db-${nodeB}`);
      const events = await eventsAbout(ns, "db");
      deepStrictEqual(
        events.some((l) => l.startsWith("StaleEndpointSliceDeleted:")),
        true,
        events.join("\n"),
      );
      deepStrictEqual(events.some((l) => l.startsWith("StaleEndpointsRemoved:")), true, events.join("\n"));
      await controller.idle();
      const before = controller.writes();
      controller.resync();
      await controller.idle();
      deepStrictEqual(controller.writes() - before, 0);

      // Deleting the SWH removes the agents' slices by ownerReference (kube-controller-manager's GC).
      await swhs.delete("db");
      await waitFor(async () => (await slices.list()).items.length === 0, {
        what: "slices garbage-collected",
        timeoutMs: 30_000,
      });
    } finally {
      for (const name of [nodeA, nodeB]) await nodes.delete(name).catch(() => {});
    }
  });
});
