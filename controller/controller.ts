/** Wires the controller: informers → work queue → reconcilers, leader election, ops server, shutdown. */
import type { IService } from "kubernetes-models/v1/Service";
import type { INode } from "kubernetes-models/v1/Node";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { KubeTransport, PartialObjectMetadata } from "../kube/mod.ts";
import { Api, connect, EndpointSlices, Informer, Leases, Nodes, Secrets, Services } from "../kube/mod.ts";
import { instrumentedTransport } from "../kube/instrumented.ts";
import type { RequestInfo } from "../kube/instrumented.ts";
import { EventRecorder } from "../kube/events.ts";
import { LeaderElector } from "../kube/leader.ts";
import { createLogger } from "../ops/log.ts";
import type { Logger } from "../ops/log.ts";
import { serveOps } from "../ops/server.ts";
import type { Registry } from "../ops/metrics.ts";
import { SWH_PLURAL } from "../crds/schema.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import {
  AGENT_LEASE_LABEL,
  CONTROLLER_FIELD_MANAGER,
  DEFAULT_OPERATOR_NAMESPACE,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SERVICE_NAME_LABEL,
  sliceNode,
} from "../crds/conventions.ts";
import { WorkQueue } from "../kube/workqueue.ts";
import type { Action } from "../kube/workqueue.ts";
import { CREDENTIALS_KEY, parseSwhKey, reconcileSwh, swhKey } from "./reconcile.ts";
import { isMirroredSecret, reconcileCredentials } from "./mirror.ts";
import { Index } from "../kube/index.ts";
import { stripManagedFields } from "../kube/mod.ts";
import { ReportResource } from "../crds/resource.ts";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { AgentLiveness } from "./liveness.ts";
import { sweepStaleNode } from "./stale_nodes.ts";
import { SecretContents } from "./secrets.ts";
import type { ReconcileContext } from "./reconcile.ts";
import { credentialRefs } from "./credentials.ts";
import { controllerMetrics } from "./metrics.ts";
import type { ControllerMetrics } from "./metrics.ts";

import { SwhResource } from "../crds/resource.ts";
export { SwhResource };

/** What a queue key stands for (metrics label). */
function keyKind(key: string): string {
  return key === CREDENTIALS_KEY ? "credentials" : parseNodeKey(key) ? "node" : "swh";
}

/** Queue key of a node's heartbeat judgement. */
function nodeKey(node: string): string {
  return `node:${node}`;
}

/** Inverse of {@link nodeKey}. */
function parseNodeKey(key: string): string | undefined {
  return key.startsWith("node:") ? key.slice(5) : undefined;
}

/** Whether an SWH update changed more than its status: spec, labels, annotations or deletion. */
function specChanged(old: ServiceWithHealthchecks, now: ServiceWithHealthchecks): boolean {
  const a = old.metadata, b = now.metadata;
  return a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify([a.labels, a.annotations, a.finalizers]) !==
      JSON.stringify([b.labels, b.annotations, b.finalizers]);
}

/** Whether a Service has an SWH as owner (ours, or being adopted). */
function ownedBySwh(svc: IService): boolean {
  return (svc.metadata?.ownerReferences ?? []).some((o) => o.kind === "ServiceWithHealthchecks");
}

/** Leader-election settings (see {@link LeaderElector}). */
export interface LeaderElectionConfig {
  /** Lease name in the operator namespace (default `swh-controller`). */
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Options of {@link startController}. */
export interface ControllerOptions {
  /** API access; default: {@link connect} (KUBECONFIG, else in-cluster). Not closed by `stop()` when given. */
  transport?: KubeTransport;
  /** Kubeconfig files to connect with when no transport is given. */
  kubeconfig?: string[];
  /** Operator namespace: mirrored Secrets and the Lease live here (default `swh-system`). */
  operatorNamespace?: string;
  /** Identity in the Lease and in Events (default: a random one). */
  identity?: string;
  /** Reconciles at once (default 32: a reconcile mostly waits on the apiserver, so throughput follows). */
  concurrency?: number;
  /** Ops server port (0 = any free port); undefined = no ops server. */
  opsPort?: number;
  /** Ops server address (default 0.0.0.0). */
  opsHostname?: string;
  /** Leader election; false = always reconcile (single replica, tests). Default on. */
  leaderElection?: LeaderElectionConfig | false;
  /** Every SWH is reconciled again this often even without events (default 10 min; 0 = never). */
  resyncMs?: number;
  /** Retry delay after the apiserver rejected a Service (default 5 min). */
  rejectedRetryMs?: number;
  /**
   * Least time between two status writes of one SWH (default 1 s): the first change after a quiet period is
   * written at once, a burst of agent writes becomes one status write.
   */
  statusIntervalMs?: number;
  /** First retry delay of a failing reconcile (default 500 ms; doubles up to 60 s). */
  backoffInitialMs?: number;
  /** Logger (default JSON lines on stderr, component `controller`). */
  logger?: Logger;
}

/** A running controller. */
export interface ControllerHandle {
  /** Resolves when every cache has its initial list. */
  readonly synced: Promise<void>;
  /** Whether this replica currently reconciles. */
  readonly isLeader: boolean;
  /** Metrics (also served on /metrics). */
  readonly metrics: ControllerMetrics;
  /** The ops server's port, when one was started. */
  readonly opsPort: number | undefined;
  /**
   * Successful API writes made so far: in total, or to objects in `namespace` ("" for cluster-scoped ones) —
   * what tests sharing a cluster with other tests' objects measure.
   */
  writes(namespace?: string): number;
  /** Enqueues every SWH and the credentials (what a periodic resync does). */
  resync(): void;
  /** Resolves when the queue has nothing due and nothing running. */
  idle(): Promise<void>;
  /** Stops reconciling, releases the lease, stops the watches and the ops server. */
  stop(): Promise<void>;
}

/**
 * Starts the controller in this process. Informers (SWHs, Services, Secrets, the agents' EndpointSlices,
 * Nodes; all cluster-wide) start at once so a standby replica is warm; reconciles run only while this
 * replica leads (or always without leader election), after the caches synced.
 *
 * RBAC: SWHs get/list/watch + status patch; Services get/list/watch/create/patch; Secrets list/watch
 * cluster-wide + create/patch/delete in the operator namespace; EndpointSlices list/watch/delete;
 * Nodes list/watch; Events create; Leases get/create/update in the operator namespace.
 */
export async function startController(options: ControllerOptions = {}): Promise<ControllerHandle> {
  const log = options.logger ?? createLogger("controller");
  const metrics = controllerMetrics();
  const ownTransport = options.transport ? undefined : await connect({ paths: options.kubeconfig });
  const base = options.transport ?? ownTransport!;
  let writes = 0;
  const writesByNamespace = new Map<string, number>();
  const countWrites = (info: RequestInfo) => {
    if (!info.write) return;
    const labels = { resource: info.resource, verb: info.verb };
    if (info.failed) metrics.apiWriteFailures.inc(labels);
    else {
      writes++;
      const ns = info.namespace ?? "";
      writesByNamespace.set(ns, (writesByNamespace.get(ns) ?? 0) + 1);
      metrics.apiWrites.inc(labels);
    }
  };
  const transport = instrumentedTransport(base, countWrites);
  // The leader Lease gets a connection of its own, so renewals never share a connection (and its flow-control
  // window) with the watches' event streams. Measured in a 100-node cold start on one machine: leadership was
  // still lost 1–5 times, because there the controller's thread waits for a CPU (not for the apiserver).
  const ownElectionTransport = ownTransport && options.leaderElection !== false
    ? await connect({ paths: options.kubeconfig })
    : undefined;
  const electionTransport = ownElectionTransport
    ? instrumentedTransport(ownElectionTransport, countWrites)
    : transport;
  const operatorNamespace = options.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
  const identity = options.identity ?? `swh-controller-${crypto.randomUUID().slice(0, 8)}`;
  const stopAll = new AbortController();

  const onWatchError = (resource: string) => (info: { error: unknown }) => {
    metrics.watchErrors.inc({ resource });
    log.warn("watch error (recovering)", { resource, error: info.error });
  };
  const swhs = new Informer(Api.all(transport, SwhResource), { onError: onWatchError(SWH_PLURAL) });
  // Caches keep what reconciles read: change detection needs managedFields of our own Services only.
  const services = new Informer<IService>(Api.all(transport, Services), {
    transform: (svc) => ownedBySwh(svc) ? svc : stripManagedFields(svc),
    onError: onWatchError("services"),
  });
  // Secrets as metadata only: their contents are read for the referenced few (controller/secrets.ts).
  const secrets = new Informer<PartialObjectMetadata>(Api.all(transport, Secrets).metadata(), {
    transform: stripManagedFields,
    onError: onWatchError("secrets"),
  });
  const secretContents = new SecretContents(secrets, transport);
  const slices = new Informer<IEndpointSlice>(Api.all(transport, EndpointSlices), {
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    transform: stripManagedFields,
    onError: onWatchError("endpointslices"),
  });
  const reports = new Informer(Api.namespaced(transport, ReportResource, operatorNamespace), {
    transform: stripManagedFields,
    onError: onWatchError("reports"),
  });
  const nodes = new Informer<INode>(Api.cluster(transport, Nodes), {
    // Existence is all the clean-up asks of a node (kubelets rewrite its status every few seconds).
    transform: (node) =>
      ({
        metadata: {
          name: node.metadata?.name,
          uid: node.metadata?.uid,
          resourceVersion: node.metadata?.resourceVersion,
          labels: node.metadata?.labels,
        },
      }) as INode,
    onError: onWatchError("nodes"),
  });
  // The agents' heartbeats (agent/heartbeat.ts).
  const leases = new Informer<ILease>(Api.namespaced(transport, Leases, operatorNamespace), {
    labelSelector: AGENT_LEASE_LABEL,
    transform: stripManagedFields,
    onError: onWatchError("leases"),
  });
  const informers = [swhs, services, secrets, slices, reports, nodes, leases] as const;
  const slicesBySwh = new Index(slices, (s) => {
    const name = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    return name ? [`${s.metadata?.namespace}/${name}`] : [];
  });
  const slicesByNode = new Index(slices, (s) => {
    const node = sliceNode(s);
    return node ? [node] : [];
  });
  const reportsBySwh = new Index(reports, (r) => [`${r.swh.namespace}/${r.swh.name}`]);
  const liveness = new AgentLiveness();

  const events = new EventRecorder(transport, {
    component: CONTROLLER_FIELD_MANAGER,
    instance: identity,
    onError: (error) => log.warn("could not record an Event", { error }),
  });
  const ctx: ReconcileContext = {
    swhs,
    services,
    secrets,
    secretContents,
    nodes,
    slicesBySwh,
    reportsBySwh,
    slicesByNode,
    liveness,
    transport,
    swhApi: Api.all(transport, SwhResource),
    events,
    operatorNamespace,
    log,
    now: () => new Date(),
    rejectedRetryMs: options.rejectedRetryMs,
    rejected: new Map(),
    statusIntervalMs: options.statusIntervalMs ?? 1000,
    statusWrittenAt: new Map(),
    validity: new Map(),
    postponeStatus: (key) => {
      if (queue.urgentReady === 0) return false;
      queue.add(key);
      return true;
    },
  };

  const queue = new WorkQueue({
    concurrency: options.concurrency ?? 32,
    urgentKey: (key) => parseNodeKey(key) !== undefined,
    backoffInitialMs: options.backoffInitialMs,
    onError: (key, error, retryInMs) => {
      metrics.errors.inc({ kind: keyKind(key) });
      log.warn("reconcile failed; retrying with backoff", { key, error, retryInMs });
    },
  });

  // Event routing: every change maps to the keys whose result it can affect.
  const enqueueSwhsUsingSecret = (namespace: string, secretName: string): boolean => {
    let any = false;
    for (const swh of swhs.list()) {
      if (swh.metadata.namespace === namespace && credentialRefs(swh).includes(secretName)) {
        queue.add(swhKey(namespace, swh.metadata.name ?? ""));
        any = true;
      }
    }
    return any;
  };
  // Urgent: what agents wait for (a Service to create or fix, credentials to mirror, a dead agent's endpoints
  // to withdraw) runs before status bookkeeping (slice and report events, our own status writes).
  swhs.subscribe((e) => {
    const urgent = e.type !== "update" || specChanged(e.old, e.object);
    queue.add(swhKey(e.object.metadata.namespace ?? "", e.object.metadata.name ?? ""), 0, { urgent });
    queue.add(CREDENTIALS_KEY, 0, { urgent });
  });
  services.subscribe((e) => {
    const { namespace = "", name = "" } = e.object.metadata ?? {};
    if (swhs.get(namespace, name)) queue.add(swhKey(namespace, name), 0, { urgent: true });
  });
  secrets.subscribe((e) => {
    const { namespace = "", name = "" } = e.object.metadata ?? {};
    if (isMirroredSecret(e.object, operatorNamespace)) {
      queue.add(CREDENTIALS_KEY);
      return;
    }
    if (enqueueSwhsUsingSecret(namespace, name)) queue.add(CREDENTIALS_KEY);
  });
  // An agent writes a slice and then its report for the same change: wait for both before summarising.
  const AGENT_SETTLE_MS = 100;
  slices.subscribe((e) => {
    const name = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (name) queue.add(swhKey(e.object.metadata?.namespace ?? "", name), AGENT_SETTLE_MS);
  });
  reports.subscribe((e) => {
    const { namespace, name } = e.object.swh ?? {};
    if (namespace && name) queue.add(swhKey(namespace, name), AGENT_SETTLE_MS);
  });
  nodes.subscribe((e) => {
    if (e.type !== "delete") return;
    for (const swh of swhs.list()) queue.add(swhKey(swh.metadata.namespace ?? "", swh.metadata.name ?? ""));
  });
  leases.subscribe((e) => {
    const node = e.type === "delete" ? liveness.forget(e.object) : liveness.observe(e.object);
    // Judged when it would go stale (plus a moment, so a renewal on time is seen first).
    if (node) queue.add(nodeKey(node), (liveness.staleIn(node) ?? 0) + 100);
  });

  const runs = informers.map((i) => i.start(stopAll.signal));
  const synced = Promise.all(informers.map((i) => i.synced)).then(() => {
    log.info("caches synced", { swhs: swhs.size, services: services.size, nodes: nodes.size });
  });
  synced.catch(() => {});

  const handler = async (key: string, signal: AbortSignal): Promise<Action> => {
    const started = performance.now();
    const kind = keyKind(key);
    try {
      let action: Action;
      if (key === CREDENTIALS_KEY) action = await reconcileCredentials(ctx, signal);
      else if (parseNodeKey(key)) action = await reconcileNode(parseNodeKey(key)!, signal);
      else {
        const ref = parseSwhKey(key);
        if (!ref) return {};
        action = await reconcileSwh(ctx, ref.namespace, ref.name, signal);
      }
      metrics.reconciles.inc({ kind, result: action.requeueAfterMs !== undefined ? "rejected" : "ok" });
      return action;
    } catch (err) {
      metrics.reconciles.inc({ kind, result: "error" });
      throw err;
    } finally {
      metrics.duration.observe({ kind }, (performance.now() - started) / 1000);
    }
  };

  /**
   * One node's heartbeat judged: while its agent is stale, sweep its slices against the pod objects every few
   * seconds (pods may go meanwhile); on every change of staleness, the SWHs with pods there update their
   * AgentsReporting condition.
   */
  const staleNodes = new Set<string>();
  const STALE_SWEEP_MS = 2_000;
  const reconcileNode = async (node: string, signal: AbortSignal): Promise<Action> => {
    const stale = liveness.stale(node);
    if (stale !== staleNodes.has(node)) {
      if (stale) staleNodes.add(node);
      else staleNodes.delete(node);
      log.warn(stale ? "an agent stopped renewing its heartbeat" : "an agent renews its heartbeat again", {
        node,
        silentSeconds: liveness.silentSeconds(node),
      });
      const keys = new Set([
        ...slicesByNode.get(node).map((s) =>
          `${s.metadata?.namespace}/${s.metadata?.labels?.[SERVICE_NAME_LABEL]}`
        ),
        ...reports.list().filter((r) => r.node === node).map((r) => `${r.swh.namespace}/${r.swh.name}`),
      ]);
      for (const k of keys) {
        const i = k.indexOf("/");
        queue.add(swhKey(k.slice(0, i), k.slice(i + 1)));
      }
    }
    if (!stale) {
      const due = liveness.staleIn(node);
      return due === undefined ? {} : { requeueAfterMs: due + 100 };
    }
    const withdrawn = await sweepStaleNode(ctx, node, log, signal);
    if (withdrawn > 0) metrics.staleEndpointsWithdrawn.inc({}, withdrawn);
    return { requeueAfterMs: STALE_SWEEP_MS };
  };

  const enqueueAll = () => {
    for (const swh of swhs.list()) {
      const { namespace = "", name = "" } = swh.metadata;
      // A new leader (or a resync) first creates the Services that do not exist yet: agents wait for them.
      queue.add(swhKey(namespace, name), 0, { urgent: !services.get(namespace, name) });
    }
    // Keys of SWHs that vanished while nobody reconciled: their orphaned slices and reports.
    for (const key of new Set([...slicesBySwh.keys(), ...reportsBySwh.keys()])) {
      const i = key.indexOf("/");
      queue.add(swhKey(key.slice(0, i), key.slice(i + 1)));
    }
    queue.add(CREDENTIALS_KEY);
  };

  // Leading: run the queue while we lead; stop it when leadership ends.
  let leading: { stop: AbortController; done: Promise<void> } | undefined;
  let lastDone: Promise<void> = Promise.resolve();
  let isLeader = false;
  const startLeading = () => {
    isLeader = true;
    metrics.leader.set({}, 1);
    log.info("started leading", { identity });
    const stop = new AbortController();
    const previous = lastDone;
    const done = (async () => {
      await previous; // one queue runner at a time, even after a quick lose-and-regain
      try {
        // Stopping must not wait for caches that never sync (an apiserver that refuses a list): give up then.
        await Promise.race([
          synced,
          new Promise<never>((_, reject) => stop.signal.addEventListener("abort", reject, { once: true })),
        ]);
      } catch {
        return;
      }
      if (stop.signal.aborted) return;
      enqueueAll();
      await queue.run(handler, AbortSignal.any([stop.signal, stopAll.signal]));
    })();
    leading = { stop, done };
    lastDone = done;
  };
  const stopLeading = async () => {
    isLeader = false;
    metrics.leader.set({}, 0);
    const current = leading;
    leading = undefined;
    if (current) {
      current.stop.abort();
      await current.done;
      log.info("stopped leading", { identity });
    }
  };

  let elector: LeaderElector | undefined;
  let electorRun: Promise<void> | undefined;
  const electorStop = new AbortController();
  metrics.leader.set({}, 0);
  if (options.leaderElection === false) {
    startLeading();
  } else {
    const le = options.leaderElection ?? {};
    elector = new LeaderElector(Api.namespaced(electionTransport, Leases, operatorNamespace), {
      name: le.leaseName ?? "swh-controller",
      identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: startLeading,
      onStoppedLeading: () => void stopLeading(),
      onError: (error) => log.warn("leader election request failed", { error }),
    });
    electorRun = elector.run(electorStop.signal);
  }

  // A standby replica has no queue to report: the gauge exists only while this replica leads.
  const depthTimer = setInterval(() => {
    if (isLeader) metrics.queueDepth.set({}, queue.depth);
    else metrics.queueDepth.delete({});
  }, 1000);
  const resyncMs = options.resyncMs ?? 600_000;
  const resyncTimer = resyncMs > 0 ? setInterval(() => isLeader && enqueueAll(), resyncMs) : undefined;

  const opsStop = new AbortController();
  let opsPort: number | undefined;
  if (options.opsPort !== undefined) {
    opsPort = serveOps({
      registry: metrics.registry as Registry,
      port: options.opsPort,
      hostname: options.opsHostname,
      signal: opsStop.signal,
      readiness: {
        "caches-synced": () =>
          informers.every((i) => i.hasSynced) ? undefined : "informers have not listed yet",
      },
    });
    log.info("ops server listening", { port: opsPort });
  }

  let stopped: Promise<void> | undefined;
  return {
    synced,
    get isLeader() {
      return isLeader;
    },
    metrics,
    opsPort,
    writes: (namespace?: string) => namespace === undefined ? writes : writesByNamespace.get(namespace) ?? 0,
    resync: enqueueAll,
    idle: () => queue.idle(),
    stop(): Promise<void> {
      stopped ??= (async () => {
        clearInterval(depthTimer);
        if (resyncTimer !== undefined) clearInterval(resyncTimer);
        // Stop reconciling first, then give the lease back, so the successor never overlaps with us.
        await stopLeading();
        log.debug("stop: reconciling stopped");
        electorStop.abort();
        await electorRun;
        log.debug("stop: lease released");
        stopAll.abort();
        await Promise.all(runs);
        log.debug("stop: watches stopped");
        await events.flush();
        opsStop.abort();
        ownTransport?.close();
        ownElectionTransport?.close();
        log.info("controller stopped", { identity });
      })();
      return stopped;
    },
  };
}
