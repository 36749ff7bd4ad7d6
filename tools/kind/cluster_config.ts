/**
 * The kind cluster configuration `kind-e2e` creates: deploy/kind/cluster.yaml (what users with Docker use:
 * one control plane, two workers) plus what our machines and our node image need:
 *
 * - pod and service subnets that cannot collide with the local lab, which may run on the same machine
 *   (10.244.0.0/16 pods and nodes, 10.96.0.0/16 services, 198.18.0.0/15 test addresses);
 * - kubelet's opt-in to cgroup v1 (`failCgroupV1: false`), which our hosts still run;
 * - the etcd and CoreDNS tags we build (the module proxy serves no exact match for kubeadm's defaults).
 *
 * @module
 */
import { LAB_CIDR, SERVICE_CIDR } from "../lab/addresses.ts";

/** Address ranges of the local lab and the unit tests (tests/support/local_addresses.ts). */
export const LAB_RANGES = [LAB_CIDR, SERVICE_CIDR, "198.18.0.0/15"] as const;

/** The kind cluster's ranges. */
export const KIND_NETWORKING = { podSubnet: "10.240.0.0/16", serviceSubnet: "10.112.0.0/16" } as const;

/** Image tags kubeadm is told to use instead of its defaults. */
export interface ComponentTags {
  etcd: string;
  coredns: string;
}

function toNumber(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** Whether two IPv4 CIDRs share any address. */
export function overlaps(a: string, b: string): boolean {
  const range = (cidr: string): [number, number] => {
    const [ip, bits] = cidr.split("/");
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(toNumber(ip) / size) * size;
    return [start, start + size - 1];
  };
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** Throws if any of `cidrs` overlaps a lab range or another of `cidrs`. */
export function assertDisjoint(cidrs: readonly string[]): void {
  for (const [i, cidr] of cidrs.entries()) {
    for (const other of [...LAB_RANGES, ...cidrs.slice(i + 1)]) {
      if (overlaps(cidr, other)) throw new Error(`${cidr} overlaps ${other}`);
    }
  }
}

/** `base` (deploy/kind/cluster.yaml, parsed) with our networking and kubeadm patches. */
export function kindClusterConfig(
  base: Record<string, unknown>,
  tags: ComponentTags,
): Record<string, unknown> {
  assertDisjoint([KIND_NETWORKING.podSubnet, KIND_NETWORKING.serviceSubnet]);
  const patches = (base.kubeadmConfigPatches as string[] | undefined) ?? [];
  return {
    ...base,
    networking: { ...(base.networking as Record<string, unknown> | undefined), ...KIND_NETWORKING },
    kubeadmConfigPatches: [
      ...patches,
      [
        "kind: ClusterConfiguration",
        "etcd:",
        "  local:",
        `    imageTag: "${tags.etcd}"`,
        "dns:",
        `  imageTag: "${tags.coredns}"`,
      ].join("\n") + "\n",
      // kubeadm uploads this at init; joining nodes read it from the cluster, so every kubelet gets it.
      "kind: KubeletConfiguration\nfailCgroupV1: false\n",
    ],
  };
}
