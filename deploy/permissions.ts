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
 * the local backend. A smaller young generation: probing allocates many short-lived objects, and V8's default
 * semi-space growth keeps tens of MiB of them resident. Measured with 1,000 endpoints
 * (`SWH_BENCH_AGENT_V8_FLAGS=… ./deno task bench agent`): RSS 175–201 → 156–158 MiB, CPU unchanged (15–17 %).
 */
export const AGENT_RUNTIME_FLAGS: readonly string[] = ["--v8-flags=--max-semi-space-size=4"];
