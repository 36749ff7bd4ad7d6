/**
 * Building the fleet (not measured): Node objects, host-local pod addresses with real TCP backends, Pods bound to
 * nodes with a kubelet-like status, the operator's agents and controller, and the benchmark's own watches.
 * Everything built registers its removal, so a failure halfway leaves nothing behind.
 *
 * @module
 */
import {
  Api,
  HttpTransport,
  isApiError,
  KubeTransportError,
  loadKubeconfig,
  Namespaces,
  Nodes,
  Pods,
  ServiceAccounts,
  sleep,
} from "../../kube/mod.ts";
import { DEFAULT_OPERATOR_NAMESPACE } from "../../crds/conventions.ts";
import { createPod, setPodIps } from "../../tests/agent/helpers.ts";
import { requireTestClusterDir, requireTestKubeconfig } from "../../tests/support/env.ts";
import { createLocalAddresses } from "../../tests/support/local_addresses.ts";
import { pool } from "../../tests/support/measure.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { readState } from "../../tools/cluster/mod.ts";
import type { ClusterState } from "../../tools/cluster/mod.ts";
import { TcpBackends } from "../../tools/lab/backends/tcp.ts";
import type { FleetConfig } from "./config.ts";
import { FleetObserver } from "./observer.ts";
import { FleetOperator, installOperatorManifests } from "./operator.ts";
import { progress } from "./progress.ts";
export { progress };
import { ProcSampler } from "./sampler.ts";
import { fleetTopology } from "./topology.ts";
import type { FleetTopology } from "./topology.ts";

/** Pods created (and their status set) at once. */
const POD_CONCURRENCY = 32;

/** Everything the measurements use. */
export interface Fleet {
  readonly config: FleetConfig;
  readonly cluster: ClusterState;
  /** Admin connection (exempt from priority-and-fairness: the benchmark does not compete with the operator). */
  readonly transport: HttpTransport;
  /** Namespace of the pods, SWHs, Services and slices. */
  readonly namespace: string;
  readonly topology: FleetTopology;
  /** Address of pod `i`. */
  address(i: number): string;
  readonly backends: TcpBackends;
  readonly operator: FleetOperator;
  readonly observer: FleetObserver;
  readonly sampler: ProcSampler;
  /** Aborted on SIGINT/SIGTERM/SIGHUP. */
  readonly signal: AbortSignal;
  /** How long each setup step took, for the report. */
  readonly setupSteps: [string, number][];
  /** Directory of the agents' and the controller's logs. */
  readonly logDir: string;
}

/** Removal steps, run last-registered first. */
export class Cleanup {
  readonly #steps: [string, () => Promise<unknown> | unknown][] = [];

  /** Registers `step` (named for error messages). */
  add(name: string, step: () => Promise<unknown> | unknown): void {
    this.#steps.push([name, step]);
  }

  /** Runs every step, newest first; a failing step is reported and the others still run. */
  async run(): Promise<void> {
    for (const [name, step] of this.#steps.reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(`[fleet] cleanup: ${name} failed: ${error instanceof Error ? error.message : error}`);
      }
    }
    this.#steps.length = 0;
  }
}

/** Whether a failed request may be tried again: no answer, an overloaded server, or a server error. */
function transient(error: unknown): boolean {
  return error instanceof KubeTransportError ||
    (isApiError(error) && (error.code === 429 || error.code >= 500));
}

/**
 * Creates an object even when an overloaded apiserver answers too late: a create that timed out may still have
 * happened, so it is looked up before being sent again (a POST is never repeated blindly). Resolves true when the
 * first attempt succeeded, false when the object exists after a retry or lookup.
 */
export async function createSurely(
  create: () => Promise<unknown>,
  exists: () => Promise<boolean>,
  signal: AbortSignal,
  attempts = 8,
): Promise<boolean> {
  for (let attempt = 1;; attempt++) {
    try {
      await create();
      return attempt === 1;
    } catch (error) {
      if (isApiError(error, 409)) return false;
      if (!transient(error) || attempt >= attempts) throw error;
      await sleep(1_000 * attempt, signal);
      if (await exists().catch(() => false)) return false;
    }
  }
}

async function step<T>(steps: [string, number][], name: string, fn: () => Promise<T>): Promise<T> {
  progress(`${name}…`);
  const started = performance.now();
  const result = await fn();
  steps.push([name, performance.now() - started]);
  return result;
}

/** Builds the fleet; registers every removal with `cleanup`. */
export async function buildFleet(config: FleetConfig, cleanup: Cleanup, signal: AbortSignal): Promise<Fleet> {
  const cluster = readState(requireTestClusterDir());
  if (!cluster) throw new Error(`no cluster state in ${requireTestClusterDir()}`);
  // A generous timeout: the apiserver under test may be overloaded, and the benchmark must outlast that.
  const transport = new HttpTransport(await loadKubeconfig({ paths: [requireTestKubeconfig()] }), {
    timeoutMs: 120_000,
  });
  cleanup.add("close the admin connection", () => transport.close());
  const dir = config.logDir || await Deno.makeTempDir({ prefix: "swh-fleet-" });
  if (config.logDir) await Deno.mkdir(dir, { recursive: true });
  else cleanup.add("remove the temporary directory", () => Deno.remove(dir, { recursive: true }));
  const steps: [string, number][] = [];
  const topology = fleetTopology(config);
  const namespaces = Api.cluster(transport, Namespaces);

  const freshOperatorNamespace = await step(steps, "deploy/ manifests", installOperatorManifests);
  if (freshOperatorNamespace) {
    cleanup.add("delete the operator namespace", () => namespaces.delete(DEFAULT_OPERATOR_NAMESPACE));
  }
  const namespace = `fleet-${crypto.randomUUID().slice(0, 6)}`;
  await namespaces.create({ metadata: { name: namespace } });
  cleanup.add(
    "delete the fleet namespace",
    () => namespaces.delete(namespace, { propagationPolicy: "Background" }),
  );
  // Pods may be refused until kube-controller-manager has created the namespace's default ServiceAccount.
  const accounts = Api.namespaced(transport, ServiceAccounts, namespace);
  await waitFor(() => accounts.getOpt("default"), { timeoutMs: 30_000, what: "the default ServiceAccount" });

  const nodes = Api.cluster(transport, Nodes);
  const pods = Api.namespaced(transport, Pods, namespace);
  cleanup.add(
    "delete the Node objects",
    () => pool(topology.nodes, 16, (n) => nodes.delete(n).catch(() => {})),
  );
  await step(
    steps,
    `${topology.nodes.length} Node objects`,
    () =>
      pool(topology.nodes, 16, (name) =>
        nodes.create({
          metadata: { name, labels: { "kubernetes.io/hostname": name, "swh-bench": "fleet" } },
          status: {
            conditions: [{ type: "Ready", status: "True", reason: "FleetBench", message: "simulated" }],
          },
        })),
  );

  const addresses = await step(
    steps,
    `${topology.pods.length} local addresses`,
    () => createLocalAddresses(topology.pods.length),
  );
  cleanup.add("delete the local addresses", () => addresses.dispose());
  const address = (i: number) => addresses.v4(i);
  const backends = TcpBackends.spawn();
  cleanup.add("stop the TCP backends", () => backends.close());
  await step(
    steps,
    `${topology.pods.length} TCP backends`,
    () => backends.start(topology.pods.map((p) => address(p.index))),
  );

  await step(
    steps,
    `${topology.pods.length} Pods (${POD_CONCURRENCY} at a time)`,
    () =>
      pool(topology.pods, POD_CONCURRENCY, async (pod) => {
        signal.throwIfAborted();
        const target = { transport, ns: namespace };
        const ips = [address(pod.index)];
        const clean = await createSurely(
          () =>
            createPod(target, {
              name: pod.name,
              node: pod.node,
              ips,
              labels: pod.swh ? { swh: pod.swh } : { "swh-bench": "unselected" },
            }),
          async () => (await pods.getOpt(pod.name)) !== undefined,
          signal,
        );
        // After a retry the status may not have been set yet: setting it again is harmless.
        if (!clean) await setPodIps(target, pod.name, ips);
      }),
  );

  const operator = await step(
    steps,
    `${topology.nodes.length} agents and the controller`,
    () =>
      FleetOperator.start(topology.nodes, {
        apiserverUrl: cluster.apiserverUrl,
        caCert: cluster.pki.caCert,
        dir,
        agentNice: config.agentNice,
      }),
  );
  cleanup.add("stop the agents and the controller", () => operator.stop());
  progress(
    `agent and controller logs: ${dir}${
      config.logDir ? "" : " (removed at the end; keep them with SWH_BENCH_FLEET_LOGS=<dir>)"
    }`,
  );

  const expected = new Map(
    [...topology.swhs].map(([swh, indexes]) => [swh, new Set(indexes.map(address))] as const),
  );
  const observer = new FleetObserver(transport, namespace, expected);
  await observer.start();
  cleanup.add("stop the benchmark's watches", () => observer.stop());

  const pid = (name: string) => cluster.components.filter((c) => c.name === name).map((c) => c.pid);
  const sampler = new ProcSampler([
    {
      name: "agents",
      get pids() {
        return operator.agentPids; // read at each sample: a restarted agent is another process
      },
    },
    { name: "controller", pids: [operator.controller.child.pid] },
    { name: "kube-apiserver", pids: pid("kube-apiserver") },
    { name: "etcd", pids: pid("etcd") },
    { name: "kube-controller-manager", pids: pid("kube-controller-manager") },
    { name: "TCP backends", pids: [backends.pid] },
    { name: "benchmark (watches)", pids: [Deno.pid] },
  ]);
  cleanup.add("stop sampling", () => sampler.close());
  return {
    config,
    cluster,
    transport,
    namespace,
    topology,
    address,
    backends,
    operator,
    observer,
    sampler,
    signal,
    setupSteps: steps,
    logDir: dir,
  };
}
