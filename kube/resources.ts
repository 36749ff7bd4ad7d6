/**
 * Descriptors of Kubernetes resources (group, version, plural, scope) tied to their TypeScript object types.
 *
 * @module
 */
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import type { IListMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ListMeta";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IService } from "kubernetes-models/v1/Service";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { INode } from "kubernetes-models/v1/Node";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IEvent } from "kubernetes-models/v1/Event";
import type { IEndpoints } from "kubernetes-models/v1/Endpoints";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";

/** `meta/v1 ObjectMeta`. */
export type ObjectMeta = IObjectMeta;
/** `meta/v1 ListMeta` (resourceVersion, continue, remainingItemCount). */
export type ListMeta = IListMeta;

/** The shape every Kubernetes object shares. */
export interface KubeObject {
  /** `group/version` or `v1`. */
  apiVersion?: string;
  /** Kind, e.g. `Pod`. */
  kind?: string;
  /** Standard object metadata. */
  metadata?: ObjectMeta;
}

/**
 * `meta.k8s.io/v1 PartialObjectMetadata`: an object reduced to its metadata, as the apiserver serves it to a
 * request with `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1` (see `Api.metadata()`).
 * `metadata` is complete: labels, annotations, generation, resourceVersion, uid, finalizers, ownerReferences,
 * deletionTimestamp, managedFields.
 */
export type PartialObjectMetadata = KubeObject;

/** A list response. */
export interface ObjectList<T> {
  /** `group/version` of the list. */
  apiVersion?: string;
  /** e.g. `PodList`. */
  kind?: string;
  /** resourceVersion of the snapshot and the `continue` token of the next page. */
  metadata: ListMeta;
  /** The objects of this page. */
  items: T[];
}

/**
 * Addresses one resource of the API. `T` is the object type the caller gets back; it is a phantom type:
 * nothing checks at runtime that the server's objects match it.
 */
export interface ResourceType<T extends KubeObject = KubeObject> {
  /** API group, `""` for core. */
  readonly group: string;
  /** API version, e.g. `v1`. */
  readonly version: string;
  /** Plural resource name used in URLs, e.g. `pods`. */
  readonly plural: string;
  /** Kind, e.g. `Pod` (filled into applied objects that omit it). */
  readonly kind: string;
  /** Whether objects live in a namespace. */
  readonly namespaced: boolean;
  /** Phantom marker carrying `T`; never set. */
  readonly __type?: (t: T) => T;
}

/** Declares a resource; use it for custom resources, e.g. `resourceType<MySwh>({ group: "network.deckhouse.io", … })`. */
export function resourceType<T extends KubeObject>(def: {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}): ResourceType<T> {
  return Object.freeze({ ...def });
}

/** `apiVersion` string of a resource type (`v1` or `group/version`). */
export function apiVersionOf<T extends KubeObject>(type: ResourceType<T>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** core/v1 Pods. */
export const Pods: ResourceType<IPod> = resourceType<IPod>({
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
});
/** core/v1 Services. */
export const Services: ResourceType<IService> = resourceType<IService>({
  group: "",
  version: "v1",
  plural: "services",
  kind: "Service",
  namespaced: true,
});
/** core/v1 Secrets. */
export const Secrets: ResourceType<ISecret> = resourceType<ISecret>({
  group: "",
  version: "v1",
  plural: "secrets",
  kind: "Secret",
  namespaced: true,
});
/** core/v1 ConfigMaps. */
export const ConfigMaps: ResourceType<IConfigMap> = resourceType<IConfigMap>({
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
});
/** core/v1 ServiceAccounts. */
export const ServiceAccounts: ResourceType<IServiceAccount> = resourceType<IServiceAccount>({
  group: "",
  version: "v1",
  plural: "serviceaccounts",
  kind: "ServiceAccount",
  namespaced: true,
});
/** core/v1 Nodes (cluster-scoped). */
export const Nodes: ResourceType<INode> = resourceType<INode>({
  group: "",
  version: "v1",
  plural: "nodes",
  kind: "Node",
  namespaced: false,
});
/** core/v1 Namespaces (cluster-scoped). */
export const Namespaces: ResourceType<INamespace> = resourceType<INamespace>({
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
});
/** core/v1 Events. */
export const Events: ResourceType<IEvent> = resourceType<IEvent>({
  group: "",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
});
/** core/v1 Endpoints (deprecated; still written by the built-in endpoints controller). */
export const Endpoints: ResourceType<IEndpoints> = resourceType<IEndpoints>({
  group: "",
  version: "v1",
  plural: "endpoints",
  kind: "Endpoints",
  namespaced: true,
});
/** discovery.k8s.io/v1 EndpointSlices. */
export const EndpointSlices: ResourceType<IEndpointSlice> = resourceType<IEndpointSlice>({
  group: "discovery.k8s.io",
  version: "v1",
  plural: "endpointslices",
  kind: "EndpointSlice",
  namespaced: true,
});
/** coordination.k8s.io/v1 Leases. */
export const Leases: ResourceType<ILease> = resourceType<ILease>({
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
});
