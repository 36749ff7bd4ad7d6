/**
 * Parameters of the fleet benchmark, read from `SWH_BENCH_*` environment variables; the defaults are the issue's
 * fleet (100 nodes × 100 pods, 1,000 SWHs of 10 pods, one TCP probe every 10 s, failureThreshold 3).
 *
 * @module
 */

/** The benchmark's parameters. */
export interface FleetConfig {
  /** Node objects, one agent process each. */
  readonly nodes: number;
  /** Pods bound to each node, each with its own address and TCP backend. */
  readonly podsPerNode: number;
  /** ServiceWithHealthchecks created at once for the cold start. */
  readonly swhs: number;
  /** Pods each SWH selects, each on a different node. */
  readonly podsPerSwh: number;
  /** `healthcheck.periodSeconds`. */
  readonly periodSeconds: number;
  /** `failureThreshold` of the single TCP probe. */
  readonly failureThreshold: number;
  /** `healthcheck.transitionPeriodSeconds` (re-check interval in transition); 0 leaves it unset. */
  readonly transitionPeriodSeconds: number;
  /** Longest wait for every SWH to converge after the cold start. */
  readonly coldTimeoutSeconds: number;
  /** Length of the steady-state window (nothing changes; writes should be 0). */
  readonly steadySeconds: number;
  /** Length of the churn window. */
  readonly churnSeconds: number;
  /** Fraction of the backends that flap during churn. */
  readonly flapFraction: number;
  /** Mean time a flapping backend stays down, then up (each drawn from 0.5–1.5 × this). */
  readonly flapSeconds: number;
  /** Healthy backends stopped for the failover measurement. */
  readonly failovers: number;
  /** Agents restarted one after another, as a DaemonSet update does (after the steady-state window). */
  readonly restarts: number;
  /**
   * Niceness of the agent processes (0: as everything else). On one machine a hundred busy agents leave a single
   * controller thread a hundredth of the CPU; in a real fleet each agent has a node of its own. 10 approximates
   * that: the agents yield to the control plane and the controller.
   */
  readonly agentNice: number;
  /** Directory for agent and controller logs, kept after the run; empty: a temporary one, removed. */
  readonly logDir: string;
}

/** One environment knob. */
interface Knob {
  readonly env: string;
  readonly key: Exclude<keyof FleetConfig, "logDir">;
  readonly fallback: number;
  readonly min: number;
  readonly integer: boolean;
}

/** The knobs, in the order the header and README list them. */
export const FLEET_KNOBS: readonly Knob[] = [
  { env: "SWH_BENCH_NODES", key: "nodes", fallback: 100, min: 1, integer: true },
  { env: "SWH_BENCH_PODS_PER_NODE", key: "podsPerNode", fallback: 100, min: 1, integer: true },
  { env: "SWH_BENCH_SWHS", key: "swhs", fallback: 1000, min: 1, integer: true },
  { env: "SWH_BENCH_PODS_PER_SWH", key: "podsPerSwh", fallback: 10, min: 1, integer: true },
  { env: "SWH_BENCH_PERIOD_SECONDS", key: "periodSeconds", fallback: 10, min: 1, integer: true },
  { env: "SWH_BENCH_FAILURE_THRESHOLD", key: "failureThreshold", fallback: 3, min: 1, integer: true },
  {
    env: "SWH_BENCH_TRANSITION_PERIOD_SECONDS",
    key: "transitionPeriodSeconds",
    fallback: 0,
    min: 0,
    integer: true,
  },
  { env: "SWH_BENCH_COLD_TIMEOUT_SECONDS", key: "coldTimeoutSeconds", fallback: 600, min: 1, integer: false },
  { env: "SWH_BENCH_STEADY_SECONDS", key: "steadySeconds", fallback: 60, min: 1, integer: false },
  { env: "SWH_BENCH_CHURN_SECONDS", key: "churnSeconds", fallback: 120, min: 1, integer: false },
  { env: "SWH_BENCH_FLAP_FRACTION", key: "flapFraction", fallback: 0.01, min: 0, integer: false },
  { env: "SWH_BENCH_FLAP_SECONDS", key: "flapSeconds", fallback: 5, min: 0.1, integer: false },
  { env: "SWH_BENCH_FAILOVERS", key: "failovers", fallback: 20, min: 0, integer: true },
  { env: "SWH_BENCH_RESTARTS", key: "restarts", fallback: 5, min: 0, integer: true },
  { env: "SWH_BENCH_AGENT_NICE", key: "agentNice", fallback: 0, min: 0, integer: true },
];

/** Environment variable of the log directory. */
export const FLEET_LOG_DIR_ENV = "SWH_BENCH_FLEET_LOGS";

/** Reads the parameters; throws naming the variable at fault or the combination that cannot be placed. */
export function fleetConfig(env: (name: string) => string | undefined): FleetConfig {
  const values: Record<string, number> = {};
  for (const knob of FLEET_KNOBS) {
    const raw = env(knob.env)?.trim();
    const value = raw ? Number(raw) : knob.fallback;
    if (!Number.isFinite(value) || value < knob.min || (knob.integer && !Number.isInteger(value))) {
      throw new Error(
        `${knob.env}=${JSON.stringify(raw)}: expected ${
          knob.integer ? "an integer" : "a number"
        } >= ${knob.min}`,
      );
    }
    values[knob.key] = value;
  }
  const config = { ...values, logDir: env(FLEET_LOG_DIR_ENV)?.trim() ?? "" } as unknown as FleetConfig;
  if (config.podsPerSwh > config.nodes) {
    throw new Error(
      `SWH_BENCH_PODS_PER_SWH=${config.podsPerSwh} exceeds SWH_BENCH_NODES=${config.nodes}: ` +
        "each SWH's pods sit on different nodes",
    );
  }
  if (config.swhs * config.podsPerSwh > config.nodes * config.podsPerNode) {
    throw new Error(
      `${config.swhs} SWHs × ${config.podsPerSwh} pods need more than the ${config.nodes} × ` +
        `${config.podsPerNode} pods of the fleet`,
    );
  }
  if (config.flapFraction > 1) throw new Error("SWH_BENCH_FLAP_FRACTION must be at most 1");
  if (config.transitionPeriodSeconds > config.periodSeconds) {
    throw new Error("SWH_BENCH_TRANSITION_PERIOD_SECONDS must not exceed SWH_BENCH_PERIOD_SECONDS");
  }
  return config;
}
