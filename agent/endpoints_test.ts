import { deepStrictEqual, strictEqual } from "node:assert";
import {
  addressFamily,
  podAddresses,
  podSelected,
  resolvePort,
  resolveServicePorts,
  selectEndpoints,
} from "./endpoints.ts";
import { makePod, makeSwh } from "./testing.ts";

const swh = makeSwh({
  spec: {
    selector: { app: "web" },
    ports: [{ name: "http", port: 80, targetPort: "web" }, { name: "admin", port: 9000 }],
    healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: "web" } }] },
  },
});

Deno.test("only running pods of this node and namespace, matching the selector, with an IP are selected", () => {
  const cases: [string, Parameters<typeof makePod>[0], boolean][] = [
    ["plain", { name: "a" }, true],
    ["other node", { name: "a", node: "node-b" }, false],
    ["other namespace", { name: "a", namespace: "other" }, false],
    ["labels differ", { name: "a", labels: { app: "db" } }, false],
    ["extra labels", { name: "a", labels: { app: "web", tier: "x" } }, true],
    ["no IP", { name: "a", ips: [] }, false],
    ["succeeded", { name: "a", phase: "Succeeded" }, false],
    ["failed", { name: "a", phase: "Failed" }, false],
    ["pending with IP", { name: "a", phase: "Pending" }, true],
    ["terminating", { name: "a", terminating: true }, true],
  ];
  for (const [what, pod, want] of cases) strictEqual(podSelected(swh, makePod(pod), "node-a"), want, what);
});

Deno.test("named ports resolve per pod; a pod lacking the name drops that port only", () => {
  const a = makePod({ name: "a", ports: [{ name: "web", containerPort: 8080 }] });
  const b = makePod({ name: "b", ports: [{ name: "web", containerPort: 8081 }] });
  const c = makePod({ name: "c" });
  deepStrictEqual(resolveServicePorts(swh, a), [
    { name: "http", port: 8080, protocol: "TCP" },
    { name: "admin", port: 9000, protocol: "TCP" },
  ]);
  strictEqual(resolveServicePorts(swh, b)[0].port, 8081);
  deepStrictEqual(resolveServicePorts(swh, c), [{ name: "admin", port: 9000, protocol: "TCP" }]);
  strictEqual(resolvePort(a, "web", "UDP"), undefined, "protocol must match");
  strictEqual(resolvePort(a, 1234), 1234);
});

Deno.test("dual-stack pods yield one endpoint per family; identity is uid + IP", () => {
  const pod = makePod({ name: "a", ips: ["127.0.0.2", "::1"], ports: [{ name: "web", containerPort: 80 }] });
  const eps = selectEndpoints(swh, [pod], "node-a");
  deepStrictEqual(eps.map((e) => [e.key, e.family]), [["uid-a/127.0.0.2", "IPv4"], ["uid-a/::1", "IPv6"]]);
  strictEqual(addressFamily("fd00::1"), "IPv6");
  const reused = selectEndpoints(swh, [makePod({ name: "b", uid: "new", ips: ["127.0.0.2"] })], "node-a");
  strictEqual(reused[0].key, "new/127.0.0.2", "a new pod on an old IP is a new endpoint");
});

Deno.test("hostname is published only when the pod's subdomain names the service", () => {
  const pod = makePod({ name: "a" });
  pod.spec!.hostname = "db-0";
  pod.spec!.subdomain = "web";
  strictEqual(selectEndpoints(swh, [pod], "node-a")[0].hostname, "db-0");
  pod.spec!.subdomain = "other";
  strictEqual(selectEndpoints(swh, [pod], "node-a")[0].hostname, undefined);
});

Deno.test("pod addresses are published in canonical form, deduplicated; text that is no IP is left out", () => {
  const pod = makePod({ name: "a", ips: ["fd5a:5748:0::1", "010.0.0.1", "fd5a:5748::1", "not-an-ip"] });
  deepStrictEqual(podAddresses(pod), ["fd5a:5748::1", "10.0.0.1"]);
});
