/**
 * Prepares this host for kind through podman, idempotently: Debian packages, podman's configuration for
 * hosts of our kind, and the podman network the kind nodes live on.
 *
 * What our machines need (docs: /work/shared/ENVIRONMENT.md, measured): crun fails on the hybrid cgroup
 * layout, so runc is the runtime; the hard RLIMIT_NOFILE is 20000, so podman's default rlimits (1048576)
 * are refused unless containers get lower defaults; netavark + aardvark-dns give the network the DNS that
 * kind needs (workers join the control plane by its container name).
 *
 * @module
 */
import { run } from "../cluster/exec.ts";

/** Debian packages: podman and its network stack, runc, and debootstrap for the root filesystems. */
export const HOST_PACKAGES = ["podman", "runc", "netavark", "aardvark-dns", "debootstrap"] as const;

/** Drop-in read by every podman command on this host (containers.conf(5)). */
export const CONTAINERS_CONF_PATH = "/etc/containers/containers.conf.d/50-swh-kind.conf";

/** The drop-in's content. Limits below the host's hard limits; kind's nodes run systemd, containerd, pods. */
export const CONTAINERS_CONF =
  `# Written by tools/kind/host.ts (ServiceWithHealthchecks kind-e2e): podman on hosts with hybrid cgroups
# and a hard RLIMIT_NOFILE of 20000.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
`;

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

/** Installs and configures what kind through podman needs; a second call changes nothing. */
export async function ensureHost(log: (line: string) => void): Promise<void> {
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
  if (await readOrEmpty(CONTAINERS_CONF_PATH) !== CONTAINERS_CONF) {
    log(`writing ${CONTAINERS_CONF_PATH}`);
    await Deno.mkdir(CONTAINERS_CONF_PATH.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(CONTAINERS_CONF_PATH, CONTAINERS_CONF);
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
