/** Shared setup of the agent's cluster tests: CRD, a node, pods with real loopback backends, slice watchers. */
import { metaTime } from "../../kube/time.ts";
import { installSwhCrd } from "../support/crd.ts";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import {
  Api,
  EndpointSlices,
  HttpTransport,
  loadKubeconfig,
  Namespaces,
  Nodes,
  Pods,
  Services,
} from "../../kube/mod.ts";
import type { WatchEvent } from "../../kube/mod.ts";
import {
  DEFAULT_OPERATOR_NAMESPACE,
  NODE_LABEL,
  nodeLabelValue,
  selectorAnnotation,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_NAME_LABEL,
  SERVICE_SELECTOR_ANNOTATION,
} from "../../crds/conventions.ts";
import { ReportResource } from "../../crds/resource.ts";
import type { SwhNodeReport } from "../../crds/report.ts";
import { isApiError } from "../../kube/mod.ts";
import { SwhResource } from "../../crds/resource.ts";
import type { ServiceWithHealthchecks } from "../../crds/schema.ts";
import { startAgent } from "../../agent/mod.ts";
import type { AgentHandle, SwhObject } from "../../agent/mod.ts";
import { requireTestKubeconfig } from "../support/env.ts";
import { waitFor } from "../support/wait.ts";
import { createTestNamespace } from "../support/namespace.ts";
import { createLocalAddresses } from "../support/local_addresses.ts";
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_ENV,
  AGENT_RUNTIME_FLAGS,
  withReadablePaths,
} from "../../deploy/permissions.ts";
import type { LocalAddresses } from "../support/local_addresses.ts";
import { freePort } from "../../tools/cluster/network.ts";
import { startController } from "../../controller/mod.ts";
import type { ControllerHandle, ControllerOptions } from "../../controller/mod.ts";
import { createLogger } from "../../ops/log.ts";

/** Field manager of test fixtures. */
export const TEST_MANAGER = "swh-agent-tests";

/** A cluster test without Deno's op/resource sanitizers (informers and HTTP clients outlive single awaits). */
export function clusterTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

/** What a test gets: an admin transport, a fresh namespace and a fresh Node object. */
export interface TestContext {
  transport: HttpTransport;
  ns: string;
  node: string;
  /** Local addresses to use as pod IPs (loopback is not a valid EndpointSlice address). */
  net: LocalAddresses;
  /** Creates another Node (for two-agent tests); deleted at the end. */
  addNode(): Promise<string>;
}

/** Runs `fn` with a fresh namespace and node; deletes both (and the transport) afterwards. */
export async function withCluster(
  prefix: string,
  fn: (ctx: TestContext) => Promise<void>,
  opts: { addresses?: number; addresses6?: number } = {},
): Promise<void> {
  const transport = new HttpTransport(await loadKubeconfig({ paths: [requireTestKubeconfig()] }));
  await installSwhCrd();
  const suffix = crypto.randomUUID().slice(0, 8);
  const ns = `${prefix}-${suffix}`;
  const nodes: string[] = [];
  const addNode = async () => {
    const name = `node-${prefix}-${nodes.length}-${suffix}`;
    await Api.cluster(transport, Nodes).create({ metadata: { name, labels: { "swh-test": "agent" } } });
    nodes.push(name);
    return name;
  };
  await createTestNamespace(transport, ns);
  // Agents write their node reports into the operator namespace (shared by tests: reports carry node names).
  await Api.cluster(transport, Namespaces).create({ metadata: { name: DEFAULT_OPERATOR_NAMESPACE } }).catch(
    (error) => {
      if (!isApiError(error, 409)) throw error;
    },
  );
  const net = await createLocalAddresses(opts.addresses ?? 8, opts.addresses6 ?? 2);
  try {
    const node = await addNode();
    await fn({ transport, ns, node, net, addNode });
  } finally {
    // Finalizers the test left on pods would block namespace deletion.
    const pods = Api.namespaced(transport, Pods, ns);
    for (const p of (await pods.list().catch(() => ({ items: [] as IPod[] }))).items) {
      if (p.metadata?.finalizers?.length) {
        await pods.patch(p.metadata.name!, { type: "merge", body: { metadata: { finalizers: null } } }).catch(
          () => {},
        );
      }
    }
    await Api.cluster(transport, Namespaces).delete(ns, { propagationPolicy: "Background" }).catch(() => {});
    for (const n of nodes) await Api.cluster(transport, Nodes).delete(n).catch(() => {});
    await net.dispose();
    transport.close();
  }
}

/** Options of {@link createPod}. */
export interface PodSpecInput {
  name: string;
  node: string;
  ips: string[];
  labels?: Record<string, string>;
  ports?: { name: string; containerPort: number }[];
  finalizers?: string[];
}

/** Where pods are created: a transport and a namespace (a {@link TestContext} is one). */
export type PodTarget = Pick<TestContext, "transport" | "ns">;

/** Creates a Pod bound to `node` and sets its status as a kubelet would: Running, Ready, with `ips`. */
export async function createPod(ctx: PodTarget, p: PodSpecInput): Promise<IPod> {
  const pods = Api.namespaced(ctx.transport, Pods, ctx.ns);
  await pods.create({
    metadata: { name: p.name, labels: p.labels ?? { app: "web" }, finalizers: p.finalizers },
    spec: {
      nodeName: p.node,
      containers: [{ name: "main", image: "registry.invalid/none", ports: p.ports }],
    },
  });
  return await setPodIps(ctx, p.name, p.ips);
}

/** Sets a pod's IPs (and Running/Ready) through the status subresource. */
export async function setPodIps(ctx: PodTarget, name: string, ips: string[]): Promise<IPod> {
  const now = metaTime(new Date());
  return await Api.namespaced(ctx.transport, Pods, ctx.ns).patch(name, {
    type: "merge",
    body: {
      status: {
        phase: "Running",
        podIP: ips[0],
        podIPs: ips.map((ip) => ({ ip })),
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }],
      },
    },
  }, { subresource: "status" });
}

/**
 * Creates an SWH in the test namespace and, as the controller would, its selector-less Service owned by it and
 * noting its selector (agents publish slices only for a Service their SWH owns). `ownService: false` leaves the Service out.
 */
export async function createSwh(
  ctx: TestContext,
  name: string,
  spec: Record<string, unknown>,
  opts: { ownService?: boolean } = {},
): Promise<SwhObject> {
  const swh = await Api.namespaced(ctx.transport, SwhResource, ctx.ns).create({
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: { name },
    spec: spec as ServiceWithHealthchecks["spec"], // as a user writes it: the apiserver applies the defaults
  });
  if (opts.ownService !== false) {
    const ports = (spec.ports as { port: number; name?: string }[] | undefined ?? []).map((p, i) => ({
      name: p.name ?? `p${i}`,
      port: p.port,
    }));
    const selector = spec.selector as Record<string, string> | undefined;
    await Api.namespaced(ctx.transport, Services, ctx.ns).create({
      metadata: {
        name,
        // The controller's notes of the selector and generation: agents fetch the SWH only where it selects a
        // pod, and again when the noted generation is newer than theirs.
        annotations: {
          [SERVICE_GENERATION_ANNOTATION]: String(swh.metadata?.generation ?? 1),
          ...(selector && typeof selector === "object"
            ? { [SERVICE_SELECTOR_ANNOTATION]: selectorAnnotation(selector) }
            : {}),
        },
        ownerReferences: [{
          apiVersion: "network.deckhouse.io/v1alpha1",
          kind: "ServiceWithHealthchecks",
          name,
          uid: swh.metadata?.uid ?? "",
          controller: true,
        }],
      },
      spec: spec.clusterIP === "None" ? { clusterIP: "None", ports } : { ports },
    }).catch((error) => {
      if (!isApiError(error, 409)) throw error; // a controller running in the test made it first
    });
  }
  return swh;
}

/** The slices of SWH `name` in the test namespace. */
export async function slicesOf(ctx: TestContext, name: string): Promise<IEndpointSlice[]> {
  return (await Api.namespaced(ctx.transport, EndpointSlices, ctx.ns).list({
    labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
  })).items;
}

/** Sorted addresses published in `slices`. */
export function addresses(slices: IEndpointSlice[]): string[] {
  return slices.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)).sort();
}

/** Waits until the published addresses of SWH `name` are exactly `want` (sorted comparison). */
export async function waitForAddresses(
  ctx: TestContext,
  name: string,
  want: string[],
  timeoutMs = 15_000,
): Promise<IEndpointSlice[]> {
  const wanted = JSON.stringify([...want].sort());
  let last: string[] = [];
  try {
    return await waitFor(async () => {
      const slices = await slicesOf(ctx, name);
      last = addresses(slices);
      return JSON.stringify(last) === wanted ? slices : undefined;
    }, { timeoutMs, what: `addresses of ${name} to be ${wanted}` });
  } catch (error) {
    // What the agent says about the pods left out (its node report names each failing probe and why).
    const report = await reportsOf(ctx, ctx.node).then((r) => r.get(name)).catch(() => undefined);
    throw new Error(
      `${(error as Error).message}; last seen ${JSON.stringify(last)}; the agent's report: ${
        JSON.stringify(report?.endpoints ?? "none")
      }`,
    );
  }
}

/** A running watch of one SWH's slices that records every event (to count writes or catch a flap). */
export interface SliceRecorder {
  readonly events: WatchEvent<IEndpointSlice>[];
  stop(): Promise<void>;
}

/** Starts recording slice events of SWH `name` from now on. */
export async function recordSlices(ctx: TestContext, name: string): Promise<SliceRecorder> {
  const api = Api.namespaced(ctx.transport, EndpointSlices, ctx.ns);
  const list = await api.list({ labelSelector: `${SERVICE_NAME_LABEL}=${name}` });
  const events: WatchEvent<IEndpointSlice>[] = [];
  const abort = new AbortController();
  const loop = (async () => {
    try {
      for await (
        const e of api.watch({
          resourceVersion: list.metadata.resourceVersion,
          labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
          allowWatchBookmarks: false,
          signal: abort.signal,
        })
      ) events.push(e);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    events,
    async stop() {
      abort.abort();
      await loop.catch(() => {});
    },
  };
}

/** A TCP listener on `ip:port` (port 0 = any) that accepts and closes connections. */
export function tcpBackend(ip: string, port = 0): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: ip, port });
  const loop = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      try {
        listener.close();
      } catch { /* already closed */ }
      void loop;
    },
  };
}

/** An HTTP server on `ip:port` answering /healthz with 200 while `healthy`, else 503. */
export function httpBackend(
  ip: string,
  port = 0,
): { port: number; healthy: boolean; close(): Promise<void> } {
  const state = { healthy: true };
  const server = Deno.serve(
    { hostname: ip, port, onListen: () => {} },
    () => new Response(state.healthy ? "ok" : "down", { status: state.healthy ? 200 : 503 }),
  );
  return {
    port: server.addr.port,
    get healthy() {
      return state.healthy;
    },
    set healthy(v: boolean) {
      state.healthy = v;
    },
    close: () => server.shutdown(),
  };
}

/** How many times `handle`'s agent fetched an SWH so far. */
export function swhFetches(handle: AgentHandle): number {
  return handle.agent.metrics.swhFetches.get({ via: "get" });
}

/** Test-sized agent options: fast coalescing. */
export const FAST = { debounceMs: 20, minWriteIntervalMs: 100 } as const;

/** Agents' log in tests: errors only, unless `AGENT_LOG` names another level. */
const testAgentLogger = createLogger("agent", { level: (Deno.env.get("AGENT_LOG") ?? "error") as "error" });

/** Starts an in-process agent for `node` (default: the test's node) with {@link FAST} coalescing. */
export function startTestAgent(ctx: TestContext, node: string = ctx.node): Promise<AgentHandle> {
  return startAgent({ nodeName: node, transport: ctx.transport, logger: testAgentLogger, ...FAST });
}

/** The node reports written by `node`'s agent into `namespace` (default: the operator's), by SWH name. */
export async function reportsOf(
  ctx: TestContext,
  node: string,
  namespace = DEFAULT_OPERATOR_NAMESPACE,
): Promise<Map<string, SwhNodeReport>> {
  const list = await Api.namespaced(ctx.transport, ReportResource, namespace).list({
    labelSelector: `${NODE_LABEL}=${nodeLabelValue(node)}`,
  });
  return new Map(
    list.items.filter((r) => r.swh.namespace === ctx.ns && r.node === node).map((r) => [r.swh.name, r]),
  );
}

/** The repository root (subprocess agents run from there so deno.json's imports resolve). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** An agent running as a real process (`deno run agent/main.ts` with the documented permissions). */
export interface AgentProcess {
  readonly child: Deno.ChildProcess;
  readonly opsPort: number;
  /** GET on the ops server; undefined while it does not answer. */
  ops(path: string): Promise<{ status: number; text: string } | undefined>;
  /** Resolves once /readyz answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGKILL (if still running) and wait for exit. */
  kill(): Promise<Deno.CommandStatus>;
  /** Sum of a metric's series whose labels contain `labelText` (e.g. `result="success"`). */
  metric(name: string, labelText?: string): Promise<number>;
}

/** An agent process ended before it was ready. */
export class AgentExitedError extends Error {
  override readonly name = "AgentExitedError";
  /** @param node its node; @param status how it ended. */
  constructor(readonly node: string, readonly status: Deno.CommandStatus) {
    super(
      `agent ${node} exited (code ${status.code}${
        status.signal ? `, ${status.signal}` : ""
      }) before it was ready`,
    );
  }
}

/** Options of {@link spawnAgent}. */
export interface SpawnAgentOptions {
  /** Extra environment of the agent process. */
  readonly env?: Record<string, string>;
  /** Deno/V8 runtime flags instead of the deployed ones ({@link AGENT_RUNTIME_FLAGS}), e.g. for A/B benchmarks. */
  readonly runtimeFlags?: readonly string[];
  /** Kubeconfig instead of the test cluster's admin one, e.g. a service-account token's (RBAC applies). */
  readonly kubeconfig?: string;
  /** Append the agent's stdout and stderr to this file instead of inheriting them (many agents at once). */
  readonly logFile?: string;
  /** Run under `nice -n` this (every thread of the process; 0 or absent: not). */
  readonly nice?: number;
}

/**
 * Drains a child's piped stdout and stderr into `path` (appending) as the lines come, so the child never blocks on
 * a full pipe and the file can be read while it runs (`pipeTo(file.writable)` showed nothing until the child exited).
 */
export function appendOutput(child: Deno.ChildProcess, path: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    const file = Deno.openSync(path, { write: true, create: true, append: true });
    void (async () => {
      try {
        for await (const chunk of stream) {
          for (let written = 0; written < chunk.length;) written += file.writeSync(chunk.subarray(written));
        }
      } catch {
        /* the child is gone */
      } finally {
        file.close();
      }
    })();
  }
}

/** Starts `agent/main.ts` for `node` with the deployed flags (deploy/permissions.ts), against the test cluster. */
export function spawnAgent(node: string, opts: SpawnAgentOptions = {}): AgentProcess {
  const kubeconfig = opts.kubeconfig ?? requireTestKubeconfig();
  // The admin kubeconfig names its certificate files, which sit next to it.
  const kubeDir = kubeconfig.slice(0, kubeconfig.lastIndexOf("/"));
  const opsPort = freePort();
  const args = [
    "run",
    ...withReadablePaths(AGENT_PERMISSIONS, [kubeDir]),
    ...(opts.runtimeFlags ?? AGENT_RUNTIME_FLAGS),
    "agent/main.ts",
  ];
  const child = new Deno.Command(opts.nice ? "nice" : Deno.execPath(), {
    args: opts.nice ? ["-n", String(opts.nice), Deno.execPath(), ...args] : args,
    cwd: REPO_ROOT,
    env: {
      ...AGENT_RUNTIME_ENV,
      NODE_NAME: node,
      KUBECONFIG: kubeconfig,
      SWH_OPS_PORT: String(opsPort),
      SWH_LOG_LEVEL: Deno.env.get("AGENT_LOG") ?? "warn",
      ...opts.env,
    },
    stdin: "null",
    stdout: opts.logFile ? "piped" : "inherit",
    stderr: opts.logFile ? "piped" : "inherit",
  }).spawn();
  if (opts.logFile) appendOutput(child, opts.logFile);
  const ops = async (path: string) => {
    try {
      // Bounded: a starved agent must not hang its caller.
      const res = await fetch(`http://127.0.0.1:${opsPort}${path}`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, text: await res.text() };
    } catch {
      return undefined;
    }
  };
  return {
    child,
    opsPort,
    ops,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      return await child.status;
    },
    async ready(timeoutMs = 30_000) {
      // A process that exited (a port taken between freePort and its bind, a crash) is reported as such at
      // once, not as a ready check that timed out minutes later.
      let exit: Deno.CommandStatus | undefined;
      child.status.then((status) => (exit = status), () => {});
      await waitFor(async () => exit ?? (await ops("/readyz"))?.status === 200, {
        timeoutMs,
        what: `agent ${node} to be ready`,
      });
      if (exit) throw new AgentExitedError(node, exit);
    },
    async metric(name: string, labelText = "") {
      const text = (await ops("/metrics"))?.text ?? "";
      let sum = 0;
      for (const line of text.split("\n")) {
        if (!line.startsWith(name) || line.startsWith("#")) continue;
        const rest = line.slice(name.length);
        if (rest[0] !== "{" && rest[0] !== " ") continue;
        if (labelText && !rest.includes(labelText)) continue;
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return sum;
    },
  };
}

/**
 * The controller in this process beside an agent test: no leader election, logs at error level (or
 * SWH_LOG_LEVEL); `options` add to or override that.
 */
export function startTestController(
  ctx: TestContext,
  options: ControllerOptions = {},
): Promise<ControllerHandle> {
  return startController({
    transport: ctx.transport,
    leaderElection: false,
    logger: createLogger("controller", { level: (Deno.env.get("SWH_LOG_LEVEL") ?? "error") as "error" }),
    ...options,
  });
}
