/**
 * Entry point of the per-node agent.
 *
 * Run it with the permissions in deploy/permissions.ts (`AGENT_PERMISSIONS`; the container build compiles with
 * the same flags), adding the kubeconfig file to `--allow-read` outside a cluster. `LOG_TOKENS`/`LOG_STREAM` are
 * read by the npm `yaml` parser while a kubeconfig is parsed (it throws without the grant); `PGAPPNAME` and
 * `PGTARGETSESSIONATTRS` by the PostgreSQL driver.
 * `--allow-net` covers the apiserver, the probes (pod IPs, any port) and the ops server; it cannot be narrowed
 * to hosts because pod IPs are not known in advance. Environment: `NODE_NAME` (required; the downward API
 * `spec.nodeName`), `KUBECONFIG` (else in-cluster service account), `SWH_NAMESPACE` (operator namespace of the
 * mirrored credentials, default `swh-system`), `SWH_OPS_PORT` (default 9090; `-1` disables), `SWH_LOG_LEVEL`, `SWH_HEARTBEAT_LEASE_SECONDS` (heartbeat, default 40).
 * SIGTERM/SIGINT stop it gracefully: probes cancelled, writes in flight finished, slices left in place.
 *
 * @module
 */
import { DEFAULT_OPERATOR_NAMESPACE } from "../crds/conventions.ts";
import { createLogger } from "../ops/log.ts";
import { startAgent } from "./mod.ts";

/** Agent configuration read from the environment. */
export interface AgentEnvConfig {
  /** NODE_NAME. */
  nodeName: string;
  /** KUBECONFIG, if set. */
  kubeconfig?: string;
  /** SWH_NAMESPACE. */
  operatorNamespace: string;
  /** SWH_OPS_PORT; undefined when disabled. */
  opsPort?: number;
  /** SWH_HEARTBEAT_LEASE_SECONDS: validity of the heartbeat Lease (default 40). */
  leaseDurationSeconds?: number;
}

/** Parses the environment; throws a message naming the variable at fault. */
export function configFromEnv(env: (name: string) => string | undefined): AgentEnvConfig {
  const nodeName = env("NODE_NAME")?.trim();
  if (!nodeName) throw new Error("NODE_NAME is required (set it from the downward API: spec.nodeName)");
  const rawPort = env("SWH_OPS_PORT")?.trim() || "9090";
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < -1 || port > 65535) {
    throw new Error(`SWH_OPS_PORT must be a port number (0 = any, -1 = off), got ${JSON.stringify(rawPort)}`);
  }
  const rawLease = env("SWH_HEARTBEAT_LEASE_SECONDS")?.trim();
  const lease = rawLease ? Number(rawLease) : undefined;
  if (lease !== undefined && (!Number.isInteger(lease) || lease < 2 || lease > 3600)) {
    throw new Error(
      `SWH_HEARTBEAT_LEASE_SECONDS must be whole seconds from 2 to 3600, got ${JSON.stringify(rawLease)}`,
    );
  }
  return {
    nodeName,
    kubeconfig: env("KUBECONFIG") || undefined,
    operatorNamespace: env("SWH_NAMESPACE")?.trim() || DEFAULT_OPERATOR_NAMESPACE,
    opsPort: port === -1 ? undefined : port,
    ...(lease !== undefined ? { leaseDurationSeconds: lease } : {}),
  };
}

function permittedEnv(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

async function main(): Promise<number> {
  const log = createLogger("agent");
  let config: AgentEnvConfig;
  try {
    config = configFromEnv(permittedEnv);
  } catch (error) {
    log.error("bad configuration", { error });
    return 2;
  }
  const handle = await startAgent({ ...config, logger: log });
  log.info("agent ready", { node: config.nodeName, opsPort: handle.opsPort });
  const done = Promise.withResolvers<void>();
  const onSignal = () => done.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  await done.promise;
  log.info("stopping");
  await handle.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
