/** Helm (3 or 4, built and cached by tools/helm.ts) against the test cluster, with throwaway Helm state. */
import { ensureHelm, type HelmMajor } from "../../tools/helm.ts";
import { requireTestKubeconfig } from "./env.ts";

/** Result of a helm call. */
export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let home: string | undefined;

/**
 * Helm's cache, config and data folders for this test process: a user's repositories, plugins and registry
 * logins must neither leak into the tests nor be changed by them.
 */
function helmHome(): Record<string, string> {
  home ??= Deno.makeTempDirSync({ prefix: "swh-helm-" });
  return {
    HELM_CACHE_HOME: `${home}/cache`,
    HELM_CONFIG_HOME: `${home}/config`,
    HELM_DATA_HOME: `${home}/data`,
  };
}

/**
 * Runs `helm` of `major` with `args`. With `cluster` (default) it talks to the test control plane
 * (`--kubeconfig`); without, it is one of the offline commands (template, lint, package, show).
 */
export async function helm(
  major: HelmMajor,
  args: string[],
  opts: { cluster?: boolean } = {},
): Promise<HelmResult> {
  const kube = opts.cluster === false ? [] : ["--kubeconfig", requireTestKubeconfig()];
  const out = await new Deno.Command(await ensureHelm(major), {
    args: [...args, ...kube],
    env: helmHome(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Runs helm and returns stdout; throws with stderr when it fails. */
export async function helmOk(
  major: HelmMajor,
  args: string[],
  opts: { cluster?: boolean } = {},
): Promise<string> {
  const result = await helm(major, args, opts);
  if (result.code !== 0) {
    throw new Error(`helm ${major}: helm ${args.join(" ")} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}
