/** Network namespaces for lab nodes and pods, plugged into one host bridge; created and removed again. */
import { run } from "../cluster/exec.ts";
import { LAB_BRIDGE, LAB_GATEWAY, LAB_PREFIX, SERVICE_CIDR } from "./addresses.ts";

/** Prefix of every network namespace the lab creates (clean-up removes all of them). */
export const NETNS_PREFIX = "swh-";

async function ip(args: string[], allowFailure = false): Promise<number> {
  return (await run("ip", args, { allowFailure })).code;
}

/**
 * Creates the bridge with the gateway address and a blackhole route for the Service CIDR: a ClusterIP
 * packet that no kube-proxy rule rewrote reaches the host and dies there instead of being routed on.
 */
export async function createBridge(): Promise<void> {
  await removeNetwork();
  await ip(["link", "add", LAB_BRIDGE, "type", "bridge"]);
  await ip(["addr", "add", `${LAB_GATEWAY}/${LAB_PREFIX}`, "dev", LAB_BRIDGE]);
  await ip(["link", "set", LAB_BRIDGE, "up"]);
  await ip(["route", "add", "blackhole", SERVICE_CIDR]);
}

/** veth names are limited to 15 bytes: derive a short unique host-side name from the namespace. */
function hostVeth(netns: string): string {
  let h = 2166136261;
  for (const ch of netns) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return `vswh${h.toString(16).padStart(8, "0")}`;
}

/** Options of {@link createHost}. */
export interface HostOptions {
  /** Namespace name without {@link NETNS_PREFIX}. */
  name: string;
  /** IPv4 address on the lab network. */
  address: string;
  /** Route Cluster IPs to the gateway (nodes, whose kube-proxy rewrites them); pods need none. */
  routeServices?: boolean;
}

/** Creates network namespace `swh-<name>` with `eth0` on the bridge holding `address`; returns the netns name. */
export async function createHost(options: HostOptions): Promise<string> {
  const netns = `${NETNS_PREFIX}${options.name}`;
  const veth = hostVeth(netns);
  await ip(["netns", "add", netns]);
  await ip(["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
  await ip(["link", "set", veth, "master", LAB_BRIDGE, "up"]);
  await ip(["-n", netns, "link", "set", "lo", "up"]);
  await ip(["-n", netns, "addr", "add", `${options.address}/${LAB_PREFIX}`, "dev", "eth0"]);
  await ip(["-n", netns, "link", "set", "eth0", "up"]);
  if (options.routeServices) await ip(["-n", netns, "route", "add", SERVICE_CIDR, "via", LAB_GATEWAY]);
  return netns;
}

/** Names of lab namespaces that exist now. */
export async function labNamespaces(): Promise<string[]> {
  const { stdout } = await run("ip", ["netns", "list"]);
  return stdout.split("\n").map((line) => line.split(" ")[0]).filter((n) => n.startsWith(NETNS_PREFIX));
}

/** PIDs of processes whose network namespace is `netns` (they keep it alive after `ip netns del`). */
export async function pidsInNamespace(netns: string): Promise<number[]> {
  const { stdout } = await run("ip", ["netns", "pids", netns], { allowFailure: true });
  return stdout.split("\n").filter(Boolean).map(Number);
}

/**
 * Removes every lab namespace (killing what still runs inside first), the bridge and the blackhole
 * route. Safe to call when nothing exists.
 */
export async function removeNetwork(): Promise<void> {
  for (const netns of await labNamespaces()) {
    for (const pid of await pidsInNamespace(netns)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await ip(["netns", "del", netns], true);
  }
  await ip(["route", "del", "blackhole", SERVICE_CIDR], true);
  await ip(["link", "del", LAB_BRIDGE], true);
}
