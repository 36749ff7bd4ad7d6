/** The local control plane is a real one: API objects persist, and kube-controller-manager collects garbage. */
import { kubectlGet, kubectlOk } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

Deno.test("control plane stores a selector-less Service with an EndpointSlice, and GC deletes dependents", async (t) => {
  const ns = `cp-${crypto.randomUUID().slice(0, 8)}`;
  await kubectlOk(["create", "namespace", ns]);
  try {
    await t.step("a Service without selector and its EndpointSlice are stored as sent", async () => {
      await kubectlOk(
        ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"],
        JSON.stringify({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "web" },
          spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }] },
        }),
      );
      const service = await kubectlGet<
        { metadata: { uid: string }; spec: { selector?: unknown; clusterIP: string } }
      >(
        ["-n", ns, "service", "web"],
      );
      assert(service, "service web was not stored");
      assert(service.spec.selector === undefined, "service must have no selector");
      assert(
        /^10\.96\./.test(service.spec.clusterIP),
        `clusterIP ${service.spec.clusterIP} not from 10.96.0.0/16`,
      );

      await kubectlOk(
        ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"],
        JSON.stringify({
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: {
            name: "web-1",
            labels: { "kubernetes.io/service-name": "web" },
            ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "web", uid: service.metadata.uid }],
          },
          addressType: "IPv4",
          ports: [{ name: "http", port: 8080, protocol: "TCP" }],
          endpoints: [{ addresses: ["192.0.2.10"], conditions: { ready: true } }],
        }),
      );
      const slice = await kubectlGet<{ endpoints: { addresses: string[] }[] }>([
        "-n",
        ns,
        "endpointslice",
        "web-1",
      ]);
      assert(slice?.endpoints[0].addresses[0] === "192.0.2.10", "endpoint slice content differs");
    });

    await t.step("deleting the owning Service garbage-collects the EndpointSlice", async () => {
      await kubectlOk(["-n", ns, "delete", "service", "web", "--cascade=background"]);
      await waitFor(async () => (await kubectlGet(["-n", ns, "endpointslice", "web-1"])) === undefined, {
        what: "kube-controller-manager to garbage-collect endpointslice web-1",
        timeoutMs: 60_000,
      });
    });
  } finally {
    await kubectlOk(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("namespace deletion really completes (namespace controller runs)", async () => {
  const ns = `cp-${crypto.randomUUID().slice(0, 8)}`;
  await kubectlOk(["create", "namespace", ns]);
  await kubectlOk(["-n", ns, "create", "configmap", "c", "--from-literal=a=b"]);
  await kubectlOk(["delete", "namespace", ns, "--wait=false"]);
  await waitFor(async () => (await kubectlGet(["namespace", ns])) === undefined, {
    what: `namespace ${ns} to be removed by kube-controller-manager`,
    timeoutMs: 60_000,
  });
});
