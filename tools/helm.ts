/**
 * Helm 3 and Helm 4, built from the Go module proxy by the wrapper modules in tools/kubebin/helm3 and
 * tools/kubebin/helm4 and cached next to the Kubernetes binaries (tools/cluster/binaries.ts `ensureBundle`),
 * for the chart tests and `deno task release`.
 *
 * @module
 */
import { ensureBundle } from "./cluster/binaries.ts";
import { type BinaryBundle, requiredVersion } from "./cluster/versions.ts";

const KUBEBIN = new URL("./kubebin/", import.meta.url);

/** The Helm major versions we build and test the chart with. */
export type HelmMajor = 3 | 4;

/** Helm majors in the order tests use them: the current one first. */
export const HELM_MAJORS: readonly HelmMajor[] = [4, 3];

/**
 * The Helm `major` bundle, stamped like Helm's own Makefile stamps release builds: `helm version` reports the
 * pinned version, and Helm 3 gets the Kubernetes version its client libraries speak as the default
 * `.Capabilities.KubeVersion` of `helm template`/`lint` (unstamped it claims v1.20; Helm 4 reads it from the
 * build info by itself).
 */
export function helmBundle(major: HelmMajor): BinaryBundle {
  const moduleDir = new URL(`helm${major}/`, KUBEBIN).pathname;
  const goMod = Deno.readTextFileSync(`${moduleDir}go.mod`);
  const module = `helm.sh/helm/v${major}`;
  const version = requiredVersion(goMod, module);
  const ldflags = [
    `-X ${module}/internal/version.version=${version}`,
    `-X ${module}/internal/version.gitTreeState=clean`,
  ];
  if (major === 3) {
    // The Makefile's K8S_MODULES_MAJOR_VER/MINOR_VER: client-go v0.Y.Z speaks Kubernetes 1.Y.
    const minor = requiredVersion(goMod, "k8s.io/client-go").split(".")[1];
    for (const pkg of ["pkg/chartutil", "pkg/lint/rules"]) {
      ldflags.push(`-X ${module}/${pkg}.k8sVersionMajor=1`, `-X ${module}/${pkg}.k8sVersionMinor=${minor}`);
    }
  }
  return { key: `helm-${version}`, version, moduleDir, commands: { helm: `${module}/cmd/helm` }, ldflags };
}

/**
 * Path of the `helm` binary of `major`, built (at low priority: the machine is shared) when the cache lacks it.
 * A cold build takes a few minutes; afterwards this is a stat.
 */
export async function ensureHelm(
  major: HelmMajor,
  log: (line: string) => void = console.error,
): Promise<string> {
  return `${await ensureBundle(helmBundle(major), log, { nice: 15 })}/helm`;
}

/**
 * `deno task helm build`: builds (or finds) Helm 4 and Helm 3 and prints their paths (what `.ci/run` runs).
 * `deno task helm [--helm3] ARGS…`: runs the cached Helm 4 (or 3) with ARGS, e.g. `deno task helm lint deploy/chart`.
 */
async function main(args: string[]): Promise<number> {
  if (args[0] === "build") {
    for (const major of HELM_MAJORS) console.log(await ensureHelm(major));
    return 0;
  }
  const major: HelmMajor = args[0] === "--helm3" ? 3 : 4;
  const rest = major === 3 ? args.slice(1) : args;
  const { code } = await new Deno.Command(await ensureHelm(major), { args: rest }).spawn().status;
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
