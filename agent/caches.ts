/**
 * The agent's caches: what it lists and watches, and the compact form each object is kept in.
 *
 * Two rules from measuring a 100-node fleet: an agent never watches what other agents write (its slices and
 * reports are selected by its own node label) nor what the controller writes about them (SWH status), and a
 * cache keeps only the fields a reconcile reads (no managedFields, no pod spec beyond ports, no SWH status).
 * SWHs are not watched at all: the controller notes each SWH's selector and generation on its Service, which
 * agents watch as metadata, and an agent fetches the spec of the SWHs whose note selects a pod on its node (or
 * that it holds a slice or report of) when the noted generation is newer than the one it holds (see
 * swh_specs.ts). In a burst of new SWHs each agent reads the few that concern it, and the controller's status
 * writes reach no agent.
 *
 * RBAC: get servicewithhealthchecks (cluster-wide), list/watch pods (`spec.nodeName=<node>`), endpointslices (our
 * labels), services (metadata), its own node; in the operator namespace list/watch secrets (mirrored
 * credentials) and node reports.
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
  nodeLabelValue,
  reportName,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_NAME_LABEL,
  SERVICE_NOTE_ANNOTATIONS,
  SERVICE_SELECTOR_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
  sliceNode,
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
import type { SharedInformer } from "../kube/store.ts";
import { SwhSpecs } from "./swh_specs.ts";
import type { SwhTarget } from "./swh_specs.ts";

/**
 * A ServiceWithHealthchecks as the agent caches it: metadata and spec, typed on use — taken as stored at the
 * generation the controller accepted, validated here only where no note vouches for it (spec_acceptance.ts).
 */
export type SwhObject = KubeObject & { spec?: unknown };

/** The ServiceWithHealthchecks resource, typed loosely here: the reconcile decides how to take each object. */
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
 * Keeps who owns a Service (its ServiceWithHealthchecks owners) and the notes the controller put on it (the SWH's
 * selector and generation): all the agent asks of Services.
 */
export function serviceOwners(svc: PartialObjectMetadata): PartialObjectMetadata {
  const m = svc.metadata ?? {};
  const owners = (m.ownerReferences ?? []).filter((o) => o.kind === SWH_KIND);
  const notes = owners.length
    ? Object.fromEntries(
      SERVICE_NOTE_ANNOTATIONS.flatMap((key) =>
        m.annotations?.[key] !== undefined ? [[key, m.annotations[key]]] : []
      ),
    )
    : {};
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(owners.length ? { ownerReferences: owners } : {}),
      ...(Object.keys(notes).length ? { annotations: notes } : {}),
    },
  } as PartialObjectMetadata;
}

/** What an SWH's Service says of it: see {@link serviceNote}. */
export interface ServiceNote extends SwhTarget {
  /** The stored SWH lacks defaults of the programs' schema (an older CRD): validate it, do not take it as stored. */
  defaultsMissing?: true;
}

/**
 * What Service `service` (as cached by {@link serviceOwners}) says of the SWH of its name: the uid of that SWH,
 * its owner, and the generation the controller noted when it last applied the Service — the newest generation
 * the controller validated and accepted (it does not apply an invalid spec). Undefined when the Service belongs
 * to no SWH of its name; no generation without a usable note (an older controller, a garbled note).
 */
export function serviceNote(service: PartialObjectMetadata | undefined): ServiceNote | undefined {
  const m = service?.metadata;
  const owner = (m?.ownerReferences ?? []).find((o) => o.kind === SWH_KIND && o.name === m?.name);
  if (!m || !owner) return undefined;
  const generation = Number(m.annotations?.[SERVICE_GENERATION_ANNOTATION]);
  return {
    uid: owner.uid,
    ...(Number.isSafeInteger(generation) && generation > 0 ? { generation } : {}),
    ...(m.annotations?.[SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION] === "true"
      ? { defaultsMissing: true }
      : {}),
  };
}

/**
 * Which state of the SWH behind Service `service` (as cached by {@link serviceOwners}) this node's agent needs,
 * or undefined when it needs none. None when the Service belongs to no SWH of its name (no Service yet, or a
 * foreign one: agents publish only through their SWH's own Service). Else the SWH at the generation the
 * controller noted (any, without the note: an older controller) when the agent `holds` a slice or report of it
 * (the spec then decides whether they stay; asked only of an SWH's Service), or when the selector noted on the
 * Service selects one of `pods` on `node` — or when the note is missing or does not parse: then the spec
 * decides, as before notes existed.
 */
export function swhTarget(
  service: PartialObjectMetadata | undefined,
  pods: readonly IPod[],
  node: string,
  holds: () => boolean,
): SwhTarget | undefined {
  const m = service?.metadata;
  const owner = serviceNote(service);
  if (!m || !owner) return undefined;
  const target: SwhTarget = { uid: owner.uid, ...(owner.generation ? { generation: owner.generation } : {}) };
  if (holds()) return target;
  const note = m.annotations?.[SERVICE_SELECTOR_ANNOTATION];
  if (note === undefined) return target;
  let selector: unknown;
  try {
    selector = JSON.parse(note);
  } catch {
    return target;
  }
  return unvalidatedSelectorMaySelect(m.namespace, selector, pods, node) ? target : undefined;
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
   * The ServiceWithHealthchecks that concern this node (see {@link swhTarget}), metadata and spec, fetched as
   * their Services' notes ask: reconsidered when a Service or a pod changes.
   */
  readonly swhs: SwhSpecs;
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
  /** Whether the informers SWHs are decided from hold their initial lists (decisions before that are moot). */
  #deciding = false;

  /**
   * Builds stopped informers; `onError(resource)` receives their recovered errors, `onReceive(resource)` every
   * watch event they receive (what other components' writes cost this agent).
   */
  constructor(
    transport: KubeTransport,
    node: string,
    operatorNamespace: string,
    hooks: {
      onError: (resource: string) => (info: { error: unknown; action: string }) => void;
      onReceive: (resource: string) => (received: WatchReceived) => void;
      onFetch?: (info: { found: boolean }) => void;
    },
  ) {
    this.#node = node;
    this.#operatorNamespace = operatorNamespace;
    // Two node names longer than a label value can share one (see nodeLabelValue): the annotation and the
    // report's node tell them apart.
    const own = `${NODE_LABEL}=${nodeLabelValue(node)}`;
    const opts = (resource: string) => ({
      onError: hooks.onError(resource),
      onReceive: hooks.onReceive(resource),
    });
    this.swhs = new SwhSpecs(
      Api.all(transport, LooseSwhResource),
      {
        transform: compactSwh,
        onFetch: hooks.onFetch,
        onError: ({ error }) => hooks.onError(SWH_PLURAL)({ error, action: "fetch" }),
      },
      (error) => hooks.onError(SWH_PLURAL)({ error, action: "handler" }),
    );
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
      accept: (slice) => sliceNode(slice) === node,
      ...opts("endpointslices"),
    });
    this.reports = new Informer(Api.namespaced(transport, ReportResource, operatorNamespace), {
      labelSelector: own,
      transform: stripManagedFields,
      accept: (report) => report.node === node,
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
   * Decides again whether this node needs the SWH behind Service `namespace/name` (see {@link swhTarget}), and
   * fetches or forgets it accordingly. Asked when the Service changes, and for every Service of a namespace when
   * a pod in it changes.
   */
  reconsider(namespace: string, name: string): void {
    this.#decide(namespace, name, this.pods.list());
  }

  /** {@link reconsider} for every Service in `namespace` that belongs to an SWH (a pod there changed). */
  reconsiderNamespace(namespace: string | undefined): void {
    this.#reconsiderServices((ns) => ns === namespace);
  }

  /** {@link reconsider} for every Service that belongs to an SWH and whose namespace `inScope` accepts. */
  #reconsiderServices(inScope: (namespace: string) => boolean): void {
    const pods = this.pods.list();
    for (const svc of this.services.list()) {
      const { namespace, name, ownerReferences } = svc.metadata ?? {};
      if (namespace && name && ownerReferences?.length && inScope(namespace)) {
        this.#decide(namespace, name, pods);
      }
    }
  }

  /** Fetches or forgets the SWH behind Service `namespace/name`, as {@link swhTarget} decides from `pods`. */
  #decide(namespace: string, name: string, pods: readonly IPod[]): void {
    if (!this.#deciding) return;
    const target = swhTarget(
      this.services.get(namespace, name),
      pods,
      this.#node,
      () => this.#holdsAnything(namespace, name),
    );
    if (target) this.swhs.want(namespace, name, target);
    else this.swhs.forget(namespace, name);
  }

  /** Whether this node's agent holds a slice or a report of SWH `namespace/name`: then its spec is wanted. */
  #holdsAnything(namespace: string, name: string): boolean {
    if (this.reports.get(this.#operatorNamespace, reportName(namespace, name, this.#node))) return true;
    return this.slices.list().some((s) =>
      s.metadata?.namespace === namespace && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name
    );
  }

  /**
   * Lists and watches until `signal` aborts; resolves when every informer has stopped. SWHs are fetched once
   * the other informers hold their lists (what an agent needs reads them all), and `synced` waits for those
   * first fetches: an agent restarted in a big cluster holds its own SWHs before its first reconcile.
   */
  start(signal: AbortSignal): Promise<unknown> {
    const others = this.#all().filter((i) => i !== this.swhs);
    const running = others.map((i) => i.start(signal));
    const swhs = Promise.all(others.map((i) => i.synced)).then(() => {
      this.#deciding = true;
      this.#reconsiderServices(() => true);
      return this.swhs.start(signal);
    });
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
