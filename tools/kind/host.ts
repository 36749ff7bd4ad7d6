/**
 * Prepares this host for kind through podman, idempotently: Debian packages, podman's configuration for
 * hosts of our kind, and the podman network the kind nodes live on.
 *
 * What our machines need (measured): crun fails on the hybrid cgroup layout, so runc is the runtime;
 * processes may not raise their hard limits (no CAP_SYS_RESOURCE; RLIMIT_NOFILE is 20000), so podman's
 * default rlimits (nofile 1048576) are refused unless containers default to the host's own hard limits;
 * netavark + aardvark-dns give the network the DNS that kind needs (workers join the control plane by its
 * container name).
 *
 * @module
 */
import { run } from "../cluster/exec.ts";

/**
 * Debian packages: podman and its network stack, runc, debootstrap for the root filesystems, zstd for
 * image layers, gcc and libc6-dev for Kubernetes' pause (a static C program).
 */
export const HOST_PACKAGES = [
  "podman",
  "runc",
  "netavark",
  "aardvark-dns",
  "debootstrap",
  "zstd",
  "gcc",
  "libc6-dev",
] as const;

/** Drop-in read by every podman command on this host (containers.conf(5)). */
export const CONTAINERS_CONF_PATH = "/etc/containers/containers.conf.d/50-swh-kind.conf";

/** Limits containers may have: at most what podman itself has (it cannot raise them either). */
export interface HardLimits {
  nofile: number;
  nproc: number;
}

/**
 * podman's own hard RLIMIT_NPROC (it sets it at start; conmon's /proc/PID/limits shows it): containers cannot
 * get more (measured: 32769 refused, 32768 accepted).
 */
const PODMAN_NPROC = 32768;

/**
 * The limits containers get, from `procLimits` (the text of /proc/self/limits): the host's hard limits,
 * capped by podman's own NPROC; `unlimited` counts as 2^20.
 */
export function hardLimits(procLimits: string): HardLimits {
  const hard = (name: string) => {
    const line = procLimits.split("\n").find((l) => l.startsWith(name));
    const value = line?.slice(name.length).trim().split(/\s+/)[1];
    if (!value) throw new Error(`/proc/self/limits has no "${name}" line`);
    return value === "unlimited" ? 2 ** 20 : Number(value);
  };
  return { nofile: hard("Max open files"), nproc: Math.min(hard("Max processes"), PODMAN_NPROC) };
}

/** The drop-in's content: containers default to the host's hard limits; runc; netavark. */
export function containersConf(limits: HardLimits): string {
  return `# Written by tools/kind/host.ts (ServiceWithHealthchecks kind-e2e): podman on hosts with hybrid cgroups
# whose processes cannot raise their hard limits.
[containers]
default_ulimits = ["nofile=${limits.nofile}:${limits.nofile}", "nproc=${limits.nproc}:${limits.nproc}"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
`;
}

/**
 * The podman network of the kind nodes. The subnet is chosen here, not by podman, so it can never overlap
 * the local lab (10.244.0.0/16, 10.96.0.0/16, 198.18.0.0/15) or the kind cluster's own pod and service
 * ranges (see cluster_config.ts).
 */
export const NETWORK = { name: "swh-kind", subnet: "172.31.240.0/24" } as const;

async function missingPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of HOST_PACKAGES) {
    const status = await run("dpkg-query", ["-W", "-f=${Status}", pkg], { allowFailure: true });
    if (!status.stdout.includes("install ok installed")) missing.push(pkg);
  }
  return missing;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/**
 * Installs and configures what kind through podman needs; a second call changes nothing. `isolated` are the
 * cluster's pod and Service ranges: they get blackhole routes on this host (see {@link ensureBlackholes}).
 */
export async function ensureHost(log: (line: string) => void, isolated: readonly string[]): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("kind through podman needs root here (rootful podman, debootstrap)");
  const missing = await missingPackages();
  if (missing.length > 0) {
    log(`installing Debian packages: ${missing.join(" ")}`);
    await run("apt-get", ["update", "-qq"]);
    // No recommends: they pull crun and fuse-overlayfs, which podman would then prefer.
    await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      env: { DEBIAN_FRONTEND: "noninteractive" },
    });
  }
  const conf = containersConf(hardLimits(await Deno.readTextFile("/proc/self/limits")));
  if (await readOrEmpty(CONTAINERS_CONF_PATH) !== conf) {
    log(`writing ${CONTAINERS_CONF_PATH}`);
    await Deno.mkdir(CONTAINERS_CONF_PATH.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(CONTAINERS_CONF_PATH, conf);
  }
  // kind mounts the host's /lib/modules into every node; these kernels have every module built in, so the
  // folder does not exist, and podman refuses a missing bind source.
  await Deno.mkdir("/lib/modules", { recursive: true });
  const backend = (await run("podman", ["info", "--format", "{{.Host.NetworkBackend}}"])).stdout.trim();
  if (backend !== "netavark") {
    throw new Error(
      `podman uses the ${backend} network backend (it keeps the one it started with): ` +
        "`podman system reset` switches it to netavark, removing every podman container and image",
    );
  }
  await ensureNetwork(log);
  await ensureBlackholes(isolated, log);
}

/**
 * Blackhole routes on this host for `cidrs`. A node sends whatever it cannot deliver itself to its default
 * route, this host, and from here it would leave the machine: a client reaching a ClusterIP before its node's
 * kube-proxy has programmed it was answered by whatever sits upstream (measured: connections to any
 * 10.112.x.y:25 were accepted there, then reset). Blackholed here, such a packet fails at once and the test
 * retries. Traffic between nodes and pods never uses these routes: nodes reach each other's pods over the
 * podman bridge. Kept (like the podman network); the local lab does the same for its Service range.
 */
async function ensureBlackholes(cidrs: readonly string[], log: (line: string) => void): Promise<void> {
  const routes = (await run("ip", ["route", "show", "type", "blackhole"])).stdout;
  for (const cidr of cidrs) {
    if (routes.split("\n").some((line) => line.trim() === `blackhole ${cidr}`)) continue;
    log(`adding blackhole route ${cidr}`);
    await run("ip", ["route", "replace", "blackhole", cidr]);
  }
}

async function ensureNetwork(log: (line: string) => void): Promise<void> {
  const inspect = await run("podman", ["network", "inspect", NETWORK.name], { allowFailure: true });
  if (inspect.code === 0) {
    const subnets = (JSON.parse(inspect.stdout) as { subnets?: { subnet: string }[] }[])
      .flatMap((n) => n.subnets ?? []).map((s) => s.subnet);
    if (subnets.length === 1 && subnets[0] === NETWORK.subnet) return;
    throw new Error(
      `podman network ${NETWORK.name} exists with subnets ${subnets.join(", ")}, not ${NETWORK.subnet}: ` +
        `remove it (podman network rm ${NETWORK.name}) and run again`,
    );
  }
  log(`creating podman network ${NETWORK.name} (${NETWORK.subnet})`);
  await run("podman", ["network", "create", "--driver", "bridge", "--subnet", NETWORK.subnet, NETWORK.name]);
}
