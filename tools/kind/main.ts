/**
 * `deno task kind-image`: prepares the host (podman, runc, debootstrap) and builds every image kind-e2e needs.
 * `deno run -A tools/kind/main.ts cached`: exits 0 when every source build is cached (a run takes minutes).
 * `deno task kind-e2e [--keep]`: the same, then what a user does with kind: `kind create cluster` (podman
 * provider, one control plane and two workers, our node image), load the operator image,
 * `kubectl apply -k deploy/`, and tests/e2e/scenarios_test.ts with SWH_E2E_BACKEND=kind (the guide's
 * Secret, manifests and scenarios, as on the local backend); deletes the cluster unless --keep.
 *
 * Every step prints its duration. Needs root (rootful podman, debootstrap), Go, and the package registries.
 *
 * @module
 */
import { parse } from "yaml";
import { run } from "../cluster/exec.ts";
import { buildKindArtifacts, type KindArtifacts, uncachedSources } from "./build.ts";
import { kindCacheDir, pruneOthers } from "./cache.ts";
import { KindCluster } from "./cluster.ts";
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

async function prepare(): Promise<KindArtifacts> {
  assertDisjoint([NETWORK.subnet, KIND_NETWORKING.podSubnet, KIND_NETWORKING.serviceSubnet]);
  await step(
    "host (podman, runc, debootstrap)",
    () => ensureHost(log, [KIND_NETWORKING.podSubnet, KIND_NETWORKING.serviceSubnet]),
  );
  return await step("binaries and images", () => buildKindArtifacts(log));
}

/** Runs the scenario file against the cluster; returns deno test's exit code. */
async function scenarios(cluster: KindCluster): Promise<number> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "tests/e2e/scenarios_test.ts"],
    cwd: ROOT,
    env: { ...cluster.env, SWH_E2E_BACKEND: "kind" },
  }).spawn().status;
  return code;
}

async function e2e(artifacts: KindArtifacts, keep: boolean): Promise<number> {
  const cluster = new KindCluster(
    CLUSTER,
    artifacts.kind,
    await Deno.makeTempDir({ prefix: "swh-kind-" }),
    artifacts.kubernetesBin,
  );
  if (await cluster.exists()) await step("delete the cluster a previous run left", () => cluster.delete());
  let removal: Promise<void> | undefined;
  // Once, whether the run ends or a signal comes first.
  const remove = () =>
    removal ??= (async () => {
      if (keep) {
        log(`kept: export ${Object.entries(cluster.env).map(([k, v]) => `${k}=${v}`).join(" ")}`);
        log(`then: ${artifacts.kind} delete cluster --name ${CLUSTER}`);
        return;
      }
      await step("kind delete cluster", () => cluster.delete());
      await Deno.remove(cluster.dir, { recursive: true });
    })();
  // Ctrl-C or a CI timeout must not leave three privileged containers behind.
  const interrupted = () => {
    log("interrupted");
    remove().finally(() => Deno.exit(130));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, interrupted);
  let code = 1;
  try {
    const base = parse(await Deno.readTextFile(`${ROOT}deploy/kind/cluster.yaml`)) as Record<string, unknown>;
    await step(
      "kind create cluster",
      () => cluster.create(kindClusterConfig(base, artifacts.tags), artifacts.nodeImage),
    );
    await step("kind load image-archive (the operator)", () => cluster.load([artifacts.operatorArchive]));
    await step(
      "kubectl apply -k deploy/",
      () =>
        run(`${artifacts.kubernetesBin}/kubectl`, ["apply", "--server-side", "-k", "deploy/"], {
          env: cluster.env,
          cwd: ROOT,
        }),
    );
    code = await step(
      "scenarios (tests/e2e/scenarios_test.ts, SWH_E2E_BACKEND=kind)",
      () => scenarios(cluster),
    );
    return code;
  } finally {
    if (code !== 0 && await cluster.exists()) {
      // Only the latest failure's logs are kept.
      const logs = `${kindCacheDir()}/logs/${new Date().toISOString().replaceAll(":", "")}`;
      await Deno.mkdir(`${kindCacheDir()}/logs`, { recursive: true });
      await pruneOthers(logs);
      await step(`kind export logs ${logs}`, () => cluster.exportLogs(logs)).catch((error) =>
        log(`${error}`)
      );
    }
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, interrupted);
    await remove();
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
    if (command === "cached") {
      // CI's question: is a kind run minutes (warm) or an hour (cold)?
      const missing = await uncachedSources();
      if (missing.length) log(`not cached: ${missing.join(", ")}`);
      else log("every source build is cached");
      return missing.length ? 1 : 0;
    }
    if (command === "e2e") {
      const code = await e2e(await prepare(), rest.includes("--keep"));
      log(`${code === 0 ? "passed" : "FAILED"}`);
      return code;
    }
    console.error("usage: deno run -A tools/kind/main.ts image | cached | e2e [--keep]");
    return 2;
  } catch (error) {
    log(`FAILED: ${error instanceof Error ? error.message : error}`);
    return 1;
  } finally {
    log(`total: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
