/**
 * Status aggregated from the agents' slices and node reports, and clean-up of what the agent of a deleted Node
 * (or of a deleted SWH) left behind. The agents' writes are made here by hand, with the agents' field managers,
 * so the controller is tested alone; tests/agent and tests/e2e run real agents.
 */
import { deepStrictEqual } from "node:assert";
import { waitFor } from "../support/wait.ts";
import { Api, EndpointSlices, Nodes } from "../../kube/mod.ts";
import type { ServiceWithHealthchecks } from "../../crds/schema.ts";
import { ReportResource } from "../../crds/resource.ts";
import {
  agentFieldManager,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  reportName,
  SERVICE_NAME_LABEL,
} from "../../crds/conventions.ts";
import { applySwh, eventsAbout, swhBody, waitForCondition, withController } from "./helpers.ts";

Deno.test("status from agents' slices and reports; a deleted Node's slices and reports go; v0.1 entries go", async () => {
  await withController("cleanup", async ({ transport, ns, opNs, swhs, controller }) => {
    const nodes = Api.cluster(transport, Nodes);
    const slices = Api.namespaced(transport, EndpointSlices, ns);
    const reports = Api.namespaced(transport, ReportResource, opNs);
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
      // What the agents of two nodes would write: slices of the pods that pass, a report of the one that fails.
      for (const [node, pod, ip] of [[nodeA, "db-0", "192.0.2.1"], [nodeB, "db-2", "192.0.2.3"]]) {
        await slices.apply({
          metadata: {
            name: `db-${node}`,
            labels: { [SERVICE_NAME_LABEL]: "db", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NODE_LABEL]: node },
            ownerReferences: [owner],
          },
          addressType: "IPv4",
          endpoints: [{
            addresses: [ip],
            nodeName: node,
            conditions: { ready: true, serving: true },
            targetRef: { kind: "Pod", namespace: ns, name: pod, uid: `uid-${pod}` },
          }],
        }, { fieldManager: agentFieldManager(node) });
      }
      await reports.apply({
        metadata: { name: reportName(ns, "db", nodeA), labels: { [NODE_LABEL]: nodeA } },
        swh: { namespace: ns, name: "db", uid: swh.metadata.uid! },
        node: nodeA,
        endpoints: [{
          pod: "db-1",
          addresses: ["192.0.2.2"],
          ready: false,
          failingProbes: [{ index: 0, mode: "TCP", reason: "ConnectionRefused", consecutiveFailures: 3 }],
        }],
      }, { fieldManager: agentFieldManager(nodeA) });
      // A v0.1 agent wrote its entries into the status itself: the controller removes them.
      await swhs.applyStatus({
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        metadata: { name: "db", namespace: ns },
        status: { endpoints: [{ pod: "old", node: nodeB, ready: true }] },
      } as unknown as ServiceWithHealthchecks, { fieldManager: agentFieldManager(nodeB) });

      const counted = await waitFor(async () => {
        const s = await swhs.get("db");
        return s.status?.endpointSummary === "2/3" && !s.status.endpoints?.some((e) => e.pod === "old")
          ? s
          : undefined;
      }, { what: "summary 2/3 without the v0.1 entry" });
      deepStrictEqual(
        counted.status?.endpoints?.map((e) => [e.pod, e.node, e.ready, e.failingProbes?.[0]?.reason ?? ""]),
        [["db-1", nodeA, false, "ConnectionRefused"], ["db-0", nodeA, true, ""], ["db-2", nodeB, true, ""]],
      );
      deepStrictEqual(
        (counted.metadata.managedFields as { manager?: string; subresource?: string }[] ?? [])
          .filter((m) => m.subresource === "status").map((m) => m.manager),
        ["swh-controller"],
      );
      await waitForCondition(
        swhs,
        "db",
        "Ready",
        (c) => c.status === "True" && c.reason === "EndpointsReady",
      );

      // Node A goes away: its slice and its report go, node B's stay.
      await nodes.delete(nodeA);
      await waitFor(async () => (await slices.getOpt(`db-${nodeA}`)) === undefined, {
        what: "slice of node A deleted",
      });
      await waitFor(async () => (await reports.getOpt(reportName(ns, "db", nodeA))) === undefined, {
        what: "report of node A deleted",
      });
      const cleaned = await waitFor(async () => {
        const s = await swhs.get("db");
        return s.status?.endpointSummary === "1/1" ? s : undefined;
      }, { what: "pods of node A gone from the status" });
      deepStrictEqual(cleaned.status?.endpoints?.map((e) => e.pod), ["db-2"]);
      deepStrictEqual((await slices.getOpt(`db-${nodeB}`))?.metadata?.name, `db-${nodeB}`);
      const events = await eventsAbout(ns, "db");
      deepStrictEqual(
        events.some((l) => l.startsWith("StaleEndpointSliceDeleted:")),
        true,
        events.join("\n"),
      );
      await controller.idle();
      const before = controller.writes(ns) + controller.writes(opNs);
      controller.resync();
      await controller.idle();
      deepStrictEqual((controller.writes(ns) + controller.writes(opNs)) - before, 0);

      // Deleting the SWH removes the agents' slices by ownerReference (kube-controller-manager's GC), and the
      // controller removes the reports about it.
      await reports.apply({
        metadata: { name: reportName(ns, "db", nodeB), labels: { [NODE_LABEL]: nodeB } },
        swh: { namespace: ns, name: "db", uid: swh.metadata.uid! },
        node: nodeB,
        endpoints: [{ pod: "db-3", ready: false }],
      }, { fieldManager: agentFieldManager(nodeB) });
      await swhs.delete("db");
      await waitFor(async () => (await slices.list()).items.length === 0, {
        what: "slices garbage-collected",
        timeoutMs: 30_000,
      });
      await waitFor(async () => (await reports.list()).items.length === 0, {
        what: "reports of the deleted SWH",
      });
    } finally {
      for (const name of [nodeA, nodeB]) await nodes.delete(name).catch(() => {});
    }
  });
});
