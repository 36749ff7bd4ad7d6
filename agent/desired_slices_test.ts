import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_ANNOTATION,
  NODE_LABEL,
  nodeLabelValue,
  SERVICE_NAME_LABEL,
} from "../crds/conventions.ts";
import { desiredSlices, sliceContent, sliceName } from "./desired_slices.ts";
import { selectEndpoints } from "./endpoints.ts";
import { makePod, makeSwh } from "./testing.ts";

const spec = {
  selector: { app: "web" },
  ports: [{ name: "http", port: 80, targetPort: "web" }],
  healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: "web" } }] },
};

Deno.test("only healthy endpoints are published, with conditions, nodeName, targetRef, labels and owner", () => {
  const swh = makeSwh({ spec });
  const pods = [
    makePod({ name: "a", ips: ["10.0.0.1"], ports: [{ name: "web", containerPort: 8080 }] }),
    makePod({ name: "b", ips: ["10.0.0.2"], ports: [{ name: "web", containerPort: 8080 }] }),
    makePod({
      name: "c",
      ips: ["10.0.0.3"],
      ports: [{ name: "web", containerPort: 8080 }],
      terminating: true,
    }),
  ];
  const eps = selectEndpoints(swh, pods, "node-a");
  const slices = desiredSlices(swh, "node-a", eps, (k) => k !== "uid-b/10.0.0.2");
  strictEqual(slices.length, 1);
  const s = slices[0];
  deepStrictEqual(s.metadata.labels, {
    [SERVICE_NAME_LABEL]: "web",
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [NODE_LABEL]: "node-a",
  });
  deepStrictEqual(s.metadata.ownerReferences, [{
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    name: "web",
    uid: "swh-uid-1",
    controller: true,
  }]);
  strictEqual(s.addressType, "IPv4");
  deepStrictEqual(s.ports, [{ name: "http", port: 8080, protocol: "TCP" }]);
  deepStrictEqual(s.endpoints.map((e) => [e.addresses[0], e.conditions]), [
    ["10.0.0.1", { ready: true, serving: true, terminating: false }],
    ["10.0.0.3", { ready: false, serving: true, terminating: true }],
  ]);
  deepStrictEqual(s.endpoints[0].targetRef, { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" });
  strictEqual(s.endpoints[0].nodeName, "node-a");
});

Deno.test("a node name longer than a label value: the label is its prefix, the annotation the whole name", () => {
  const swh = makeSwh({ spec });
  const node = `${"worker-7".padEnd(60, "x")}.rack-12.datacenter-east.example.com`;
  const pods = [
    makePod({ name: "a", node, ips: ["10.0.0.1"], ports: [{ name: "web", containerPort: 8080 }] }),
  ];
  const [long] = desiredSlices(swh, node, selectEndpoints(swh, pods, node), () => true);
  strictEqual(long.metadata.labels?.[NODE_LABEL], nodeLabelValue(node));
  ok(node.startsWith(long.metadata.labels?.[NODE_LABEL] ?? "-") && nodeLabelValue(node).length <= 63);
  deepStrictEqual(long.metadata.annotations, { [NODE_ANNOTATION]: node });
  strictEqual(long.endpoints[0].nodeName, node);
  // Short names (every node so far): no annotation, so no slice of an existing cluster is rewritten.
  const [short] = desiredSlices(
    swh,
    "node-a",
    selectEndpoints(swh, [{ ...pods[0], spec: { ...pods[0].spec!, nodeName: "node-a" } }], "node-a"),
    () => true,
  );
  strictEqual(short.metadata.annotations, undefined);
  // The annotation is part of what the agent compares (a slice missing it is rewritten).
  const bare = { ...long, metadata: { ...long.metadata, annotations: undefined } };
  ok(sliceContent(bare) !== sliceContent(long));
});

Deno.test("one slice per address family and resolved port set; none when nothing passes", () => {
  const swh = makeSwh({ spec });
  const pods = [
    makePod({ name: "a", ips: ["10.0.0.1", "fd00::1"], ports: [{ name: "web", containerPort: 8080 }] }),
    makePod({ name: "b", ips: ["10.0.0.2"], ports: [{ name: "web", containerPort: 9090 }] }),
  ];
  const eps = selectEndpoints(swh, pods, "node-a");
  const slices = desiredSlices(swh, "node-a", eps, () => true);
  deepStrictEqual(
    slices.map((s) => [s.addressType, s.ports?.[0].port, s.endpoints.length]).sort(),
    [["IPv4", 8080, 1], ["IPv4", 9090, 1], ["IPv6", 8080, 1]],
  );
  strictEqual(new Set(slices.map((s) => s.metadata.name)).size, 3);
  deepStrictEqual(desiredSlices(swh, "node-a", eps, () => false), []);
});

Deno.test("publishNotReadyAddresses publishes failing endpoints as ready but not serving", () => {
  const swh = makeSwh({ spec: { ...spec, publishNotReadyAddresses: true } });
  const eps = selectEndpoints(
    swh,
    [makePod({ name: "a", ports: [{ name: "web", containerPort: 1 }] })],
    "node-a",
  );
  const [s] = desiredSlices(swh, "node-a", eps, () => false);
  deepStrictEqual(s.endpoints[0].conditions, { ready: true, serving: false, terminating: false });
});

Deno.test("headless without ports gets a slice with no ports", () => {
  const swh = makeSwh({
    spec: { selector: { app: "web" }, clusterIP: "None", healthcheck: spec.healthcheck },
  });
  const eps = selectEndpoints(
    swh,
    [makePod({ name: "a", ports: [{ name: "web", containerPort: 1 }] })],
    "node-a",
  );
  const [s] = desiredSlices(swh, "node-a", eps, () => true);
  deepStrictEqual(s.ports, []);
  strictEqual(s.endpoints.length, 1);
});

Deno.test("slice names are deterministic, DNS-safe and at most 63 characters", () => {
  const long = makeSwh({ name: "a".repeat(63), spec });
  const n1 = sliceName(long, "node-a", "IPv4", "http:80/TCP");
  strictEqual(n1, sliceName(long, "node-a", "IPv4", "http:80/TCP"));
  ok(n1.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n1), n1);
  ok(n1 !== sliceName(long, "node-b", "IPv4", "http:80/TCP"));
  ok(n1 !== sliceName(long, "node-a", "IPv6", "http:80/TCP"));
  const dashy = makeSwh({ name: `${"a".repeat(53)}-${"b".repeat(9)}`, spec });
  ok(!sliceName(dashy, "n", "IPv4", "").includes("--"));
});

Deno.test("more than 1000 endpoints are split into several slices", () => {
  const swh = makeSwh({ spec: { ...spec, ports: [{ name: "http", port: 80 }] } });
  const pods = Array.from(
    { length: 1500 },
    (_, i) => makePod({ name: `p${i}`, ips: [`10.1.${i >> 8}.${i & 255}`] }),
  );
  const slices = desiredSlices(swh, "node-a", selectEndpoints(swh, pods, "node-a"), () => true);
  deepStrictEqual(slices.map((s) => s.endpoints.length).sort(), [1000, 500]);
});

Deno.test("sliceContent ignores server-added metadata and ordering, and sees real changes", () => {
  const swh = makeSwh({ spec });
  const eps = selectEndpoints(swh, [
    makePod({ name: "a", ips: ["10.0.0.1"], ports: [{ name: "web", containerPort: 1 }] }),
    makePod({ name: "b", ips: ["10.0.0.2"], ports: [{ name: "web", containerPort: 1 }] }),
  ], "node-a");
  const [desired] = desiredSlices(swh, "node-a", eps, () => true);
  const observed = structuredClone(desired);
  observed.metadata = {
    ...observed.metadata,
    resourceVersion: "42",
    uid: "x",
    labels: { ...observed.metadata.labels, other: "y" },
  };
  observed.endpoints.reverse();
  strictEqual(sliceContent(observed), sliceContent(desired));
  const [fewer] = desiredSlices(swh, "node-a", eps, (k) => k.startsWith("uid-a"));
  ok(sliceContent(fewer) !== sliceContent(desired));
});

Deno.test("topology: endpoints carry the node's zone; trafficDistribution adds hints like the built-in controller", () => {
  const pods = [makePod({ name: "a" })];
  const of = (trafficDistribution?: string, zone?: string) => {
    const swh = makeSwh({
      spec: {
        selector: { app: "web" },
        ports: [{ port: 80 }],
        ...(trafficDistribution ? { trafficDistribution } : {}),
        healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 80 } }] },
      },
    });
    return desiredSlices(swh, "node-a", selectEndpoints(swh, pods, "node-a"), () => true, zone)[0]
      .endpoints[0];
  };
  deepStrictEqual([of(undefined, "z1").zone, of(undefined, "z1").hints], ["z1", undefined]);
  deepStrictEqual(of("PreferClose", "z1").hints, { forZones: [{ name: "z1" }] });
  deepStrictEqual(of("PreferSameZone", "z1").hints, { forZones: [{ name: "z1" }] });
  deepStrictEqual(of("PreferSameNode", "z1").hints, {
    forNodes: [{ name: "node-a" }],
    forZones: [{ name: "z1" }],
  });
  deepStrictEqual(
    [of("PreferClose").zone, of("PreferClose").hints],
    [undefined, undefined],
    "no zone, no hint",
  );
});
