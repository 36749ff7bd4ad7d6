/** Runs a piece of work against a throwaway local cluster that is torn down whatever happens. */
import { clusterDir, type ClusterState, down, up } from "./cluster/mod.ts";
import { TEST_CLUSTER_DIR_ENV, TEST_KUBECONFIG_ENV, TEST_KUBECTL_ENV } from "../tests/support/env.ts";

/** Environment variables that hand the cluster to child processes (the contract of tests/support/env.ts). */
export function clusterEnv(state: ClusterState): Record<string, string> {
  return {
    [TEST_KUBECONFIG_ENV]: state.kubeconfig,
    [TEST_CLUSTER_DIR_ENV]: state.dir,
    [TEST_KUBECTL_ENV]: state.binaries.kubectl,
  };
}

/**
 * Brings up a cluster instance named `name-<pid>`, runs `work`, and always brings it down again: on
 * success, on a thrown error, and on SIGINT/SIGTERM (then exits 130/143).
 */
export async function withCluster<T>(name: string, work: (state: ClusterState) => Promise<T>): Promise<T> {
  const instance = `${name}-${Deno.pid}`;
  const dir = clusterDir(instance);
  let tearingDown: Promise<void> | undefined;
  const teardown = () => tearingDown ??= down({ dir, log: (line) => console.error(line) });
  const onSignal = (signal: Deno.Signal, code: number) => () => {
    console.error(`[cluster] ${signal}: tearing down ${instance}`);
    teardown().finally(() => Deno.exit(code));
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT", 130)],
    ["SIGTERM", onSignal("SIGTERM", 143)],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    const state = await up({ name: instance, dir });
    return await work(state);
  } finally {
    await teardown();
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}
