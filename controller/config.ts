/** Controller configuration from the environment, validated with messages that name the variable. */
import { DEFAULT_OPERATOR_NAMESPACE } from "../crds/conventions.ts";
import type { ControllerOptions } from "./controller.ts";

/** A variable has a value the controller cannot use. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Environment variables the controller reads (all optional). */
export const CONTROLLER_ENV = [
  "KUBECONFIG",
  "HOME",
  "SWH_NAMESPACE",
  "POD_NAME",
  "HOSTNAME",
  "SWH_OPS_PORT",
  "SWH_LEADER_ELECTION",
  "SWH_LEASE_DURATION_SECONDS",
  "SWH_RENEW_DEADLINE_SECONDS",
  "SWH_RETRY_PERIOD_SECONDS",
  "SWH_CONCURRENCY",
  "SWH_RESYNC_SECONDS",
  "SWH_LOG_LEVEL",
] as const;

function number(env: (name: string) => string | undefined, name: string, min: number): number | undefined {
  const raw = env(name);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected a number >= ${min}`);
  }
  return value;
}

/**
 * Reads the controller's options: `SWH_NAMESPACE` (default swh-system), `POD_NAME` (lease identity; else
 * HOSTNAME), `SWH_OPS_PORT` (default 8080), `SWH_LEADER_ELECTION` (`false` disables it),
 * `SWH_LEASE_DURATION_SECONDS` (15), `SWH_RENEW_DEADLINE_SECONDS` (10), `SWH_RETRY_PERIOD_SECONDS` (2),
 * `SWH_CONCURRENCY` (32), `SWH_RESYNC_SECONDS` (600). Connection: KUBECONFIG, else in-cluster.
 */
export function controllerConfigFromEnv(env: (name: string) => string | undefined): ControllerOptions {
  const seconds = (name: string, min: number) => {
    const v = number(env, name, min);
    return v === undefined ? undefined : v * 1000;
  };
  const leaderElection = env("SWH_LEADER_ELECTION") === "false" ? false : {
    leaseDurationMs: seconds("SWH_LEASE_DURATION_SECONDS", 1),
    renewDeadlineMs: seconds("SWH_RENEW_DEADLINE_SECONDS", 0.1),
    retryPeriodMs: seconds("SWH_RETRY_PERIOD_SECONDS", 0.05),
  };
  const identity = env("POD_NAME") || env("HOSTNAME") || undefined;
  return {
    operatorNamespace: env("SWH_NAMESPACE") || DEFAULT_OPERATOR_NAMESPACE,
    identity: identity ? `${identity}-${crypto.randomUUID().slice(0, 4)}` : undefined,
    opsPort: number(env, "SWH_OPS_PORT", 0) ?? 8080,
    leaderElection,
    concurrency: number(env, "SWH_CONCURRENCY", 1),
    resyncMs: seconds("SWH_RESYNC_SECONDS", 0),
  };
}
