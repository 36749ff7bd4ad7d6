/**
 * `deno task kind-e2e [--keep]`: the e2e scenarios on a kind cluster, for users with Docker and kind.
 * Creates cluster `swh-e2e` (deploy/kind/cluster.yaml), builds the operator image (deploy/Dockerfile, which
 * runs `deno compile`), loads it into the nodes, installs the operator with `kubectl apply -k deploy/`,
 * runs tests/e2e/scenarios_test.ts with SWH_E2E_BACKEND=kind, and deletes the cluster (unless --keep).
 *
 * UNTESTED on our CI machines: they have no Docker engine. Needs docker, kind and kubectl on PATH.
 */
import { run } from "./cluster/exec.ts";

const CLUSTER = "swh-e2e";
const IMAGE = "swh.local/service-with-healthchecks:0.1.0";
const ROOT = new URL("../", import.meta.url).pathname;

async function step(
  what: string,
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const started = performance.now();
  console.error(`[kind] ${what} ...`);
  const { stdout } = await run(cmd, args, { cwd: ROOT, env });
  console.error(`[kind] ${what}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return stdout;
}

async function main(args: string[]): Promise<number> {
  for (const tool of ["docker", "kind", "kubectl"]) {
    const found = await run("sh", ["-c", `command -v ${tool}`], { allowFailure: true });
    if (found.code !== 0) {
      throw new Error(`${tool} is not on PATH: the kind backend needs docker, kind and kubectl`);
    }
  }
  const kubeconfig = `${await Deno.makeTempDir({ prefix: "swh-kind-" })}/kubeconfig`;
  const env = { KUBECONFIG: kubeconfig };
  await step("create cluster", "kind", [
    "create",
    "cluster",
    "--name",
    CLUSTER,
    "--config",
    "deploy/kind/cluster.yaml",
    "--kubeconfig",
    kubeconfig,
    "--wait",
    "120s",
  ]);
  try {
    await step("build image", "docker", ["build", "-f", "deploy/Dockerfile", "-t", IMAGE, "."]);
    await step("load image", "kind", ["load", "docker-image", IMAGE, "--name", CLUSTER]);
    await step("deploy operator", "kubectl", ["apply", "--server-side", "-k", "deploy/"], env);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "tests/e2e/scenarios_test.ts"],
      cwd: ROOT,
      env: { ...env, SWH_E2E_BACKEND: "kind" },
    }).spawn().status;
    return code;
  } finally {
    if (!args.includes("--keep")) {
      await step("delete cluster", "kind", ["delete", "cluster", "--name", CLUSTER]);
    } else console.error(`[kind] kept: export KUBECONFIG=${kubeconfig}`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
