/**
 * Builds (or finds cached) everything kind-e2e runs: the binaries from source, the Debian root
 * filesystems, the component, operator and workload image archives, and the node image in podman.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";
import { ensureBundle, isBundleCached } from "../cluster/binaries.ts";
import { type BinaryBundle, etcdBundle } from "../cluster/versions.ts";
import { kubeRouterManifest } from "./cni.ts";
import type { ComponentTags } from "./cluster_config.ts";
import {
  ensureImageArchive,
  type ImageInputs,
  operatorImage,
  pauseImage,
  ROOTFS,
  rootfsBinaryImage,
  staticBinaryImage,
  workloadImage,
} from "./images.ts";
import { ensureNodeImage } from "./node_image.ts";
import { exists } from "./cache.ts";
import { ensureRootfs, rootfsPath, type RootfsSpec } from "./rootfs.ts";
import {
  containerdBundle,
  corednsBundle,
  crictlBundle,
  kindBundle,
  kubernetesReleaseBundle,
  kubernetesVersion,
  kubeRouterBundle,
} from "./versions.ts";

/** The node's root filesystem: what kind's base image installs from Debian, plus Debian's runc and CNI plugins. */
export const NODE_ROOTFS: RootfsSpec = {
  name: "node",
  packages: [
    "systemd",
    "systemd-sysv",
    "dbus",
    "iptables",
    "nftables",
    "conntrack",
    "iproute2",
    "ethtool",
    "kmod",
    "util-linux",
    "mount",
    "libseccomp2",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "procps",
    "socat",
    "runc",
    "containernetworking-plugins",
  ],
};

/** What the kind e2e needs, ready to use. */
export interface KindArtifacts {
  /** podman reference of the node image. */
  nodeImage: string;
  /** The kind CLI. */
  kind: string;
  /** Folder with kubectl (and the other Kubernetes binaries) of the cluster's version. */
  kubernetesBin: string;
  /** OCI archive of the operator image, loaded into the cluster after creation as a user would. */
  operatorArchive: string;
  /** Tags kubeadm must be told about (see cluster_config.ts). */
  tags: ComponentTags;
}

/** Deno's version and binary: the pinned one the ./deno shim runs (it exports SWH_DENO). */
async function denoBinary(): Promise<{ path: string; version: string }> {
  const path = Deno.env.get("SWH_DENO") ?? Deno.execPath();
  const version = (await run(path, ["--version"])).stdout.split("\n")[0];
  return { path, version };
}

/** `kubeadm config images list` for our version: the references kubeadm will look for on the nodes. */
async function kubeadmImages(kubeadm: string, version: string): Promise<Map<string, string>> {
  const lines = (await run(kubeadm, ["config", "images", "list", "--kubernetes-version", version])).stdout
    .trim().split("\n");
  return new Map(lines.map((ref) => [ref.slice(ref.lastIndexOf("/") + 1, ref.lastIndexOf(":")), ref]));
}

function retag(ref: string, tag: string): string {
  return `${ref.slice(0, ref.lastIndexOf(":"))}:${tag}`;
}

/**
 * What buildKindArtifacts would build from source because it is not cached: the Go builds and the root
 * filesystems, the slow part of a cold run (about an hour on two cores; the images assembled from them take
 * minutes). Empty on a warm machine.
 */
export async function uncachedSources(): Promise<string[]> {
  const bundles = [
    kubernetesReleaseBundle(),
    etcdBundle(),
    containerdBundle(),
    crictlBundle(),
    corednsBundle(),
    kubeRouterBundle(),
    kindBundle(),
  ];
  const missing = bundles.filter((bundle) => !isBundleCached(bundle)).map((bundle) => bundle.key);
  for (const spec of [NODE_ROOTFS, ROOTFS.net, ROOTFS.workload]) {
    const path = await rootfsPath(spec);
    if (!await exists(`${path}.complete`)) missing.push(`rootfs ${spec.name}`);
  }
  return missing;
}

/** Builds what is missing and returns where everything is. `log` gets one line per step. */
export async function buildKindArtifacts(log: (line: string) => void): Promise<KindArtifacts> {
  const bundles = new Map<string, string>();
  const build = async (bundle: BinaryBundle) => {
    const dir = await ensureBundle(bundle, log, { nice: 15 });
    bundles.set(bundle.key, dir);
    return dir;
  };
  const release = kubernetesReleaseBundle();
  const bins = {
    release: await build(release),
    etcd: await build(etcdBundle()),
    containerd: await build(containerdBundle()),
    crictl: await build(crictlBundle()),
    coredns: await build(corednsBundle()),
    kubeRouter: await build(kubeRouterBundle()),
    kind: await build(kindBundle()),
  };

  const rootfs = new Map<RootfsSpec, string>();
  for (const spec of [NODE_ROOTFS, ROOTFS.net, ROOTFS.workload]) {
    rootfs.set(spec, await ensureRootfs(spec, log));
  }

  const deno = await denoBinary();
  const inputs: ImageInputs = {
    bin: (bundle) => {
      const dir = bundles.get(bundle.key);
      if (!dir) throw new Error(`bundle ${bundle.key} was not built`);
      return dir;
    },
    rootfs: (spec) => {
      const dir = rootfs.get(spec);
      if (!dir) throw new Error(`root filesystem ${spec.name} was not built`);
      return dir;
    },
    deno: deno.path,
    denoVersion: deno.version,
  };

  const version = kubernetesVersion();
  const wanted = await kubeadmImages(`${bins.release}/kubeadm`, version);
  const ref = (name: string) => {
    const found = wanted.get(name);
    if (!found) {
      throw new Error(`kubeadm ${version} lists no ${name} image: ${[...wanted.values()].join(", ")}`);
    }
    return found;
  };
  const etcd = etcdBundle();
  const coredns = corednsBundle();
  const kubeRouter = kubeRouterBundle();
  // etcd images are tagged <version>-<revision>; ours is the pinned etcd of tools/cluster.
  const tags: ComponentTags = { etcd: `${etcd.version.replace(/^v/, "")}-0`, coredns: coredns.version };
  const kubeRouterRef = `swh.local/kube-router:${kubeRouter.version}`;
  const preloadRecipes = [
    ...["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map((name) =>
      staticBinaryImage(inputs, ref(name), release, name)
    ),
    rootfsBinaryImage(inputs, ref("kube-proxy"), ROOTFS.net, release, "kube-proxy"),
    staticBinaryImage(inputs, retag(ref("etcd"), tags.etcd), etcd, "etcd"),
    staticBinaryImage(inputs, retag(ref("coredns"), tags.coredns), coredns, "coredns", "coredns"),
    pauseImage(ref("pause"), release.moduleDir),
    rootfsBinaryImage(inputs, kubeRouterRef, ROOTFS.net, kubeRouter, "kube-router"),
  ];
  const preload: string[] = [];
  for (const recipe of preloadRecipes) preload.push(await ensureImageArchive(recipe, log));
  // The e2e workload (540 MiB) is preloaded too: `kind load` of it took 80 s per cluster (three nodes each
  // import and unpack it), the node image rebuild it costs when it changes about 60 s.
  preload.push(await ensureImageArchive(workloadImage(inputs), log));
  const operatorArchive = await ensureImageArchive(operatorImage(inputs), log);

  const nodeImage = await ensureNodeImage({
    kubernetesVersion: version,
    rootfs: inputs.rootfs(NODE_ROOTFS),
    binaries: {
      "usr/bin/kubelet": `${bins.release}/kubelet`,
      "usr/bin/kubeadm": `${bins.release}/kubeadm`,
      "usr/bin/kubectl": `${bins.release}/kubectl`,
      "usr/local/bin/containerd": `${bins.containerd}/containerd`,
      "usr/local/bin/containerd-shim-runc-v2": `${bins.containerd}/containerd-shim-runc-v2`,
      "usr/local/bin/ctr": `${bins.containerd}/ctr`,
      "usr/local/bin/crictl": `${bins.crictl}/crictl`,
    },
    files: {
      "kind/manifests/default-cni.yaml": kubeRouterManifest(kubeRouterRef),
      "kind/manifests/default-storage.yaml": DEFAULT_STORAGE,
    },
    preload,
    containerd: `${bins.containerd}/containerd`,
    ctr: `${bins.containerd}/ctr`,
  }, log);
  return {
    nodeImage,
    kind: `${bins.kind}/kind`,
    kubernetesBin: bins.release,
    operatorArchive,
    tags,
  };
}

/**
 * kind's fallback storage (a default StorageClass served by kube-controller-manager's host-path
 * provisioner, which kind enables), written out so kind does not warn: nothing here needs volumes, and
 * kind's local-path provisioner would be two more images to build.
 */
const DEFAULT_STORAGE = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
`;
