/**
 * The agent's caches: what it lists and watches, and the compact form each object is kept in.
 *
 * Two rules from measuring a 100-node fleet: an agent never watches what other agents write (its slices and
 * reports are selected by its own node label; SWH status is written by the controller alone), and a cache keeps
 * only the fields a reconcile reads (no managedFields, no pod spec beyond ports, no SWH status). SWHs are
 * watched as metadata only and fetched again when their generation changes: the controller's status writes
 * cost each agent a few hundred bytes and no reconcile. An SWH is fetched at all only once its Service exists
 * and the selector the controller noted on it selects a pod on this node, or it holds a slice or report of it:
 * in a burst of new SWHs, each agent reads the few that concern it, not all of them, and an agent (re)starting
 * in a big cluster keeps the rest of its list as metadata.
 *
 * RBAC: get/list/watch servicewithhealthchecks (cluster-wide), pods (`spec.nodeName=<node>`), endpointslices (our
 * labels), services (metadata), its own node; in the operator namespace list/watch secrets (mirrored credentials)
 * and node reports.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ISecret } from "kubernetes-models/v1/Secret";
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MIRRORED_SECRET_LABEL,
  NODE_LABEL,
  reportName,
  SERVICE_NAME_LABEL,
  SERVICE_SELECTOR_ANNOTATION,
} from "../crds/conventions.ts";
import { unvalidatedSelectorMaySelect } from "./endpoints.ts";
import { ReportResource, SwhResource } from "../crds/resource.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import { SWH_KIND, SWH_PLURAL } from "../crds/names.ts";
import {
  Api,
  EndpointSlices,
  Informer,
  Nodes,
  Pods,
  Secrets,
  Services,
  stripManagedFields,
} from "../kube/mod.ts";
import type { INode } from "kubernetes-models/v1/Node";
import type {
  KubeObject,
  KubeTransport,
  PartialObjectMetadata,
  ResourceType,
  WatchReceived,
} from "../kube/mod.ts";
import { MetadataWatchInformer } from "../kube/metadata_informer.ts";
import type { FetchInfo, MetadataWatchInformerError } from "../kube/metadata_informer.ts";
import type { SharedInformer } from "../kube/store.ts";

/** A ServiceWithHealthchecks as the agent caches it: metadata and spec, validated and defaulted on use. */
export type SwhObject = KubeObject & { spec?: unknown };

/** The ServiceWithHealthchecks resource, typed loosely here: the agent validates each object on use. */
const LooseSwhResource = SwhResource as unknown as ResourceType<SwhObject>;

/** Keeps what selecting and probing a pod reads (selectEndpoints, resolvePort): a tenth of a full pod. */
export function compactPod(pod: IPod): IPod {
  const m = pod.metadata ?? {};
  const ports = (c: { name: string; ports?: NonNullable<IPod["spec"]>["containers"][number]["ports"] }) => ({
    name: c.name,
    ...(c.ports?.length ? { ports: c.ports.map((p) => ({ ...p })) } : {}),
  });
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      ...(pod.spec?.hostname ? { hostname: pod.spec.hostname } : {}),
      ...(pod.spec?.subdomain ? { subdomain: pod.spec.subdomain } : {}),
      containers: (pod.spec?.containers ?? []).map(ports),
      ...(sidecars.length
        ? { initContainers: sidecars.map((c) => ({ ...ports(c), restartPolicy: "Always" })) }
        : {}),
    },
    status: {
      phase: pod.status?.phase,
      ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
      ...(pod.status?.podIPs ? { podIPs: pod.status.podIPs.map((p) => ({ ip: p.ip })) } : {}),
    },
  };
}

/** Keeps metadata (without managedFields) and spec: the controller's status is not the agent's business. */
export function compactSwh(swh: SwhObject): SwhObject {
  const { managedFields: _, ...metadata } = swh.metadata ?? {};
  return { apiVersion: swh.apiVersion, kind: swh.kind, metadata, spec: swh.spec };
}

/**
 * Keeps who owns a Service (its ServiceWithHealthchecks owners) and the selector the controller noted on it: all
 * the agent asks of Services.
 */
export function serviceOwners(svc: PartialObjectMetadata): PartialObjectMetadata {
  const m = svc.metadata ?? {};
  const owners = (m.ownerReferences ?? []).filter((o) => o.kind === SWH_KIND);
  const selector = owners.length ? m.annotations?.[SERVICE_SELECTOR_ANNOTATION] : undefined;
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(owners.length ? { ownerReferences: owners } : {}),
      ...(selector !== undefined ? { annotations: { [SERVICE_SELECTOR_ANNOTATION]: selector } } : {}),
    },
  } as PartialObjectMetadata;
}

/**
 * Whether this node's agent needs the spec of SWH `swh` (its metadata) now, from its Service as cached by
 * {@link serviceOwners}: not before the Service exists (agents publish only through it; its creation asks
 * again), and not when the selector the controller noted on it selects none of `pods` on `node` (a pod event
 * asks again). Anything else — a Service the SWH does not own, one without the note (an older controller), a
 * note that does not parse — answers yes: then the spec decides, as it did before the note existed.
 */
export function worthFetching(
  swh: PartialObjectMetadata,
  service: PartialObjectMetadata | undefined,
  pods: readonly IPod[],
  node: string,
): boolean {
  if (!service) return false;
  const uid = swh.metadata?.uid;
  if (!(service.metadata?.ownerReferences ?? []).some((o) => o.uid === uid)) return true;
  const note = service.metadata?.annotations?.[SERVICE_SELECTOR_ANNOTATION];
  if (note === undefined) return true;
  let selector: unknown;
  try {
    selector = JSON.parse(note);
  } catch {
    return true;
  }
  return unvalidatedSelectorMaySelect(swh.metadata?.namespace, selector, pods, node);
}

/** Kubernetes' well-known zone label of nodes. */
export const ZONE_LABEL = "topology.kubernetes.io/zone";

/**
 * Page size of the cluster-wide lists (SWHs, Services). Pages are compacted as they arrive, so a page is what an
 * agent holds raw at once, and V8 and malloc keep what such a burst made them reserve: in a 10-node fleet with
 * 1,000 SWHs, an agent restarted after them settled 21 MiB above its peers (105 vs 84 MiB) with whole lists of
 * 500-object pages compacted at the end, 10 MiB above (94) with 100-object pages compacted as they arrive.
 */
const CLUSTER_WIDE_PAGE_SIZE = 100;

/** The agent's informers, built and started together. */
export class AgentCaches {
  /**
   * Every ServiceWithHealthchecks: metadata and spec of those that may select a pod on this node, metadata alone
   * of the rest (see {@link worthFetching}; `recheck` when the Service or the pods change).
   */
  readonly swhs: MetadataWatchInformer<SwhObject>;
  /** Pods scheduled on this node. */
  readonly pods: Informer<IPod>;
  /** Mirrored credentials in the operator namespace. */
  readonly secrets: Informer<ISecret>;
  /** EndpointSlices this node's agent owns. */
  readonly slices: Informer<IEndpointSlice>;
  /** Node reports this node's agent owns. */
  readonly reports: Informer<SwhNodeReport>;
  /**
   * Every Service, metadata only, reduced to its SWH owners: a slice may name a Service only when that Service
   * belongs to the SWH (else kube-proxy would send a foreign Service's traffic to the SWH's pods).
   */
  readonly services: Informer<PartialObjectMetadata>;
  /** This node's Node object, labels only (its zone goes into the slices). */
  readonly node: Informer<INode>;
  readonly #node: string;
  readonly #operatorNamespace: string;

  /**
   * Builds stopped informers; `onError(resource)` receives their recovered errors, `onReceive(resource)` every
   * watch event they receive (what other components' writes cost this agent).
   */
  constructor(
    transport: KubeTransport,
    node: string,
    operatorNamespace: string,
    hooks: {
      onError: (resource: string) => (info: MetadataWatchInformerError) => void;
      onReceive: (resource: string) => (received: WatchReceived) => void;
      onFetch?: (info: FetchInfo) => void;
    },
  ) {
    this.#node = node;
    this.#operatorNamespace = operatorNamespace;
    const own = `${NODE_LABEL}=${node}`;
    const opts = (resource: string) => ({
      onError: hooks.onError(resource),
      onReceive: hooks.onReceive(resource),
    });
    this.swhs = new MetadataWatchInformer(Api.all(transport, LooseSwhResource), {
      transform: compactSwh,
      pageSize: CLUSTER_WIDE_PAGE_SIZE,
      onFetch: hooks.onFetch,
      // Most SWHs of a fleet have no pod on a given node: their spec is fetched only once they may have one.
      fetchWhen: (meta) =>
        this.#holdsAnything(meta) ||
        worthFetching(
          meta,
          this.services.get(meta.metadata?.namespace, meta.metadata?.name ?? ""),
          this.pods.list(),
          node,
        ),
      ...opts(SWH_PLURAL),
    });
    this.pods = new Informer(Api.all(transport, Pods), {
      fieldSelector: `spec.nodeName=${node}`,
      transform: compactPod,
      ...opts("pods"),
    });
    this.secrets = new Informer(Api.namespaced(transport, Secrets, operatorNamespace), {
      labelSelector: MIRRORED_SECRET_LABEL,
      transform: stripManagedFields,
      ...opts("secrets"),
    });
    this.slices = new Informer(Api.all(transport, EndpointSlices), {
      labelSelector: `${own},${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      transform: stripManagedFields,
      ...opts("endpointslices"),
    });
    this.reports = new Informer(Api.namespaced(transport, ReportResource, operatorNamespace), {
      labelSelector: own,
      transform: stripManagedFields,
      ...opts("reports"),
    });
    this.services = new Informer(Api.all(transport, Services).metadata(), {
      transform: serviceOwners,
      pageSize: CLUSTER_WIDE_PAGE_SIZE,
      ...opts("services"),
    });
    this.node = new Informer(Api.cluster(transport, Nodes), {
      fieldSelector: `metadata.name=${node}`,
      // Kubelets rewrite node status every few seconds: only the labels are kept (and compared).
      transform: (n) =>
        ({
          metadata: {
            name: n.metadata?.name,
            resourceVersion: n.metadata?.resourceVersion,
            labels: n.metadata?.labels,
          },
        }) as INode,
      ...opts("nodes"),
    });
  }

  /** Every informer with its resource name (readiness). */
  named(): [string, SharedInformer<KubeObject>][] {
    return [
      [SWH_PLURAL, this.swhs],
      ["pods", this.pods],
      ["secrets", this.secrets],
      ["endpointslices", this.slices],
      ["reports", this.reports],
      ["services", this.services],
      ["nodes", this.node],
    ] as [string, SharedInformer<KubeObject>][];
  }

  #all(): SharedInformer<KubeObject>[] {
    return this.named().map(([, i]) => i);
  }

  /**
   * Whether this node's agent holds a slice or a report of SWH `meta` (as listed): then its spec is wanted, so
   * that the reconcile keeps or withdraws them by the spec itself, whatever the Service's note says.
   */
  #holdsAnything(meta: PartialObjectMetadata): boolean {
    const { namespace = "", name = "" } = meta.metadata ?? {};
    if (this.reports.get(this.#operatorNamespace, reportName(namespace, name, this.#node))) return true;
    return this.slices.list().some((s) =>
      s.metadata?.namespace === namespace && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name
    );
  }

  /**
   * Lists and watches until `signal` aborts; resolves when every informer has stopped. The SWHs are listed last:
   * the list keeps those {@link worthFetching} does not want as metadata, and that answer reads the other caches
   * (after an agent restart in a big cluster, an agent holds only its own SWHs in full, as after a cold start).
   */
  start(signal: AbortSignal): Promise<unknown> {
    const others = this.#all().filter((i) => i !== this.swhs);
    const running = others.map((i) => i.start(signal));
    const swhs = Promise.all(others.map((i) => i.synced)).then(() => this.swhs.start(signal));
    return Promise.all([...running, swhs]);
  }

  /** Resolves when every informer holds its initial list. */
  synced(): Promise<unknown> {
    return Promise.all(this.#all().map((i) => i.synced));
  }

  /** The resources whose initial list is still missing (for /readyz). */
  waitingFor(): string[] {
    return this.named().flatMap(([name, i]) => i.hasSynced ? [] : [name]);
  }
}
