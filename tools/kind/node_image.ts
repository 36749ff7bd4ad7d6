/**
 * The kind node image, laid out as kind's own (kubernetes-sigs/kind images/base + pkg/build/nodeimage) but
 * assembled here from a debootstrapped Debian and binaries built from source:
 *
 * - Debian bookworm with systemd (PID 1), iptables/nftables, conntrack, Debian's runc and CNI plugins;
 * - containerd 2, ctr and crictl in /usr/local/bin, kubelet, kubeadm and kubectl in /usr/bin;
 * - tools/kind/node/rootfs: the entrypoint, containerd's configuration, the systemd units of containerd and
 *   kubelet (kubeadm's drop-in);
 * - /kind/version and /kind/manifests/default-{cni,storage}.yaml, which `kind create cluster` reads;
 * - the images kubeadm and the pod network need, imported into containerd's content store (`k8s.io`
 *   namespace, pinned, not unpacked: containerd unpacks them on first use), as kind's build does.
 *
 * The result is imported into podman as `localhost/swh-kind/node:<kubernetes version>-<content key>`.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";
import { hashOf, kindCacheDir, treeContents, unmountBelow } from "./cache.ts";

const NODE_FILES = new URL("./node/rootfs/", import.meta.url).pathname;
/** podman's name of our node images (every build is one tag of it). */
export const NODE_IMAGE_REPOSITORY = "localhost/swh-kind/node";

/** What goes into a node image besides the fixed files in tools/kind/node/rootfs. */
export interface NodeImageInputs {
  kubernetesVersion: string;
  /** Folder of the debootstrapped node root filesystem. */
  rootfs: string;
  /** Destination in the node (e.g. `usr/bin/kubelet`) → binary on this machine. */
  binaries: Record<string, string>;
  /** Files generated for /kind (e.g. `kind/manifests/default-cni.yaml`) → content. */
  files: Record<string, string>;
  /** OCI archives to preload into containerd. */
  preload: string[];
  /** containerd and ctr of the same build as the node's, to fill its content store. */
  containerd: string;
  ctr: string;
}

/** The image reference the inputs produce (a content key: same inputs, same tag). */
export async function nodeImageRef(inputs: NodeImageInputs): Promise<string> {
  const key = await hashOf(
    inputs.kubernetesVersion,
    inputs.rootfs,
    ...Object.entries(inputs.binaries).flat(),
    ...Object.entries(inputs.files).flat(),
    ...inputs.preload,
    ...await treeContents(NODE_FILES),
  );
  return `${NODE_IMAGE_REPOSITORY}:${inputs.kubernetesVersion}-${key}`;
}

async function imageExists(ref: string): Promise<boolean> {
  return (await run("podman", ["image", "exists", ref], { allowFailure: true })).code === 0;
}

/** Units enabled the way `systemctl enable` would, and the ones a container must not run. */
async function configureSystemd(root: string): Promise<void> {
  const wants = `${root}/etc/systemd/system/multi-user.target.wants`;
  await Deno.mkdir(wants, { recursive: true });
  for (const unit of ["containerd.service", "kubelet.service"]) {
    await Deno.remove(`${wants}/${unit}`).catch(() => {});
    await Deno.symlink(`/etc/systemd/system/${unit}`, `${wants}/${unit}`);
  }
  // binfmt_misc registrations are kernel-global: a node must not touch the host's.
  await Deno.remove(`${root}/etc/systemd/system/systemd-binfmt.service`).catch(() => {});
  await Deno.symlink("/dev/null", `${root}/etc/systemd/system/systemd-binfmt.service`);
  // The kernel log is the host's; journald would mirror it into every node.
  await Deno.writeTextFile(`${root}/etc/systemd/journald.conf`, "ReadKMsg=no\n", { append: true });
}

/** Imports `archives` into the content store below `root` with a containerd of our own on this machine. */
async function preloadImages(
  root: string,
  work: string,
  inputs: NodeImageInputs,
  log: (line: string) => void,
): Promise<void> {
  const socket = `${work}/containerd.sock`;
  await Deno.writeTextFile(
    `${work}/containerd.toml`,
    `version = 3
root = "${root}/var/lib/containerd"
state = "${work}/state"
# Only the content store and image metadata are needed: no CRI, no containers.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
`,
  );
  const daemon = new Deno.Command(inputs.containerd, {
    args: ["--config", `${work}/containerd.toml`, "--log-level", "warn"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(daemon.stderr).text();
  const ctr = (args: string[]) => run(inputs.ctr, ["--address", socket, "--namespace", "k8s.io", ...args]);
  try {
    const deadline = Date.now() + 30_000;
    while ((await run(inputs.ctr, ["--address", socket, "version"], { allowFailure: true })).code !== 0) {
      if (Date.now() > deadline) throw new Error(`containerd did not answer on ${socket} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const archive of inputs.preload) {
      // Pinned so kubelet's image garbage collection never removes them (nothing could pull them back).
      await ctr([
        "images",
        "import",
        "--all-platforms",
        "--no-unpack",
        "--label=io.cri-containerd.pinned=pinned",
        archive,
      ]);
    }
    log(`preloaded: ${(await ctr(["images", "list", "-q"])).stdout.trim().split("\n").join(", ")}`);
  } finally {
    daemon.kill("SIGTERM");
    const status = await daemon.status;
    const errors = await stderr;
    if (!status.success && status.signal !== "SIGTERM") log(`containerd (preload) exited: ${errors.trim()}`);
  }
}

/**
 * Makes sure podman has the node image for `inputs`, assembling it if missing (removing older tags of
 * ours). Returns its reference.
 */
export async function ensureNodeImage(inputs: NodeImageInputs, log: (line: string) => void): Promise<string> {
  const ref = await nodeImageRef(inputs);
  if (await imageExists(ref)) return ref;
  const started = performance.now();
  const work = `${kindCacheDir()}/staging/node-${Deno.pid}`;
  const root = `${work}/rootfs`;
  await Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true });
  try {
    log(`assembling node image ${ref}`);
    await run("cp", ["-a", inputs.rootfs, root]);
    // Modes from the checkout, owner root (a checkout may belong to anyone).
    await run("cp", ["-r", "--preserve=mode", `${NODE_FILES}.`, `${root}/`]);
    for (const [dest, source] of Object.entries(inputs.binaries)) {
      await Deno.copyFile(source, `${root}/${dest}`);
      await Deno.chmod(`${root}/${dest}`, 0o755);
    }
    for (const [dest, content] of Object.entries(inputs.files)) {
      await Deno.mkdir(`${root}/${dest}`.replace(/\/[^/]+$/, ""), { recursive: true });
      await Deno.writeTextFile(`${root}/${dest}`, content);
    }
    await Deno.writeTextFile(`${root}/kind/version`, inputs.kubernetesVersion);
    // kubeadm writes static pod manifests here; its Debian package would have created it.
    await Deno.mkdir(`${root}/etc/kubernetes/manifests`, { recursive: true });
    await Deno.mkdir(`${root}/opt/cni/bin`, { recursive: true });
    await configureSystemd(root);
    await preloadImages(root, work, inputs, log);
    // One layer, as kind squashes its base image; systemd stops on SIGRTMIN+3, not SIGTERM.
    await run("bash", [
      "-c",
      `set -o pipefail; nice -n 15 tar --numeric-owner -C "${root}" -c . | podman import ` +
      `--change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' ` +
      `--change 'ENV container=podman' - "${ref}"`,
    ]);
  } finally {
    await unmountBelow(work);
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  log(`node image ${ref}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const older =
    (await run("podman", ["images", "--format", "{{.Repository}}:{{.Tag}}", NODE_IMAGE_REPOSITORY]))
      .stdout.trim().split("\n").filter((image) => image && image !== ref);
  for (const image of older) await run("podman", ["rmi", image], { allowFailure: true });
  return ref;
}
