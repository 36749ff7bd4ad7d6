/**
 * The operator as deployed, on the benchmark's fleet: the manifests of deploy/ (namespace, CRDs, RBAC, flow
 * control and admission policies), one agent process per node and one controller process, each with the
 * permission and runtime flags of deploy/permissions.ts and a token of its service account — every agent the same
 * `swh-agent` account, bound to a Pod on its node as a DaemonSet pod's token is — so RBAC, priority-and-fairness
 * and the admission policies treat them as in a cluster.
 *
 * @module
 */
import { DEFAULT_OPERATOR_NAMESPACE } from "../../crds/conventions.ts";
import {
  CONTROLLER_PERMISSIONS,
  CONTROLLER_RUNTIME_FLAGS,
  withReadablePaths,
} from "../../deploy/permissions.ts";
import { AgentExitedError, appendOutput, REPO_ROOT, spawnAgent } from "../../tests/agent/helpers.ts";
import type { AgentProcess } from "../../tests/agent/helpers.ts";
import { installSwhCrd } from "../../tests/support/crd.ts";
import { kubectlGet, kubectlOk } from "../../tests/support/kubectl.ts";
import { pool } from "../../tests/support/measure.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { run } from "../../tools/cluster/exec.ts";
import { freePort } from "../../tools/cluster/network.ts";
import { createAgentPod, writeTokenKubeconfig } from "../../tools/lab/operator.ts";
import { progress } from "./progress.ts";
import type { MetricsSource } from "./scrape.ts";

const DEPLOY = `${REPO_ROOT}deploy/`;
/** Agents started at once: each start compiles nothing (cached) but still costs a CPU-second of loading. */
const AGENT_START_CONCURRENCY = 8;
/** Log level of a program: the deployed default (info) unless `AGENT_LOG` / `CONTROLLER_LOG` say otherwise. */
const LOG_LEVEL = (env: string) => Deno.env.get(env) ?? "info";

/** Applies deploy/'s namespace, CRDs, RBAC, flow control and admission policies; true when the namespace is new. */
export async function installOperatorManifests(): Promise<boolean> {
  const fresh = (await kubectlGet(["namespace", DEFAULT_OPERATOR_NAMESPACE])) === undefined;
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}namespace.yaml`]);
  await installSwhCrd();
  for (const file of ["rbac.yaml", "flowcontrol.yaml", "admission.yaml"]) {
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}${file}`]);
  }
  return fresh;
}

/** A controller process with its ops port. */
interface ControllerProcess extends MetricsSource {
  readonly child: Deno.ChildProcess;
}

const AGENT_V8_FLAGS = Deno.env.get("SWH_BENCH_AGENT_V8_FLAGS");
const CONTROLLER_V8_FLAGS = Deno.env.get("SWH_BENCH_CONTROLLER_V8_FLAGS");

function spawnController(kubeconfig: string, logFile: string): ControllerProcess {
  const opsPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...withReadablePaths(CONTROLLER_PERMISSIONS, [kubeconfig]),
      // SWH_BENCH_CONTROLLER_V8_FLAGS replaces the deployed V8 flags (`--prof`: its isolate log lands in the
      // repository root).
      ...(CONTROLLER_V8_FLAGS === undefined
        ? CONTROLLER_RUNTIME_FLAGS
        : [`--v8-flags=${CONTROLLER_V8_FLAGS}`]),
      "controller/main.ts",
    ],
    cwd: REPO_ROOT,
    env: {
      KUBECONFIG: kubeconfig,
      POD_NAME: "fleet-controller",
      SWH_NAMESPACE: DEFAULT_OPERATOR_NAMESPACE,
      SWH_OPS_PORT: String(opsPort),
      SWH_LOG_LEVEL: LOG_LEVEL("CONTROLLER_LOG"),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  appendOutput(child, logFile);
  return {
    child,
    async metricsText() {
      try {
        const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`, {
          signal: AbortSignal.timeout(30_000),
        });
        return res.ok ? await res.text() : (await res.body?.cancel(), undefined);
      } catch {
        return undefined;
      }
    },
  };
}

/** Where the programs reach the apiserver and keep their files. */
export interface FleetOperatorOptions {
  readonly apiserverUrl: string;
  readonly caCert: string;
  /** Kubeconfigs and logs go here. */
  readonly dir: string;
  /** Niceness of the agent processes (0: none). */
  readonly agentNice?: number;
}

/** An agent process with its /metrics. */
type FleetAgent = AgentProcess & MetricsSource;

/** The running agents and controller. */
export class FleetOperator {
  readonly #exits: string[] = [];
  readonly #agents: FleetAgent[];
  readonly #spawn: (i: number) => FleetAgent;
  /** Processes stopped on purpose (restarted agents): their exit is no failure. */
  readonly #retired = new Set<Deno.ChildProcess>();
  #stopping = false;

  private constructor(
    agents: FleetAgent[],
    readonly controller: ControllerProcess,
    spawn: (i: number) => FleetAgent,
  ) {
    this.#agents = agents;
    this.#spawn = spawn;
    agents.forEach((a, i) => this.#watch(`agent ${i}`, a.child));
    this.#watch("controller", controller.child);
  }

  #watch(name: string, child: Deno.ChildProcess): void {
    child.status.then((s) =>
      this.#stopping || this.#retired.has(child) || this.#exits.push(`${name} (exit ${s.code})`)
    );
  }

  /** Agents in node order (a restarted agent's entry is its new process). */
  get agents(): readonly FleetAgent[] {
    return this.#agents;
  }

  /**
   * Replaces agent `i` as a DaemonSet update does: SIGTERM (it leaves its slices in place; SIGKILL after 10 s),
   * then a new process on the same node with the same token, awaited until ready. Returns the new process and
   * the milliseconds from its start until ready.
   */
  async restartAgent(i: number): Promise<{ agent: FleetAgent; readyMs: number }> {
    const old = this.#agents[i];
    this.#retired.add(old.child);
    await terminate(old.child, 10_000);
    const started = performance.now();
    const agent = await spawnReady(this.#spawn, i);
    this.#agents[i] = agent;
    this.#watch(`agent ${i}`, agent.child);
    return { agent, readyMs: performance.now() - started };
  }

  /**
   * Starts the agents of `nodes` (a few at a time, each awaited until ready) and the controller. On failure
   * whatever was started is stopped again.
   */
  static async start(nodes: readonly string[], opts: FleetOperatorOptions): Promise<FleetOperator> {
    // Fill Deno's module cache once, so a hundred processes do not race to fill it.
    await run(Deno.execPath(), ["cache", "agent/main.ts", "controller/main.ts"], { cwd: REPO_ROOT });
    const token = (serviceAccount: string, name: string, boundPod?: string) =>
      writeTokenKubeconfig({
        kubectl: kubectlOk,
        namespace: DEFAULT_OPERATOR_NAMESPACE,
        serviceAccount,
        name,
        server: opts.apiserverUrl,
        caCert: opts.caCert,
        path: `${opts.dir}/${name}.kubeconfig`,
        boundPod,
      });
    const agentKubeconfigs: string[] = [];
    await pool(nodes, AGENT_START_CONCURRENCY, async (node, i) => {
      const pod = await createAgentPod(kubectlOk, DEFAULT_OPERATOR_NAMESPACE, node);
      agentKubeconfigs[i] = await token("swh-agent", pod, pod);
    });
    const controllerKubeconfig = await token("swh-controller", "swh-controller");
    const agents: FleetAgent[] = [];
    let controller: ControllerProcess | undefined;
    const spawn = (i: number): FleetAgent => {
      const node = nodes[i];
      const agent = spawnAgent(node, {
        // SWH_BENCH_AGENT_V8_FLAGS (as in bench agent) replaces the deployed V8 flags of the first agent only:
        // `--prof` there profiles one agent of the fleet (its isolate log lands in the repository root).
        ...(i === 0 && AGENT_V8_FLAGS !== undefined
          ? { runtimeFlags: [`--v8-flags=${AGENT_V8_FLAGS}`] }
          : {}),
        kubeconfig: agentKubeconfigs[i],
        logFile: `${opts.dir}/agent-${node}.log`,
        nice: opts.agentNice,
        env: { SWH_LOG_LEVEL: LOG_LEVEL("AGENT_LOG") },
      });
      return { ...agent, metricsText: async () => (await agent.ops("/metrics"))?.text };
    };
    try {
      await pool(nodes, AGENT_START_CONCURRENCY, async (_node, i) => {
        agents[i] = await spawnReady(spawn, i);
      });
      controller = spawnController(controllerKubeconfig, `${opts.dir}/controller.log`);
      await waitFor(async () => (await controller!.metricsText()) !== undefined, {
        timeoutMs: 60_000,
        what: "the controller's ops server",
      });
      return new FleetOperator(agents, controller, spawn);
    } catch (error) {
      await stopAll(agents, controller);
      throw error;
    }
  }

  /** Process ids of the agents (now: a restart changes one). */
  get agentPids(): number[] {
    return this.#agents.map((a) => a.child.pid);
  }

  /** Names of processes that have exited although nobody stopped them. */
  exited(): string[] {
    return [...this.#exits];
  }

  /** Stops the controller (SIGTERM, so it releases its lease) and kills the agents. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await stopAll(this.#agents, this.controller);
  }
}

/**
 * Starts agent `i` and waits until it is ready; one that exits first is started again, up to three times (its
 * ops port is picked free before it binds it, and a hundred processes' outgoing connections can take it
 * meanwhile).
 */
async function spawnReady(spawn: (i: number) => FleetAgent, i: number): Promise<FleetAgent> {
  for (let attempt = 1;; attempt++) {
    const agent = spawn(i);
    try {
      await agent.ready(180_000);
      return agent;
    } catch (error) {
      if (!(error instanceof AgentExitedError) || attempt >= 3) throw error;
      progress(`${error.message}; starting it again`);
    }
  }
}

/** Sends `child` SIGTERM, SIGKILL after `graceMs`, and waits until it has exited. */
async function terminate(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), graceMs);
  await child.status;
  clearTimeout(timer);
}

async function stopAll(
  agents: readonly AgentProcess[],
  controller: ControllerProcess | undefined,
): Promise<void> {
  if (controller) await terminate(controller.child, 5_000);
  // Agents started in parallel fill the array out of order: a failed start leaves holes.
  await Promise.all(agents.filter((a) => a).map((a) => a.kill()));
}
