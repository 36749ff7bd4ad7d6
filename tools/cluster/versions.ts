/** Pinned versions of the local control plane, read from the wrapper Go modules so they live in one place. */

const KUBEBIN = new URL("../kubebin/", import.meta.url);

/** A Go wrapper module that builds pinned binaries, and the commands it builds. */
export interface BinaryBundle {
  /** Short name used for the cache folder, e.g. `k8s-v1.36.3`. */
  readonly key: string;
  /** Version string as pinned in go.mod. */
  readonly version: string;
  /** Directory of the wrapper module (where `go build` runs). */
  readonly moduleDir: string;
  /** Binary name → Go package path. */
  readonly commands: Readonly<Record<string, string>>;
  /** Go build tags, if any (e.g. containerd's `no_btrfs`). */
  readonly tags?: readonly string[];
  /** Extra linker flags, e.g. `-X` version stamps that release builds set. */
  readonly ldflags?: readonly string[];
}

/** The version `goMod` requires of `module` (throws when it does not require it). */
export function requiredVersion(goMod: string, module: string): string {
  const match = goMod.match(
    new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m"),
  );
  if (!match) throw new Error(`tools/kubebin: go.mod does not require ${module}`);
  return match[1];
}

/** The Kubernetes bundle: kube-apiserver, kube-controller-manager, kube-proxy and kubectl. */
export function kubernetesBundle(): BinaryBundle {
  const dir = new URL("kubernetes/", KUBEBIN);
  const version = requiredVersion(Deno.readTextFileSync(new URL("go.mod", dir)), "k8s.io/kubernetes");
  const cmd = (name: string) => `k8s.io/kubernetes/cmd/${name}`;
  return {
    key: `k8s-${version}`,
    version,
    moduleDir: dir.pathname,
    commands: {
      "kube-apiserver": cmd("kube-apiserver"),
      "kube-controller-manager": cmd("kube-controller-manager"),
      "kube-proxy": cmd("kube-proxy"),
      "kubectl": cmd("kubectl"),
    },
  };
}

/** The etcd bundle. */
export function etcdBundle(): BinaryBundle {
  const dir = new URL("etcd/", KUBEBIN);
  const version = requiredVersion(Deno.readTextFileSync(new URL("go.mod", dir)), "go.etcd.io/etcd/server/v3");
  return {
    key: `etcd-${version}`,
    version,
    moduleDir: dir.pathname,
    commands: { etcd: "go.etcd.io/etcd/server/v3" },
  };
}

/** Root of the machine-wide cache (binaries, cluster state), outside the repository. */
export function cacheRoot(): string {
  const explicit = Deno.env.get("SWH_CACHE_DIR");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${base}/swh`;
}
