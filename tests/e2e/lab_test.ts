/** The local backend's data path is Kubernetes' own: kube-proxy in a node namespace load-balances a ClusterIP. */
import { deepStrictEqual } from "node:assert";
import { withLab } from "../support/lab.ts";
import { waitFor } from "../support/wait.ts";
import { clientRequest } from "../../tools/lab/guide.ts";

const BACKENDS = new URL("../../tools/lab/backends/", import.meta.url).pathname;

Deno.test("kube-proxy in a lab node routes a ClusterIP to pods in other namespaces", async () => {
  await withLab(async (lab) => {
    const ns = `lab-${crypto.randomUUID().slice(0, 8)}`;
    await lab.createNamespace(ns);
    const node = await lab.addNode("lab-a");
    const pods = [];
    for (const name of ["web-0", "web-1"]) {
      const pod = await lab.addPod({ name, namespace: ns, node: node.name, labels: { app: "web" } });
      lab.spawn(pod.netns, `http-${name}`, Deno.execPath(), [
        "run",
        "--allow-net",
        "--allow-env",
        `${BACKENDS}http.ts`,
      ], {
        POD_NAME: name,
        PORT: "8080",
      });
      pods.push(pod);
    }
    await lab.kubectl(
      ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web" },
        spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }] },
      }),
    );
    await lab.kubectl(
      ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "web-lab", labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4",
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
        endpoints: pods.map((p) => ({
          addresses: [p.address],
          conditions: { ready: true },
          nodeName: node.name,
        })),
      }),
    );
    const clusterIP =
      (await lab.kubectl(["-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]))
        .trim();
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add(await clientRequest(lab, node, ["http", `http://${clusterIP}/`]));
      return seen.size === 2;
    }, { what: `requests to ${clusterIP} to reach both pods`, timeoutMs: 60_000, intervalMs: 50 });
    deepStrictEqual([...seen].sort(), ["hello from web-0", "hello from web-1"]);
    await lab.kubectl(["delete", "namespace", ns, "--wait=false"]);
  });
});
