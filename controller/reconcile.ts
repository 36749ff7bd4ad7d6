/** The reconcilers: one SWH → its Service, clean-up and status; all SWHs → the mirrored credentials. */
import type { IService } from "kubernetes-models/v1/Service";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { INode } from "kubernetes-models/v1/Node";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { KubeTransport, Store } from "../kube/mod.ts";
import { Api, Endpoints, EndpointSlices, isApiError, KubeApiError, Secrets, Services } from "../kube/mod.ts";
import type { EventRecorder } from "../kube/events.ts";
import { applyWouldChange } from "../kube/ssa.ts";
import type { Logger } from "../ops/log.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";
import {
  agentFieldManager,
  CONTROLLER_FIELD_MANAGER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MIRRORED_SECRET_LABEL,
  NODE_LABEL,
  SERVICE_NAME_LABEL,
} from "../crds/conventions.ts";
import { adoptionRequested, desiredService, SERVICE_LIST_KEYS, serviceOwnership } from "./desired_service.ts";
import { desiredStatus, STATUS_LIST_KEYS } from "./status.ts";
import type { ConditionVerdict } from "./status.ts";
import { credentialsVerdict, desiredMirroredSecrets } from "./credentials.ts";
import type { Action } from "../kube/workqueue.ts";

/** Everything a reconcile reads and writes through; built by the controller, replaceable in tests. */
export interface ReconcileContext {
  /** Caches (informer stores), synced before any reconcile runs. */
  swhs: Store<ServiceWithHealthchecks>;
  services: Store<IService>;
  secrets: Store<ISecret>;
  slices: Store<IEndpointSlice>;
  nodes: Store<INode>;
  /** The (instrumented) transport writes go through. */
  transport: KubeTransport;
  /** SWH API spanning all namespaces (its status applies name their namespace). */
  swhApi: Api<ServiceWithHealthchecks>;
  /** Events about SWHs. */
  events: EventRecorder;
  /** Where mirrored Secrets live. */
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

function subject(swh: ServiceWithHealthchecks) {
  return { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: swh.metadata };
}

/** The agent field-manager prefix, from the shared convention (`agentFieldManager("")`). */
const AGENT_MANAGER_PREFIX = agentFieldManager("");

/**
 * Brings one SWH's world in line: its Service (server-side apply, only when it would change; foreign
 * Services refused unless adoption is requested), leftovers of vanished nodes (EndpointSlices and status
 * entries), and the controller's status fields (only when they would change). Idempotent; never throws for
 * problems a retry cannot fix (they become conditions and Events).
 */
export async function reconcileSwh(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  signal: AbortSignal,
): Promise<Action> {
  let swh = ctx.swhs.get(namespace, name);
  const log = ctx.log.with({ object: `${namespace}/${name}`, kind: SWH_KIND });
  if (!swh || swh.metadata.deletionTimestamp) {
    ctx.rejected.delete(swhKey(namespace, name));
    await deleteOrphanSlices(ctx, namespace, name, swh, log, signal);
    return {};
  }
  let action: Action = {};

  // 1. The Service.
  let service = ctx.services.get(namespace, name);
  let serviceVerdict: ConditionVerdict;
  const ownership = serviceOwnership(swh, service);
  if (ownership === "foreign" && !adoptionRequested(swh)) {
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
    const key = swhKey(namespace, name);
    const desired = desiredService(swh);
    const body = JSON.stringify(desired);
    const rejected = ctx.rejected.get(key);
    if (rejected && rejected.body === body && ctx.now().getTime() < rejected.retryAt) {
      serviceVerdict = rejected.verdict;
      if (ownership !== "owned") service = undefined;
      action = { requeueAfterMs: rejected.retryAt - ctx.now().getTime() };
    } else {
      try {
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

  // 2. Credentials of PostgreSQL probes (the copies are made by the credentials reconcile).
  const credentials = credentialsVerdict(swh, (ns, n) => ctx.secrets.get(ns, n));
  if (credentials.status !== "True") {
    ctx.events.record(subject(swh), "Warning", credentials.reason, credentials.message);
  }

  // 3. Leftovers of nodes that no longer exist.
  await deleteSlicesOfVanishedNodes(ctx, swh, log, signal);
  swh = await removeStatusOfVanishedNodes(ctx, swh, log, signal);

  // 4. The controller's status fields.
  const status = desiredStatus(swh, {
    service: serviceVerdict,
    credentials,
    serviceObject: service,
    now: ctx.now(),
  });
  const body = { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: { name, namespace }, status };
  if (
    applyWouldChange(swh, body, {
      manager: CONTROLLER_FIELD_MANAGER,
      subresource: "status",
      listKeys: STATUS_LIST_KEYS,
    })
  ) {
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
  }
  return action;
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
  let stored = observed;
  if (
    applyWouldChange(observed, desired, { manager: CONTROLLER_FIELD_MANAGER, listKeys: SERVICE_LIST_KEYS })
  ) {
    // force: the controller is the authority on the fields it sends (kubectl edits are put back).
    stored = await Api.namespaced(ctx.transport, Services, namespace).apply(desired, {
      fieldManager: CONTROLLER_FIELD_MANAGER,
      force: true,
      signal,
    });
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
    if (!(swh.status?.endpoints ?? []).some((e) => e.ready)) {
      log.info("adopted Service keeps its selector until an endpoint passes its probes");
      return { service: stored, handingOver: true };
    }
    const services = Api.namespaced(ctx.transport, Services, namespace);
    stored = await services.patch(name, { type: "merge", body: { spec: { selector: null } } }, {
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
    labelSelector:
      `${SERVICE_NAME_LABEL}=${name},endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io`,
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

/** EndpointSlices carrying our labels for this SWH whose node is gone are deleted. */
async function deleteSlicesOfVanishedNodes(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const { namespace, name } = swh.metadata;
  for (const slice of ctx.slices.list()) {
    const labels = slice.metadata?.labels ?? {};
    if (slice.metadata?.namespace !== namespace || labels[SERVICE_NAME_LABEL] !== name) continue;
    const node = labels[NODE_LABEL];
    if (!node || ctx.nodes.get(undefined, node)) continue;
    await deleteSlice(ctx, slice, signal);
    log.info("deleted EndpointSlice of a vanished node", { slice: slice.metadata?.name, node });
    ctx.events.record(
      subject(swh),
      "Normal",
      "StaleEndpointSliceDeleted",
      `deleted EndpointSlice ${slice.metadata?.name}: node ${node} no longer exists`,
    );
  }
}

/**
 * Entries in `status.endpoints` written by agents of nodes that no longer exist are removed by applying an
 * empty status as that node's field manager: server-side apply then drops exactly the entries that manager
 * owned, and no other agent's entries. Returns the SWH as stored afterwards.
 */
async function removeStatusOfVanishedNodes(
  ctx: ReconcileContext,
  swh: ServiceWithHealthchecks,
  log: Logger,
  signal: AbortSignal,
): Promise<ServiceWithHealthchecks> {
  const { namespace, name } = swh.metadata;
  const managers = new Set<string>();
  for (const entry of swh.metadata.managedFields as { manager?: string; subresource?: string }[] ?? []) {
    if (entry.subresource !== "status" || !entry.manager?.startsWith(AGENT_MANAGER_PREFIX)) continue;
    const node = entry.manager.slice(AGENT_MANAGER_PREFIX.length);
    if (node && !ctx.nodes.get(undefined, node)) managers.add(entry.manager);
  }
  let current = swh;
  for (const manager of managers) {
    const node = manager.slice(AGENT_MANAGER_PREFIX.length);
    try {
      current = await ctx.swhApi.applyStatus(
        {
          apiVersion: SWH_API_VERSION,
          kind: SWH_KIND,
          metadata: { name, namespace },
        } as ServiceWithHealthchecks,
        { fieldManager: manager, force: true, signal },
      );
    } catch (err) {
      if (isApiError(err, 404)) return current;
      throw new ReconcileError(`remove status entries of node ${node} from ${namespace}/${name}`, err);
    }
    log.info("removed status entries of a vanished node", { node });
    ctx.events.record(
      subject(swh),
      "Normal",
      "StaleEndpointsRemoved",
      `removed the endpoint entries of node ${node}, which no longer exists`,
    );
  }
  return current;
}

/** Our EndpointSlices named after an SWH that no longer exists (ownerReference GC normally gets there first). */
async function deleteOrphanSlices(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  swh: ServiceWithHealthchecks | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  if (swh) return; // being deleted: GC removes dependents once finalizers are done
  for (const slice of ctx.slices.list()) {
    const labels = slice.metadata?.labels ?? {};
    if (slice.metadata?.namespace !== namespace || labels[SERVICE_NAME_LABEL] !== name) continue;
    await deleteSlice(ctx, slice, signal);
    log.info("deleted EndpointSlice of a deleted ServiceWithHealthchecks", { slice: slice.metadata?.name });
  }
}

async function deleteSlice(ctx: ReconcileContext, slice: IEndpointSlice, signal: AbortSignal): Promise<void> {
  const namespace = slice.metadata?.namespace ?? "";
  const sliceName = slice.metadata?.name ?? "";
  try {
    await Api.namespaced(ctx.transport, EndpointSlices, namespace).delete(sliceName, {
      preconditions: { uid: slice.metadata?.uid },
      signal,
    });
  } catch (err) {
    if (isApiError(err, 404) || isApiError(err, 409)) return; // gone already, or replaced by a new slice
    throw new ReconcileError(`delete EndpointSlice ${namespace}/${sliceName}`, err);
  }
}

/** Whether a Secret is one of our mirrored copies. */
export function isMirroredSecret(secret: ISecret, operatorNamespace: string): boolean {
  return secret.metadata?.namespace === operatorNamespace &&
    secret.metadata?.labels?.[MIRRORED_SECRET_LABEL] !== undefined;
}

/** Whether an EndpointSlice is one the agents manage. */
export function isAgentSlice(slice: IEndpointSlice): boolean {
  return slice.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/**
 * Makes the operator namespace hold exactly the copies {@link desiredMirroredSecrets} computes: applies new
 * or changed ones (only when they would change), deletes copies nobody references any more.
 */
export async function reconcileCredentials(ctx: ReconcileContext, signal: AbortSignal): Promise<Action> {
  const desired = desiredMirroredSecrets(
    ctx.swhs.list(),
    (ns, n) => ctx.secrets.get(ns, n),
    ctx.operatorNamespace,
  );
  const log = ctx.log.with({ kind: "Secret", namespace: ctx.operatorNamespace });
  for (const [name, secret] of desired) {
    const observed = ctx.secrets.get(ctx.operatorNamespace, name);
    if (!applyWouldChange(observed, secret, { manager: CONTROLLER_FIELD_MANAGER })) continue;
    try {
      await Api.namespaced(ctx.transport, Secrets, ctx.operatorNamespace).apply(secret, {
        fieldManager: CONTROLLER_FIELD_MANAGER,
        force: true,
        signal,
      });
    } catch (err) {
      throw new ReconcileError(`apply mirrored Secret ${ctx.operatorNamespace}/${name}`, err);
    }
    log.info(observed ? "updated mirrored credentials" : "mirrored credentials", {
      object: `${ctx.operatorNamespace}/${name}`,
      source: secret.metadata?.annotations,
    });
  }
  for (const secret of ctx.secrets.list()) {
    const name = secret.metadata?.name ?? "";
    if (!isMirroredSecret(secret, ctx.operatorNamespace) || desired.has(name)) continue;
    try {
      await Api.namespaced(ctx.transport, Secrets, ctx.operatorNamespace).delete(name, {
        preconditions: { uid: secret.metadata?.uid },
        signal,
      });
    } catch (err) {
      if (isApiError(err, 404) || isApiError(err, 409)) continue;
      throw new ReconcileError(`delete mirrored Secret ${ctx.operatorNamespace}/${name}`, err);
    }
    log.info("deleted mirrored credentials no ServiceWithHealthchecks references", {
      object: `${ctx.operatorNamespace}/${name}`,
    });
  }
  return {};
}
