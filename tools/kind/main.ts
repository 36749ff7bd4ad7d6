/**
 * `deno task kind-image`: prepares the host (podman, runc, debootstrap) and builds every image kind-e2e needs.
 * `deno task kind-e2e [--keep]`: the same, then what a user does with kind: `kind create cluster` (podman
 * provider, one control plane and two workers, our node image), load the operator image,
 * `kubectl apply -k deploy/`, and tests/e2e/scenarios_test.ts with SWH_E2E_BACKEND=kind (the guide's
 * Secret, manifests and scenarios, as on the local backend); deletes the cluster unless --keep.
 *
 * Every step prints its duration. Needs root (rootful podman, debootstrap), Go, and the package registries.
 *
 * @module
 */
import { parse, stringify } from "yaml";
import { run } from "../cluster/exec.ts";
import { buildKindArtifacts, type KindArtifacts } from "./build.ts";
import { assertDisjoint, KIND_NETWORKING, kindClusterConfig } from "./cluster_config.ts";
import { ensureHost, NETWORK } from "./host.ts";

/** Name of the kind cluster (and prefix of its podman containers). */
export const CLUSTER = "swh-e2e";
const ROOT = new URL("../../", import.meta.url).pathname;

function log(line: string): void {
  console.error(`[kind] ${line}`);
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  log(`${what} ...`);
  const result = await fn();
  log(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Environment of every kind command: the podman provider on our network, our kubectl first on PATH. */
function kindEnv(artifacts: KindArtifacts, kubeconfig: string): Record<string, string> {
  return {
    KIND_EXPERIMENTAL_PROVIDER: "podman",
    KIND_EXPERIMENTAL_PODMAN_NETWORK: NETWORK.name,
    KUBECONFIG: kubeconfig,
    PATH: `${artifacts.kubernetesBin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
  };
}

async function prepare(): Promise<KindArtifacts> {
  assertDisjoint([NETWORK.subnet, KIND_NETWORKING.podSubnet, KIND_NETWORKING.serviceSubnet]);
  await step("host (podman, runc, debootstrap)", () => ensureHost(log));
  return await step("binaries and images", () => buildKindArtifacts(log));
}

async function e2e(artifacts: KindArtifacts, keep: boolean): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "swh-kind-" });
  const kubeconfig = `${dir}/kubeconfig`;
  const env = kindEnv(artifacts, kubeconfig);
  const kind = (args: string[]) => run(artifacts.kind, args, { env, cwd: ROOT });
  const clusters = (await kind(["get", "clusters"])).stdout.split("\n");
  if (clusters.includes(CLUSTER)) {
    await step(
      `delete the ${CLUSTER} cluster a previous run left`,
      () => kind(["delete", "cluster", "--name", CLUSTER]),
    );
  }
  const config = kindClusterConfig(
    parse(await Deno.readTextFile(`${ROOT}deploy/kind/cluster.yaml`)),
    artifacts.tags,
  );
  await Deno.writeTextFile(`${dir}/cluster.yaml`, stringify(config));
  try {
    await step("kind create cluster", () =>
      kind([
        "create",
        "cluster",
        "--name",
        CLUSTER,
        "--config",
        `${dir}/cluster.yaml`,
        "--image",
        artifacts.nodeImage,
        "--kubeconfig",
        kubeconfig,
        "--wait",
        "300s",
      ]));
    await step(
      "kind load image-archive (the operator)",
      () => kind(["load", "image-archive", "--name", CLUSTER, artifacts.operatorArchive]),
    );
    await step(
      "kubectl apply -k deploy/",
      () =>
        run(`${artifacts.kubernetesBin}/kubectl`, ["apply", "--server-side", "-k", "deploy/"], {
          env,
          cwd: ROOT,
        }),
    );
    return await step("scenarios (tests/e2e/scenarios_test.ts, SWH_E2E_BACKEND=kind)", async () => {
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: ["test", "-A", "tests/e2e/scenarios_test.ts"],
        cwd: ROOT,
        env: { ...env, SWH_E2E_BACKEND: "kind" },
      }).spawn().status;
      return code;
    });
  } finally {
    if (keep) {
      log(
        `kept: export KUBECONFIG=${kubeconfig} KIND_EXPERIMENTAL_PROVIDER=podman; ${artifacts.kind} delete cluster --name ${CLUSTER}`,
      );
    } else {
      await step("kind delete cluster", () => kind(["delete", "cluster", "--name", CLUSTER]));
      await Deno.remove(dir, { recursive: true });
    }
  }
}

async function main(args: string[]): Promise<number> {
  const started = performance.now();
  const [command, ...rest] = args;
  try {
    if (command === "image") {
      const artifacts = await prepare();
      log(`node image: ${artifacts.nodeImage}`);
      log(`operator image archive: ${artifacts.operatorArchive}`);
      return 0;
    }
    if (command === "e2e") {
      const code = await e2e(await prepare(), rest.includes("--keep"));
      log(`${code === 0 ? "passed" : "FAILED"}`);
      return code;
    }
    console.error("usage: deno run -A tools/kind/main.ts image | e2e [--keep]");
    return 2;
  } finally {
    log(`total: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
