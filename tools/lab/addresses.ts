/**
 * The address plan of the local backend's lab network. Everything lives on one bridge in the host
 * namespace; node and pod network namespaces hang off it with veth pairs and have no default route, so
 * no packet of theirs can leave the machine.
 */

/** Bridge in the host namespace that every lab namespace is plugged into. */
export const LAB_BRIDGE = "swhlab0";
/** Prefix of the lab network (nodes and pods share one L2 segment, like a simple CNI). */
export const LAB_CIDR = "10.244.0.0/16";
/** Prefix length of {@link LAB_CIDR}. */
export const LAB_PREFIX = 16;
/** The host's address on the bridge: how nodes reach the apiserver (which binds 0.0.0.0). */
export const LAB_GATEWAY = "10.244.0.1";
/** Cluster IPs (kube-apiserver `--service-cluster-ip-range`). */
export const SERVICE_CIDR = "10.96.0.0/16";

/** Address of the `index`-th node (0-based): 10.244.0.10, .11, … */
export function nodeAddress(index: number): string {
  if (index < 0 || index > 200) throw new Error(`node index ${index} out of range`);
  return `10.244.0.${10 + index}`;
}

/** Address of the `index`-th pod (0-based): 10.244.1.1, …, 10.244.1.254, 10.244.2.1, … */
export function podAddress(index: number): string {
  const third = 1 + Math.floor(index / 254);
  if (index < 0 || third > 254) throw new Error(`pod index ${index} out of range`);
  return `10.244.${third}.${1 + (index % 254)}`;
}
