/**
 * The SWH reconcile: one ServiceWithHealthchecks → its Service, clean-up, and its status aggregated from the
 * agents' slices and node reports. (The credentials reconcile is controller/mirror.ts.)
 *
 * @module
 */
import type { IService } from "kubernetes-models/v1/Service";
import type { INode } from "kubernetes-models/v1/Node";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { Index } from "../kube/index.ts";
import type { KubeTransport, PartialObjectMetadata, Store } from "../kube/mod.ts";
import { Api, Endpoints, EndpointSlices, isApiError, KubeApiError, Pods, Services } from "../kube/mod.ts";
import type { EventRecorder } from "../kube/events.ts";
import { applyWouldChange, createOnly } from "../kube/ssa.ts";
import type { Action } from "../kube/workqueue.ts";
import type { Logger } from "../ops/log.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import type { ServiceWithHealthchecks, SwhCondition } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import { CONTROLLER_FIELD_MANAGER, sliceNode } from "../crds/conventions.ts";
import { formatSwhErrors, sameAsParsed, validateSwh } from "../crds/validate.ts";
import {
  builtInSlicesSelector,
  handOverPatch,
  holdRelease,
  holdsRelease,
  releaseService,
} from "./adoption.ts";
import { deleteLeftovers, removeAgentStatusEntries } from "./cleanup.ts";
import type { AgentLiveness } from "./liveness.ts";
import { credentialRefs, credentialsVerdict } from "./credentials.ts";
import type { SecretContents } from "./secrets.ts";
import { adoptionRequested, desiredService, SERVICE_LIST_KEYS, serviceOwnership } from "./desired_service.ts";
import { aggregateEndpoints } from "./endpoints.ts";
import type { EndpointView } from "./endpoints.ts";
import { desiredStatus, STATUS_LIST_KEYS } from "./status.ts";
import type { ConditionVerdict } from "./status.ts";

/** Everything a reconcile reads and writes through; built by the controller, replaceable in tests. */
export interface ReconcileContext {
  /** Caches (informer stores), synced before any reconcile runs. */
  swhs: Store<ServiceWithHealthchecks>;
  services: Store<IService>;
  /** Every Secret's metadata (never contents: see {@link ReconcileContext.secretContents}). */
  secrets: Store<PartialObjectMetadata>;
  /** Contents of the Secrets that matter, read on demand. */
  secretContents: SecretContents;
  nodes: Store<INode>;
  /** The agents' EndpointSlices by SWH (`namespace/name`, from the service-name label). */
  slicesBySwh: Index<IEndpointSlice>;
  /** The agents' node reports by SWH (`namespace/name`). */
  reportsBySwh: Index<SwhNodeReport>;
  /** The agents' EndpointSlices by node (their node label). */
  slicesByNode: Index<IEndpointSlice>;
  /** Which agents renew their heartbeat (controller/liveness.ts). */
  liveness: AgentLiveness;
  /** The (instrumented) transport writes go through. */
  transport: KubeTransport;
  /** SWH API spanning all namespaces (its status applies name their namespace). */
  swhApi: Api<ServiceWithHealthchecks>;
  /** Events about SWHs. */
  events: EventRecorder;
  /** Where mirrored Secrets and node reports live. */
  operatorNamespace: string;
  log: Logger;
  /** Clock for condition timestamps. */
  now: () => Date;
  /** Retry delay after the apiserver rejected the Service (default 5 min; a change to the SWH retries at once). */
  rejectedRetryMs?: number;
  /**
   * Services the apiserver rejected, by SWH key: the body sent, the verdict, and when to try the same body
   * again. Reconciles caused by our own status write or by unrelated events do not resend a rejected body.
   */
  rejected: Map<string, { body: string; verdict: ConditionVerdict; retryAt: number }>;
  /** Least time between two status writes of one SWH (a burst of agent writes becomes one status write). */
  statusIntervalMs: number;
  /** When each SWH's status was last written (performance.now), by queue key. */
  statusWrittenAt: Map<string, number>;
  /**
   * Runtime validation verdicts by SWH key, for one `uid/generation` each ("" = valid), and whether the stored
   * spec lacks defaults the schema applies (an older CRD).
   */
  validity: Map<string, { of: string; verdict: string; defaultsMissing: boolean }>;
  /**
   * Asked after the Service step: true when other keys wait for urgent work (a Service agents wait for), in
   * which case this SWH's status is summarised later — the callee has queued the key again. Absent: never.
   */
  postponeStatus?: (key: string) => boolean;
}

/** Key of the global credentials reconcile in the work queue. */
export const CREDENTIALS_KEY = "credentials";
/** Queue key of an SWH. */
export function swhKey(namespace: string, name: string): string {
  return `swh:${namespace}/${name}`;
}
/** Inverse of {@link swhKey}; undefined for other keys. */
export function parseSwhKey(key: string): { namespace: string; name: string } | undefined {
  const m = /^swh:([^/]+)\/(.+)$/.exec(key);
  return m ? { namespace: m[1], name: m[2] } : undefined;
}

/** A reconcile step failed in a way worth retrying with backoff; wraps the cause. */
export class ReconcileError extends Error {
  override readonly name = "ReconcileError";
  /** What was being done, e.g. `apply Service app/web`. */
  readonly step: string;

  /** Wraps `cause`, naming the step. */
  constructor(step: string, cause: unknown) {
    super(`${step}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.step = step;
  }
}

/** The apiserver refused the request as invalid or forbidden: retrying the same input cannot help. */
function isRejection(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && err.code >= 400 && err.code < 500 && err.code !== 404 &&
    err.code !== 409 && err.code !== 429;
}

/** The SWH as the subject of an Event. */
export function subject(
  swh: ServiceWithHealthchecks,
): { apiVersion: string; kind: string; metadata: ServiceWithHealthchecks["metadata"] } {
  return { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: swh.metadata };
}

/**
 * Brings one SWH's world in line: its Service (server-side apply, only when it would change; foreign
 * Services refused unless adoption is requested), leftovers of vanished nodes and deleted namesakes (slices,
 * node reports), and the status (only when it would change, and at most once per `statusIntervalMs` — the
 * first change after a quiet period at once). Idempotent; never throws for problems a retry cannot fix (they
 * become conditions and Events).
 */
export async function reconcileSwh(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  signal: AbortSignal,
): Promise<Action> {
  let swh = ctx.swhs.get(namespace, name);
  const key = swhKey(namespace, name);
  const log = ctx.log.with({ object: `${namespace}/${name}`, kind: SWH_KIND });
  if (!swh || swh.metadata.deletionTimestamp) {
    ctx.rejected.delete(key);
    ctx.statusWrittenAt.delete(key);
    ctx.validity.delete(key);
    // An adopted Service goes back to its users (roll-back of a migration), not to garbage collection.
    if (swh && holdsRelease(swh)) {
      const waiting = await releaseService(ctx, swh, ctx.services.get(namespace, name), log, signal);
      if (waiting.requeueAfterMs !== undefined) return waiting;
    }
    // Being deleted: garbage collection removes the slices once finalizers are done; reports are ours to remove.
    await deleteLeftovers(ctx, namespace, name, undefined, log, signal);
    return {};
  }
  let action: Action = {};

  // 1. The Service — unless the spec is one admission accepted but the programs cannot use (the CRD's and the
  // runtime's validation should agree; when they do not, the user must hear of it, and nothing is changed).
  let service = ctx.services.get(namespace, name);
  let serviceVerdict: ConditionVerdict;
  const ownership = serviceOwnership(swh, service);
  const { invalid, defaultsMissing } = specVerdict(ctx, swh);
  if (invalid) {
    serviceVerdict = { status: "False", reason: "InvalidSpec", message: invalid };
    if (ownership !== "owned") service = undefined;
  } else if (ownership === "foreign" && !adoptionRequested(swh)) {
    serviceVerdict = {
      status: "False",
      reason: "ServiceConflict",
      message:
        `Service ${namespace}/${name} already exists and is not owned by this ServiceWithHealthchecks; ` +
        `delete it, or annotate the ServiceWithHealthchecks with network.deckhouse.io/adopt-existing-service=true ` +
        `to take it over (keeping its cluster IP)`,
    };
    ctx.events.record(subject(swh), "Warning", "ServiceConflict", serviceVerdict.message);
    service = undefined; // a foreign Service's addresses are not ours to report
  } else {
    const desired = desiredService(swh, { defaultsMissing });
    const body = JSON.stringify(desired);
    const rejected = ctx.rejected.get(key);
    if (rejected && rejected.body === body && ctx.now().getTime() < rejected.retryAt) {
      serviceVerdict = rejected.verdict;
      if (ownership !== "owned") service = undefined;
      action = { requeueAfterMs: rejected.retryAt - ctx.now().getTime() };
    } else {
      try {
        if (ownership === "foreign") await holdRelease(ctx, swh, signal); // adopting: give it back on deletion
        const applied = await applyService(ctx, swh, desired, service, ownership, log, signal);
        ctx.rejected.delete(key);
        service = applied.service;
        serviceVerdict = applied.handingOver
          ? {
            status: "True",
            reason: "ServiceHandOver",
            message:
              `Service ${namespace}/${name} adopted; its previous selector stays until an endpoint passes ` +
              `its probes, so clients never see an empty Service`,
          }
          : {
            status: "True",
            reason: "ServiceApplied",
            message: `Service ${namespace}/${name} is in place without a selector`,
          };
      } catch (err) {
        if (!isRejection(err)) throw new ReconcileError(`apply Service ${namespace}/${name}`, err);
        serviceVerdict = {
          status: "False",
          reason: "ServiceRejected",
          message: err.status.message ?? err.message,
        };
        log.warn("apiserver rejected the Service", { error: err, reason: err.reason });
        ctx.events.record(subject(swh), "Warning", "ServiceRejected", serviceVerdict.message);
        if (ownership !== "owned") service = undefined;
        const retryMs = ctx.rejectedRetryMs ?? 300_000;
        ctx.rejected.set(key, { body, verdict: serviceVerdict, retryAt: ctx.now().getTime() + retryMs });
        action = { requeueAfterMs: retryMs };
      }
    }
  }

  // Agents publish nothing until the Service exists: in a burst of new SWHs, create every Service before
  // summarising any status (a status is bookkeeping; a Service unblocks a node's worth of agents).
  if (ctx.postponeStatus?.(key)) return action;

  // 2. Credentials of PostgreSQL probes (the copies are made by the credentials reconcile; a problem becomes the
  // Ready reason and a Warning Event when the status changes).
  if (!invalid) await ctx.secretContents.load(credentialRefs(swh).map((n) => [namespace, n]), signal);
  const credentials: ConditionVerdict = invalid
    ? { status: "Unknown", reason: "InvalidSpec", message: "not checked while the spec is invalid" }
    : credentialsVerdict(swh, (ns, n) => ctx.secretContents.get(ns, n));

  // 3. Leftovers of vanished nodes and deleted namesakes; per-pod entries agents wrote into status (v0.1).
  await deleteLeftovers(ctx, namespace, name, swh, log, signal);
  swh = await removeAgentStatusEntries(ctx, swh, log, signal);

  // 4. The status, from the Service and what the agents published and reported.
  const view = endpointView(ctx, swh);
  const status = desiredStatus(swh, {
    service: serviceVerdict,
    credentials,
    agents: agentsVerdict(ctx, swh),
    serviceObject: service,
    endpoints: view,
    podsSelected: view.total === 0 ? await anyPodSelected(ctx, swh, signal) : undefined,
    now: ctx.now(),
  });
  const body = { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: { name, namespace }, status };
  if (
    !applyWouldChange(swh, body, {
      manager: CONTROLLER_FIELD_MANAGER,
      subresource: "status",
      listKeys: STATUS_LIST_KEYS,
    })
  ) return action;
  const nowMs = performance.now();
  const due = (ctx.statusWrittenAt.get(key) ?? -Infinity) + ctx.statusIntervalMs;
  if (due > nowMs) return soonest(action, { requeueAfterMs: due - nowMs });
  ctx.statusWrittenAt.set(key, nowMs);
  try {
    await ctx.swhApi.applyStatus(body as ServiceWithHealthchecks, {
      fieldManager: CONTROLLER_FIELD_MANAGER,
      force: true,
      signal,
    });
  } catch (err) {
    if (isApiError(err, 404)) return {}; // deleted meanwhile: the delete event reconciles again
    throw new ReconcileError(`apply status of ${namespace}/${name}`, err);
  }
  announceConditionChanges(ctx, swh, status.conditions ?? [], log);
  return action;
}

/** Ready reasons that are configuration problems a user must fix: each change to one is a Warning Event. */
const CONFIGURATION_PROBLEMS = new Set([
  "SecretNotFound",
  "SecretKeyMissing",
  "NoCredentials",
  "InvalidCredentials",
  "PortNotFound",
  "InvalidProbe",
  "InvalidSpec",
  "NoPodsSelected",
]);

/** Logs every condition that changed status or reason, and raises a Warning Event for configuration problems. */
function announceConditionChanges(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  conditions: readonly SwhCondition[],
  log: Logger,
): void {
  for (const c of conditions) {
    const before = swh.status?.conditions?.find((o) => o.type === c.type);
    if (before?.status === c.status && before.reason === c.reason) continue;
    log.info("condition changed", {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      from: before ? `${before.status}/${before.reason}` : undefined,
    });
    const problem = c.type === "Ready"
      ? CONFIGURATION_PROBLEMS.has(c.reason)
      : c.reason === "AgentNotReporting";
    if (c.status === "False" && problem) {
      ctx.events.record(subject(swh), "Warning", c.reason, c.message);
    }
  }
}

/**
 * Whether any pod in the SWH's namespace matches its selector: asked only when no agent shows a pod, to tell
 * "selects nothing" from "not probed yet". One LIST of at most one pod, served from the apiserver's cache.
 */
async function anyPodSelected(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  signal: AbortSignal,
): Promise<boolean> {
  const selector = Object.entries(swh.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  if (!selector) return false;
  const pods = await Api.namespaced(ctx.transport, Pods, swh.metadata.namespace ?? "").list({
    labelSelector: selector,
    limit: 1,
    resourceVersion: "0",
    signal,
  });
  return pods.items.length > 0;
}

/**
 * The runtime schema's verdict on an SWH's spec (crds/validate.ts), computed once per generation: `invalid`
 * says why it cannot be used (admission runs the same rules; this catches what slips through: an older CRD, a
 * pattern the apiserver's RE2 reads differently from JavaScript), and `defaultsMissing` that a valid spec was
 * stored without defaults the schema applies (an older CRD), so agents must not take it as stored.
 */
function specVerdict(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
): { invalid?: string; defaultsMissing: boolean } {
  const key = swhKey(swh.metadata.namespace ?? "", swh.metadata.name ?? "");
  const of = `${swh.metadata.uid}/${swh.metadata.generation}`;
  let cached = ctx.validity.get(key);
  if (cached?.of !== of) {
    const result = validateSwh({ ...swh, status: undefined });
    cached = {
      of,
      verdict: result.ok ? "" : `spec refused by the programs: ${formatSwhErrors(result.errors)}`,
      defaultsMissing: result.ok && !sameAsParsed(swh.spec, result.value.spec),
    };
    ctx.validity.set(key, cached);
  }
  return { invalid: cached.verdict || undefined, defaultsMissing: cached.defaultsMissing };
}

/** The earlier of two requeue actions. */
function soonest(a: Action, b: Action): Action {
  if (a.requeueAfterMs === undefined) return b;
  if (b.requeueAfterMs === undefined) return a;
  return a.requeueAfterMs <= b.requeueAfterMs ? a : b;
}

/** The AgentsReporting condition: do the agents of every node with this SWH's pods renew their heartbeat? */
function agentsVerdict(ctx: ReconcileContext, swh: ServiceWithHealthchecks): ConditionVerdict {
  const key = `${swh.metadata.namespace}/${swh.metadata.name}`;
  const nodes = new Set([
    ...ctx.slicesBySwh.get(key).map((s) => sliceNode(s) ?? ""),
    ...ctx.reportsBySwh.get(key).map((r) => r.node),
  ].filter(Boolean));
  const stale = [...nodes].filter((n) => ctx.liveness.stale(n)).sort();
  if (stale.length === 0) {
    return {
      status: "True",
      reason: "AgentsReporting",
      message: `the agents of ${nodes.size} node(s) report`,
    };
  }
  return {
    status: "False",
    reason: "AgentNotReporting",
    message:
      stale.map((n) =>
        `the agent of node ${n} has not renewed its heartbeat for ${ctx.liveness.silentSeconds(n)} s`
      )
        .join("; ") +
      ": its endpoints are checked against the pod objects only (gone, not running or " +
      "re-addressed pods are withdrawn; the rest stay as last probed)",
  };
}

/** The pods of an SWH as its agents' slices and reports show them. */
export function endpointView(ctx: ReconcileContext, swh: ServiceWithHealthchecks): EndpointView {
  const key = `${swh.metadata.namespace}/${swh.metadata.name}`;
  return aggregateEndpoints(
    swh,
    ctx.slicesBySwh.get(key),
    ctx.reportsBySwh.get(key),
    swh.status?.endpoints,
    ctx.now(),
  );
}

/** The Service as stored, and whether an adoption is still waiting to remove the old selector. */
interface AppliedService {
  service: IService | undefined;
  handingOver: boolean;
}

/** Applies the desired Service when it would change anything; returns the Service as stored. */
async function applyService(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  desired: ReturnType<typeof desiredService>,
  observed: IService | undefined,
  ownership: ReturnType<typeof serviceOwnership>,
  log: Logger,
  signal: AbortSignal,
): Promise<AppliedService> {
  const { namespace = "", name = "" } = swh.metadata;
  const services = Api.namespaced(ctx.transport, Services, namespace);
  let stored = observed;
  if (
    applyWouldChange(observed, desired, { manager: CONTROLLER_FIELD_MANAGER, listKeys: SERVICE_LIST_KEYS })
  ) {
    if (ownership === "absent") {
      // Create only: a plain apply would patch a Service someone made since our cache last saw none, and so
      // take it over; a create-only apply fails on it (409: retried once the cache has caught up). One request
      // that leaves our fields owned as applied, so a field dropped from the SWH later is dropped from the
      // Service (a POST needed a second write to claim them, and each write reaches every agent).
      stored = await services.apply(createOnly(desired), {
        fieldManager: CONTROLLER_FIELD_MANAGER,
        force: true,
        signal,
      });
    } else {
      // The uid is a precondition: if the Service we saw was replaced meanwhile, the apply fails (422) instead of
      // changing the newcomer. force: the controller is the authority on the fields it sends.
      stored = await services.apply({
        ...desired,
        metadata: { ...desired.metadata, uid: observed?.metadata?.uid },
      }, {
        fieldManager: CONTROLLER_FIELD_MANAGER,
        force: true,
        signal,
      }).catch((err) => {
        // Not a verdict on our Service: the cache is behind a replacement. Retry once it has caught up.
        if (isApiError(err, 422) && /metadata\.uid/.test(err.message)) {
          throw new ReconcileError(`apply Service ${namespace}/${name}`, err);
        }
        throw err;
      });
    }
    const reason = ownership === "absent"
      ? "ServiceCreated"
      : ownership === "foreign"
      ? "ServiceAdopted"
      : "ServiceUpdated";
    const verb = { ServiceCreated: "created", ServiceAdopted: "adopted", ServiceUpdated: "updated" }[reason];
    log.info(`${verb} Service`, { clusterIP: stored.spec?.clusterIP });
    ctx.events.record(
      subject(swh),
      "Normal",
      reason,
      `${verb} Service ${namespace}/${name}` +
        (reason === "ServiceAdopted" ? ` keeping cluster IP ${stored.spec?.clusterIP}` : ""),
    );
  }
  if (stored?.spec?.selector && Object.keys(stored.spec.selector).length > 0) {
    // Hand-over of an adopted Service. Apply cannot remove a field it does not own, so the previous
    // manager's selector stays — and with it the built-in endpoints — until the agents have published a
    // verified endpoint: traffic through the ClusterIP never meets an empty Service during a migration.
    if (endpointView(ctx, swh).ready === 0) {
      log.info("adopted Service keeps its selector until an endpoint passes its probes");
      return { service: stored, handingOver: true };
    }
    stored = await services.patch(name, { type: "merge", body: handOverPatch(stored) }, {
      fieldManager: CONTROLLER_FIELD_MANAGER,
      signal,
    });
    log.info("removed the selector of the Service");
    await deleteBuiltInEndpoints(ctx, namespace, name, log, signal);
  }
  return { service: stored, handingOver: false };
}

/**
 * The built-in controllers do not clean up after a Service loses its selector: the endpoints controller
 * leaves its Endpoints object (which the mirroring controller then copies into a slice) and the EndpointSlice
 * controller leaves its slices. Stale, they would keep every pod in the Service, so they are deleted once.
 */
async function deleteBuiltInEndpoints(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const slices = Api.namespaced(ctx.transport, EndpointSlices, namespace);
  const builtIn = await slices.list({
    labelSelector: builtInSlicesSelector(name),
    signal,
  });
  for (const slice of builtIn.items) {
    await slices.delete(slice.metadata?.name ?? "", { signal }).catch((err) => {
      if (!isApiError(err, 404)) throw err;
    });
  }
  await Api.namespaced(ctx.transport, Endpoints, namespace).delete(name, { signal }).catch((err) => {
    if (!isApiError(err, 404)) throw err;
  });
  log.info("deleted the built-in endpoints left by the Service's selector", { slices: builtIn.items.length });
}
