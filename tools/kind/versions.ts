/**
 * Pinned versions of everything the kind node image is built from, read from the wrapper Go modules in
 * tools/kubebin/ (one place per version), as binary bundles for tools/cluster/binaries.ts to build and cache.
 *
 * @module
 */
import { type BinaryBundle, requiredVersion } from "../cluster/versions.ts";

const KUBEBIN = new URL("../kubebin/", import.meta.url);

function wrapper(dir: string, module: string): { moduleDir: string; version: string } {
  const moduleDir = new URL(`${dir}/`, KUBEBIN).pathname;
  return { moduleDir, version: requiredVersion(Deno.readTextFileSync(`${moduleDir}go.mod`), module) };
}

/** The Kubernetes version of the cluster (the one tools/cluster builds, so both clusters agree). */
export function kubernetesVersion(): string {
  return wrapper("kubernetes", "k8s.io/kubernetes").version;
}

/**
 * Every Kubernetes binary a kind cluster runs, stamped with its version the way release builds are
 * (`kubeadm` and `kubelet --version` read it; kubeadm refuses or mis-parses the unstamped `v0.0.0-master`).
 * A separate cache entry from tools/cluster's unstamped binaries; the Go build cache shares the work.
 */
export function kubernetesReleaseBundle(): BinaryBundle {
  const { moduleDir, version } = wrapper("kubernetes", "k8s.io/kubernetes");
  const [major, minor] = version.replace(/^v/, "").split(".");
  const stamp = (pkg: string) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ];
  const commands = [
    "kubelet",
    "kubeadm",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
  ];
  return {
    key: `k8s-release-${version}`,
    version,
    moduleDir,
    commands: Object.fromEntries(commands.map((name) => [name, `k8s.io/kubernetes/cmd/${name}`])),
    ldflags: [...stamp("k8s.io/component-base/version"), ...stamp("k8s.io/client-go/pkg/version")],
  };
}

/** containerd 2 (daemon, runc shim, ctr), without the snapshotters kind never selects (as kind builds it). */
export function containerdBundle(): BinaryBundle {
  const module = "github.com/containerd/containerd/v2";
  const { moduleDir, version } = wrapper("containerd", module);
  return {
    key: `containerd-${version}`,
    version,
    moduleDir,
    commands: {
      containerd: `${module}/cmd/containerd`,
      "containerd-shim-runc-v2": `${module}/cmd/containerd-shim-runc-v2`,
      ctr: `${module}/cmd/ctr`,
    },
    tags: ["no_aufs", "no_zfs", "no_btrfs", "no_devmapper"],
    ldflags: [`-X ${module}/version.Version=${version}`],
  };
}

/** crictl, the CRI client kind's tooling and users run inside a node. */
export function crictlBundle(): BinaryBundle {
  const { moduleDir, version } = wrapper("crictl", "sigs.k8s.io/cri-tools");
  return {
    key: `crictl-${version}`,
    version,
    moduleDir,
    commands: { crictl: "sigs.k8s.io/cri-tools/cmd/crictl" },
    ldflags: [`-X sigs.k8s.io/cri-tools/pkg/version.Version=${version}`],
  };
}

/** CoreDNS, the cluster DNS kubeadm deploys. */
export function corednsBundle(): BinaryBundle {
  const { moduleDir, version } = wrapper("coredns", "github.com/coredns/coredns");
  return {
    key: `coredns-${version}`,
    version,
    moduleDir,
    commands: { coredns: "github.com/coredns/coredns" },
  };
}

/** kube-router, the pod network (CNI configuration and routes between nodes). */
export function kubeRouterBundle(): BinaryBundle {
  const module = "github.com/cloudnativelabs/kube-router/v2";
  const { moduleDir, version } = wrapper("kube-router", module);
  return {
    key: `kube-router-${version}`,
    version,
    moduleDir,
    commands: { "kube-router": `${module}/cmd/kube-router` },
  };
}

/** The kind CLI. */
export function kindBundle(): BinaryBundle {
  const { moduleDir, version } = wrapper("kind", "sigs.k8s.io/kind");
  return { key: `kind-${version}`, version, moduleDir, commands: { kind: "sigs.k8s.io/kind" } };
}
