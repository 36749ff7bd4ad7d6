/** Runs a piece of work against a throwaway local cluster that is torn down whatever happens. */
import { clusterDir, type ClusterState, down, up } from "./cluster/mod.ts";
import { type LabRun, removeLeftovers } from "./lab/leftovers.ts";
import { removeNetwork } from "./lab/network.ts";
import { acquireLabLock } from "./lab_lock.ts";
import { TEST_CLUSTER_DIR_ENV, TEST_KUBECONFIG_ENV, TEST_KUBECTL_ENV } from "../tests/support/env.ts";

/** Environment variables that hand the cluster to child processes (the contract of tests/support/env.ts). */
export function clusterEnv(state: ClusterState): Record<string, string> {
  return {
    [TEST_KUBECONFIG_ENV]: state.kubeconfig,
    [TEST_CLUSTER_DIR_ENV]: state.dir,
    [TEST_KUBECTL_ENV]: state.binaries.kubectl,
  };
}

/** How long work may take to wind down after SIGINT/SIGTERM before everything is torn down regardless. */
const SIGNAL_GRACE_MS = 15_000;

/**
 * Brings up a cluster instance named `name-<pid>`, runs `work`, and always brings it down again — with any
 * lab network left on it — on success, on a thrown error, and on SIGINT/SIGTERM/SIGHUP (a closed terminal):
 * the first signal aborts `work`'s signal so it can clean up; if it has not returned within a grace period (or
 * on a second signal) everything is torn down and the process exits 128 + the signal number. The machine's
 * lab lock (lab_lock.ts) is held throughout: a second run refuses instead of tearing this one's network down.
 * Once it holds the lock, it first removes what an earlier run that was killed outright left behind
 * (lab/leftovers.ts, the same as `./deno task lab down`).
 */
export async function withCluster<T>(
  name: LabRun,
  work: (state: ClusterState, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const lock = await acquireLabLock(name, { log: (line) => console.error(line) });
  // Holding the lock, nothing else of the lab runs: whatever a killed run left (etcd, agents, namespaces…) goes.
  await removeLeftovers({
    testInterfaces: false,
    log: (line) => console.error(`${line} (left by a killed run)`),
  });
  const instance = `${name}-${Deno.pid}`;
  const dir = clusterDir(instance);
  const abort = new AbortController();
  let tearingDown: Promise<void> | undefined;
  const teardown = () =>
    tearingDown ??= (async () => {
      // The lab's processes and namespaces live on this cluster: never leave them behind it.
      await removeNetwork().catch((error) => console.error(`[cluster] removing the lab network: ${error}`));
      await down({ dir, log: (line) => console.error(line) });
      lock.release();
    })();
  const onSignal = (signal: Deno.Signal, code: number) => () => {
    const forced = () => teardown().finally(() => Deno.exit(code));
    if (abort.signal.aborted) return void forced();
    console.error(`[cluster] ${signal}: stopping; tearing down ${instance}`);
    abort.abort(new DOMException(signal, "AbortError"));
    setTimeout(forced, SIGNAL_GRACE_MS);
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT", 130)],
    ["SIGTERM", onSignal("SIGTERM", 143)],
    ["SIGHUP", onSignal("SIGHUP", 129)],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    const state = await up({ name: instance, dir });
    return await work(state, abort.signal);
  } finally {
    await teardown();
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    if (abort.signal.aborted) Deno.exit(130);
  }
}
