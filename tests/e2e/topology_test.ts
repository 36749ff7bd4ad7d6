/**
 * trafficDistribution works through Kubernetes' own data path: agents put each node's zone and topology hints
 * into their slices, and kube-proxy in a node of zone a sends ClusterIP traffic to the pod in zone a only.
 */
import { deepStrictEqual, ok } from "node:assert";
import { withLab } from "../support/lab.ts";
import { waitFor } from "../support/wait.ts";
import { clientRequest, createServerPod } from "../../tools/lab/guide.ts";
import { LabOperator } from "../../tools/lab/operator.ts";

const ZONE = "topology.kubernetes.io/zone";

Deno.test({
  name: "topology: with trafficDistribution PreferClose, kube-proxy of zone a reaches only zone a's pod",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withLab(async (lab) => {
      const ns = `topo-${crypto.randomUUID().slice(0, 6)}`;
      const nodes = [
        await lab.addNode("zone-a-node", { [ZONE]: "zone-a" }),
        await lab.addNode("zone-b-node", { [ZONE]: "zone-b" }),
      ];
      const operator = await LabOperator.deploy(lab, nodes, 1);
      try {
        await lab.createNamespace(ns);
        for (const [i, node] of nodes.entries()) {
          await createServerPod(lab, {
            name: `web-${"ab"[i]}`,
            namespace: ns,
            node,
            labels: { app: "web" },
            servers: { http: 8080 },
          });
        }
        await lab.kubectl(
          ["apply", "-n", ns, "-f", "-"],
          JSON.stringify({
            apiVersion: "network.deckhouse.io/v1alpha1",
            kind: "ServiceWithHealthchecks",
            metadata: { name: "web" },
            spec: {
              selector: { app: "web" },
              trafficDistribution: "PreferClose",
              ports: [{ name: "http", port: 80, targetPort: 8080 }],
              healthcheck: {
                periodSeconds: 1,
                probes: [{ mode: "HTTP", http: { targetPort: 8080, path: "/" } }],
              },
            },
          }),
        );
        // Both endpoints published, each with its node's zone and a hint for it.
        const slices = await waitFor(async () => {
          const list = JSON.parse(
            await lab.kubectl([
              "-n",
              ns,
              "get",
              "endpointslices",
              "-l",
              "kubernetes.io/service-name=web",
              "-o",
              "json",
            ]),
          );
          const eps = list.items.flatMap((s: { endpoints?: unknown[] }) => s.endpoints ?? []);
          return eps.length === 2 ? eps : undefined;
        }, { what: "both endpoints published", timeoutMs: 30_000 });
        deepStrictEqual(
          slices.map((
            e: { zone: string; hints: { forZones: { name: string }[] } },
          ) => [e.zone, e.hints.forZones[0].name]).sort(),
          [["zone-a", "zone-a"], ["zone-b", "zone-b"]],
        );
        const clusterIP =
          (await lab.kubectl(["-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])).trim();
        // Once kube-proxy of zone a's node has the hints, every request from it lands on zone a's pod.
        await waitFor(
          async () =>
            (await clientRequest(lab, nodes[0], ["http", `http://${clusterIP}/`])) === "hello from web-a",
          {
            what: "zone a's node to reach zone a's pod",
            timeoutMs: 30_000,
            intervalMs: 100,
          },
        );
        const answers = new Set<string>();
        for (let i = 0; i < 20; i++) {
          answers.add(await clientRequest(lab, nodes[0], ["http", `http://${clusterIP}/`]));
        }
        deepStrictEqual([...answers], ["hello from web-a"], "zone a's node prefers zone a's endpoint");
        // Each node's kube-proxy syncs on its own schedule: zone b's may apply the hints a moment after zone a's.
        await waitFor(
          async () =>
            (await clientRequest(lab, nodes[1], ["http", `http://${clusterIP}/`])) === "hello from web-b",
          { what: "zone b's node to reach zone b's pod", timeoutMs: 30_000, intervalMs: 100 },
        );
        const fromB = new Set<string>();
        for (let i = 0; i < 10; i++) {
          fromB.add(await clientRequest(lab, nodes[1], ["http", `http://${clusterIP}/`]));
        }
        ok(fromB.has("hello from web-b") && fromB.size === 1, `zone b's node: ${[...fromB]}`);
      } finally {
        await operator.stop();
      }
    });
  },
});
