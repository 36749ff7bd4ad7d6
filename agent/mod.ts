/** The agent as a library: `startAgent()` for in-process use (tests, benchmarks) and for `main.ts`. */
import { connect } from "../kube/mod.ts";
import type { HttpTransport, KubeTransport } from "../kube/mod.ts";
import { serveOps } from "../ops/server.ts";
import { Agent } from "./agent.ts";
import type { AgentOptions } from "./agent.ts";

export { Agent } from "./agent.ts";
export type { AgentOptions, SwhObject } from "./agent.ts";

/** Options of {@link startAgent}: those of {@link Agent}, with the transport optional. */
export interface StartAgentOptions extends Omit<AgentOptions, "transport"> {
  /** Connection to use; default: `connect()` (`kubeconfig` path, `$KUBECONFIG`, or in-cluster). */
  readonly transport?: KubeTransport;
  /** Kubeconfig file for `connect()` when no transport is given. */
  readonly kubeconfig?: string;
  /** Port of /healthz, /readyz, /metrics (0 = any free port); undefined = no ops server. */
  readonly opsPort?: number;
  /** Address the ops server binds (default 0.0.0.0). */
  readonly opsHostname?: string;
}

/** A running agent. */
export interface AgentHandle {
  /** The agent (metrics, readiness). */
  readonly agent: Agent;
  /** Bound port of the ops server, when one was asked for. */
  readonly opsPort: number | undefined;
  /** Stops the agent and its ops server and closes a transport it opened itself. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Connects (unless given a transport), serves the ops endpoints, starts the agent and resolves once it is
 * ready (caches synced, existing slices adopted, first reconcile done).
 */
export async function startAgent(options: StartAgentOptions): Promise<AgentHandle> {
  let owned: HttpTransport | undefined;
  const transport = options.transport ??
    (owned = await connect(options.kubeconfig ? { paths: [options.kubeconfig] } : {}));
  const agent = new Agent({ ...options, transport });
  const ops = new AbortController();
  let opsPort: number | undefined;
  if (options.opsPort !== undefined) {
    opsPort = serveOps({
      registry: agent.registry,
      readiness: { "caches-synced": () => agent.readiness() },
      port: options.opsPort,
      hostname: options.opsHostname,
      signal: ops.signal,
    });
  }
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await agent.stop();
      ops.abort();
      owned?.close();
    })();
  try {
    await agent.start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { agent, opsPort, stop };
}
