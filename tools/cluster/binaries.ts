/** Builds the pinned control-plane binaries through the Go module proxy and caches them by version. */
import { run } from "./exec.ts";
import { type BinaryBundle, cacheRoot, etcdBundle, kubernetesBundle } from "./versions.ts";

/** Absolute paths of every binary the local cluster uses. */
export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeProxy: string;
  kubectl: string;
}

const STAMP = ".complete";

function bundleDir(bundle: BinaryBundle): string {
  return `${cacheRoot()}/bin/${bundle.key}`;
}

/** Whether `bundle` is built and cached (ensureBundle would return at once). */
export function isBundleCached(bundle: BinaryBundle): boolean {
  return isComplete(bundleDir(bundle));
}

function isComplete(dir: string): boolean {
  try {
    Deno.statSync(`${dir}/${STAMP}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure every binary of `bundle` is in the cache, building the missing bundle with `go build`.
 *
 * A build goes to a temporary folder that is renamed into place only when it succeeded, so an
 * interrupted build never leaves a half-filled cache behind. Needs `go` on PATH and the module proxy.
 * `nice` (a niceness, e.g. 15) runs the compiler at lower priority, for builds on a shared machine.
 */
export async function ensureBundle(
  bundle: BinaryBundle,
  log: (line: string) => void,
  options: { nice?: number } = {},
): Promise<string> {
  const dir = bundleDir(bundle);
  if (isComplete(dir)) return dir;
  const tmp = `${dir}.building-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  const started = performance.now();
  log(`building ${bundle.key} (${Object.keys(bundle.commands).join(", ")}); a cold build takes minutes`);
  try {
    // One build per command with an explicit output name: Go names a binary after its package path,
    // which for etcd's module root is the major-version suffix, not `etcd`. The build cache makes the
    // shared packages cost once.
    for (const [name, pkg] of Object.entries(bundle.commands)) {
      const ldflags = ["-s", "-w", ...(bundle.ldflags ?? [])].join(" ");
      const tags = bundle.tags?.length ? [`-tags=${bundle.tags.join(",")}`] : [];
      const build = ["go", "build", "-trimpath", `-ldflags=${ldflags}`, ...tags, "-o", `${tmp}/${name}`, pkg];
      const [cmd, ...args] = options.nice === undefined ? build : ["nice", "-n", `${options.nice}`, ...build];
      await run(cmd, args, {
        cwd: bundle.moduleDir,
        // GOTOOLCHAIN from the environment lets an older Go fetch the wanted one (module proxy); else the local.
        env: {
          CGO_ENABLED: "0",
          GOTOOLCHAIN: Deno.env.get("GOTOOLCHAIN") || "local",
          GOFLAGS: "-mod=readonly",
        },
      });
    }
    await Deno.writeTextFile(`${tmp}/${STAMP}`, `${bundle.version}\n`);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dir);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  log(`built ${bundle.key} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** Ensures all binaries exist (building what is missing) and returns their paths. */
export async function ensureBinaries(log: (line: string) => void = console.error): Promise<Binaries> {
  const k8s = await ensureBundle(kubernetesBundle(), log);
  const etcd = await ensureBundle(etcdBundle(), log);
  return {
    etcd: `${etcd}/etcd`,
    kubeApiserver: `${k8s}/kube-apiserver`,
    kubeControllerManager: `${k8s}/kube-controller-manager`,
    kubeProxy: `${k8s}/kube-proxy`,
    kubectl: `${k8s}/kubectl`,
  };
}
