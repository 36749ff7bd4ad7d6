import { deepStrictEqual, ok, throws } from "node:assert";
import { parse } from "yaml";
import { assertDisjoint, KIND_NETWORKING, kindClusterConfig, overlaps } from "./cluster_config.ts";
import { NETWORK } from "./host.ts";

Deno.test("overlaps compares whole prefixes", () => {
  ok(overlaps("10.244.0.0/16", "10.244.7.0/24"));
  ok(overlaps("198.18.0.0/15", "198.19.255.0/24"));
  ok(!overlaps("10.240.0.0/16", "10.244.0.0/16"));
  ok(!overlaps("10.112.0.0/16", "10.96.0.0/16"));
});

Deno.test("kind's ranges and podman's network stay clear of the local lab and of each other", () => {
  assertDisjoint([NETWORK.subnet, KIND_NETWORKING.podSubnet, KIND_NETWORKING.serviceSubnet]);
  throws(() => assertDisjoint(["10.244.3.0/24"]), /overlaps 10\.244\.0\.0\/16/);
  throws(() => assertDisjoint(["10.1.0.0/16", "10.1.2.0/24"]), /overlaps/);
});

Deno.test("the cluster config keeps deploy/kind/cluster.yaml's nodes and adds our patches", async () => {
  const base = parse(await Deno.readTextFile(new URL("../../deploy/kind/cluster.yaml", import.meta.url)));
  const config = kindClusterConfig(base, { etcd: "3.6.6-0", coredns: "v1.14.3" });
  deepStrictEqual(config.nodes, base.nodes);
  deepStrictEqual(config.networking, { podSubnet: "10.240.0.0/16", serviceSubnet: "10.112.0.0/16" });
  const patches = (config.kubeadmConfigPatches as string[]).map((p) => parse(p));
  deepStrictEqual(patches, [
    { kind: "ClusterConfiguration", etcd: { local: { imageTag: "3.6.6-0" } }, dns: { imageTag: "v1.14.3" } },
    { kind: "KubeletConfiguration", failCgroupV1: false },
  ]);
});
