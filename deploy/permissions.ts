/**
 * The Deno permissions of the two programs: one list each, used by the local backend (`deno run`) and
 * mirrored in deploy/Dockerfile (`deno compile`); permissions_test.ts keeps the two identical.
 *
 * `--allow-net` cannot be narrowed to hosts: probes reach pod IPs that are not known in advance, and the
 * apiserver address comes from the environment. Reads are limited to the service-account files; the local
 * backend adds its kubeconfig file to `--allow-read` (a cluster needs no kubeconfig).
 *
 * @module
 */

import { CONTROLLER_ENV } from "../controller/config.ts";

/** Directory of the in-cluster service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Environment both programs read: kube client configuration, logging, and the two variables the npm
 * `yaml` package reads while parsing a kubeconfig (it throws without the grant).
 */
const COMMON_ENV = [
  "KUBECONFIG",
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
  "SWH_NAMESPACE",
  "SWH_OPS_PORT",
  "SWH_LOG_LEVEL",
  "LOG_TOKENS",
  "LOG_STREAM",
];

/** Agent: its node, and what the npm `postgres` driver reads on every connection (probes/postgres.ts). */
const AGENT_ENV = ["NODE_NAME", "SWH_HEARTBEAT_LEASE_SECONDS", "PGAPPNAME", "PGTARGETSESSIONATTRS"];

/** Permission flags of the controller (`controller/main.ts`). */
export const CONTROLLER_PERMISSIONS: readonly string[] = [
  "--allow-net",
  `--allow-env=${[...new Set([...COMMON_ENV, ...CONTROLLER_ENV])].join(",")}`,
  `--allow-read=${SERVICE_ACCOUNT_DIR}`,
];

/** Permission flags of the agent (`agent/main.ts`). */
export const AGENT_PERMISSIONS: readonly string[] = [
  "--allow-net",
  `--allow-env=${[...COMMON_ENV, ...AGENT_ENV].join(",")}`,
  `--allow-read=${SERVICE_ACCOUNT_DIR}`,
];

/** The same flags with extra readable paths (the local backend's kubeconfig file). */
export function withReadablePaths(flags: readonly string[], paths: readonly string[]): string[] {
  return flags.map((flag) => flag.startsWith("--allow-read=") ? [flag, ...paths].join(",") : flag);
}

/**
 * Deno/V8 runtime flags of the agent, compiled into the binary by deploy/Dockerfile and passed to `deno run` by
 * the local backend. A small young generation (probing allocates many short-lived objects, and V8's default
 * semi-space growth keeps tens of MiB of them resident) and V8's size-over-speed heuristics (smaller code and
 * heap growth; the agent's hot path is the connect syscall, not JS). Measured with 1,000 endpoints
 * (`SWH_BENCH_TRIALS=1 SWH_BENCH_STEADY_SECONDS=20 SWH_BENCH_AGENT_V8_FLAGS=… ./deno task bench agent`, three
 * interleaved runs each): `--max-semi-space-size=4` alone 130–138 MiB, with `--optimize-for-size` and a 1 MiB
 * semi-space 93–96 MiB, CPU 25–28 % of a core either way (before any flag: 175–201 MiB).
 */
export const AGENT_RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1,--optimize-for-size",
];

/**
 * Environment of the agent process wherever it runs (the DaemonSet of deploy/ and the Helm chart, the local
 * backend, tests and benchmarks): one glibc malloc arena. Deno's threads (V8's helpers, the runtime's I/O) each
 * get an arena of their own otherwise, and each keeps what a burst made it reserve. Measured with 1,000
 * endpoints, three interleaved rounds (`./deno run -A bench/memory.ts agent --rounds 3 --flags "deployed
 * MALLOC_ARENA_MAX=" --flags deployed`): RSS 97 (95–98) → 92 (91–95) MiB, peak 101 → 97, idle 68 → 67, CPU 24.2
 * → 24.6 % of a core (within the rounds' spread); two arenas 93 MiB (two rounds).
 */
export const AGENT_RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };

/**
 * Deno/V8 runtime flags of the controller (compiled in by deploy/Dockerfile, passed to `deno run` locally): V8's
 * size-over-speed heuristics halve its heap. `SWH_BENCH_V8_FLAGS=… ./deno task bench controller` (1,000 SWHs,
 * two runs each): RSS 225–239 → 126 MiB; all Services after 10.5–13.1 s instead of 10.3–11.8 s, all statuses
 * after 19.3–23.9 s instead of 17.6–20.5 s.
 */
export const CONTROLLER_RUNTIME_FLAGS: readonly string[] = ["--v8-flags=--optimize-for-size"];
