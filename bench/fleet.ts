/**
 * Fleet benchmark: the operator on a simulated fleet on one machine — Node objects, pods bound to them with
 * host-local addresses and real TCP backends (a separate process), one agent process per node and one controller,
 * each with the deployed permission and runtime flags and its service account's token — then, with numbers only
 * (no assertion on timing):
 *
 * 1. cold start: every SWH created at once; per SWH the time until its slices hold all its endpoints, its Service
 *    exists and its status counts all endpoints ready (p50 / p99 / max, and "all"), from the benchmark's own
 *    watches;
 * 2. API writes by resource and verb from kube-apiserver's own /metrics during cold start, steady state (should be
 *    0 for the operator) and churn, with priority-and-fairness rejections and 429s, next to the agents' and the
 *    controller's own counts;
 * 3. watch events received per agent (mean / max), per window;
 * 4. churn: a fraction of the backends flap; writes per second, transitions, and **flips of healthy endpoints**
 *    (withdrawals of endpoints whose backend was never stopped: must be 0), watched across the whole run;
 * 5. failover: healthy backends stopped at random moments, time until each leaves its slice against
 *    period × failureThreshold + 1 s;
 * 6. CPU and RSS per component class (agents, controller, kube-apiserver, etcd, …) from /proc;
 * 7. rollout (after the steady window): agents restarted one after another as a DaemonSet update does, each with
 *    every SWH already in the cluster: time to ready, RSS, SWHs kept with spec or as metadata, fetches, writes
 *    (healthy endpoints withdrawn meanwhile show in table 4, window "rollout").
 *
 * Run: `SWH_LAB_WAIT=1 ./deno task bench fleet` (a throwaway control plane; needs root). Defaults are the issue's
 * fleet: 100 nodes × 100 pods, 1,000 SWHs × 10 pods, period 10 s, failureThreshold 3. Smaller, e.g.:
 * `SWH_BENCH_NODES=10 SWH_BENCH_PODS_PER_NODE=20 SWH_BENCH_SWHS=20 SWH_LAB_WAIT=1 ./deno task bench fleet`.
 * Knobs (bench/fleet/config.ts): SWH_BENCH_NODES, SWH_BENCH_PODS_PER_NODE, SWH_BENCH_SWHS, SWH_BENCH_PODS_PER_SWH,
 * SWH_BENCH_PERIOD_SECONDS, SWH_BENCH_FAILURE_THRESHOLD, SWH_BENCH_TRANSITION_PERIOD_SECONDS (0 = unset),
 * SWH_BENCH_COLD_TIMEOUT_SECONDS (600), SWH_BENCH_STEADY_SECONDS (60), SWH_BENCH_CHURN_SECONDS (120),
 * SWH_BENCH_FLAP_FRACTION (0.01), SWH_BENCH_FLAP_SECONDS (5), SWH_BENCH_FAILOVERS (20), SWH_BENCH_RESTARTS (5);
 * SWH_BENCH_FLEET_LOGS=<dir> keeps the agents' and controller's logs; AGENT_LOG / CONTROLLER_LOG set their log
 * level (default info).
 *
 * Everything it creates (processes, addresses, namespaces, nodes) is removed at the end, also on failure and on
 * SIGINT/SIGTERM/SIGHUP; the runner then tears the cluster down.
 *
 * @module
 */
import { sleep } from "../kube/mod.ts";
import { fleetConfig } from "./fleet/config.ts";
import { churn, coldStart, failover, measured, recover, rollout, settle } from "./fleet/phases.ts";
import { printResults } from "./fleet/report.ts";
import type { FleetResults } from "./fleet/report.ts";
import { buildFleet, Cleanup, progress } from "./fleet/setup.ts";
import type { Fleet } from "./fleet/setup.ts";

/**
 * A second signal within this long of the first is the same interrupt: Ctrl-C sends SIGINT to the whole process
 * group, and the runner (tools/bench.ts) forwards a SIGTERM of its own. Taken as "exit at once", it left a
 * hundred agent processes running, orphaned.
 */
const SAME_INTERRUPT_MS = 3_000;

/** Stops on the first signal (cleaning up); a later one exits at once. */
function abortOnSignals(): AbortController {
  const abort = new AbortController();
  let firstAt = 0;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {
      if (abort.signal.aborted) {
        if (performance.now() - firstAt < SAME_INTERRUPT_MS) return;
        Deno.exit(130);
      }
      firstAt = performance.now();
      progress(`${signal}: stopping and cleaning up (again to exit at once)`);
      abort.abort(new DOMException(signal, "AbortError"));
    });
  }
  return abort;
}

/** Runs the phases in order, recording each result as soon as it exists (a failure keeps what came before). */
async function runPhases(fleet: Fleet, results: FleetResults): Promise<void> {
  const { windows } = results;
  windows.push(await measured(fleet, "cold", async () => void (results.cold = await coldStart(fleet))));
  progress(
    results.cold?.converged ? "cold start converged" : "cold start did NOT converge before the timeout",
  );
  results.settled = await settle(fleet);
  progress(`settled after ${(results.settled[0] / 1000).toFixed(0)} s; steady-state window`);
  windows.push(await measured(fleet, "steady", () => sleep(fleet.config.steadySeconds * 1000, fleet.signal)));
  if (fleet.config.restarts > 0) {
    progress("rollout: restarting agents one after another");
    windows.push(await measured(fleet, "rollout", async () => void (results.rollout = await rollout(fleet))));
  }
  progress("churn window");
  windows.push(await measured(fleet, "churn", async () => void (results.churn = await churn(fleet))));
  results.recovered = await recover(fleet);
  progress(`recovered after ${(results.recovered[0] / 1000).toFixed(0)} s; failover`);
  const flappers = new Set(results.churn?.flappers);
  windows.push(
    await measured(fleet, "failover", async () => void (results.failover = await failover(fleet, flappers))),
  );
}

async function main(): Promise<void> {
  const config = fleetConfig((name) => Deno.env.get(name));
  const abort = abortOnSignals();
  const cleanup = new Cleanup();
  try {
    const fleet = await buildFleet(config, cleanup, abort.signal);
    const results: FleetResults = { windows: [], exited: [] };
    try {
      await runPhases(fleet, results);
    } catch (error) {
      if (abort.signal.aborted) throw error;
      // An overloaded machine can make a phase fail: what was measured until then is still worth printing.
      results.stoppedBy = error instanceof Error ? error.message : String(error);
      progress(`stopped early: ${results.stoppedBy}`);
    }
    results.exited = fleet.operator.exited();
    printResults(fleet, results);
    if (results.stoppedBy) Deno.exitCode = 1;
  } finally {
    progress("cleaning up");
    await cleanup.run();
  }
}

if (import.meta.main) await main();
