/**
 * Everything the CLI shows about one ServiceWithHealthchecks, read from the cluster in one go: the SWH, its
 * Service, the pods of its namespace, its EndpointSlices, the agents' node reports about it, and the Events
 * recorded about it. The views (explain.ts, status.ts) are pure functions of a snapshot.
 *
 * @module
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { IEvent } from "kubernetes-models/v1/Event";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IService } from "kubernetes-models/v1/Service";
import { SERVICE_NAME_LABEL } from "../crds/conventions.ts";
import type { SwhNodeReport } from "../crds/report.ts";
import { ReportResource, SwhResource } from "../crds/resource.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { Api, EndpointSlices, Events, Pods, Services } from "../kube/mod.ts";
import type { KubeTransport } from "../kube/mod.ts";

/** The objects about one SWH. */
export interface SwhSnapshot {
  readonly swh: ServiceWithHealthchecks;
  /** Its Service, when it exists. */
  readonly service?: IService;
  /** Every pod of the SWH's namespace (the views apply the selector). */
  readonly pods: readonly IPod[];
  /** Its EndpointSlices. */
  readonly slices: readonly IEndpointSlice[];
  /** The node reports about it; undefined when the operator namespace could not be read. */
  readonly reports?: readonly SwhNodeReport[];
  /** Why the reports are missing (e.g. forbidden), when they are. */
  readonly reportsError?: string;
  /** Events about the SWH, oldest first; undefined when they could not be read. */
  readonly events?: readonly IEvent[];
}

/** What to read. */
export interface SnapshotOptions {
  /** Namespace of the operator's node reports. */
  readonly operatorNamespace: string;
  /** Also read the Service and the Events (status does; explain does not need them). */
  readonly withServiceAndEvents?: boolean;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** When an Event last happened (events.k8s.io fields first, then core/v1's). */
export function eventTime(event: IEvent): string | undefined {
  return (event.series?.lastObservedTime ?? event.lastTimestamp ?? event.eventTime ??
    event.metadata?.creationTimestamp) as string | undefined;
}

/**
 * Reads the snapshot of SWH `namespace/name`. A missing SWH throws (the kube client's 404 error); the node
 * reports and Events are optional reading — a user without access to the operator namespace still gets the rest.
 */
export async function readSnapshot(
  transport: KubeTransport,
  namespace: string,
  name: string,
  options: SnapshotOptions,
): Promise<SwhSnapshot> {
  const swh = await Api.namespaced(transport, SwhResource, namespace).get(name);
  const [pods, slices, reports, service, events] = await Promise.all([
    Api.namespaced(transport, Pods, namespace).list(),
    Api.namespaced(transport, EndpointSlices, namespace).list({
      labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
    }),
    Api.namespaced(transport, ReportResource, options.operatorNamespace).list().then(
      (list) => ({ items: list.items.filter((r) => r.swh.namespace === namespace && r.swh.name === name) }),
      (error) => ({ error: message(error) }),
    ),
    options.withServiceAndEvents ? Api.namespaced(transport, Services, namespace).getOpt(name) : undefined,
    options.withServiceAndEvents
      ? Api.namespaced(transport, Events, namespace).list({
        fieldSelector: `involvedObject.name=${name},involvedObject.kind=${swh.kind}`,
      }).then((list) => list.items, () => undefined)
      : undefined,
  ]);
  return {
    swh,
    service,
    pods: pods.items,
    slices: slices.items,
    ...("items" in reports ? { reports: reports.items } : { reportsError: reports.error }),
    events: events?.slice().sort((a, b) => (eventTime(a) ?? "").localeCompare(eventTime(b) ?? "")),
  };
}
