/** The EndpointSlices one node's agent should own for one ServiceWithHealthchecks: a pure function. */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_ANNOTATION,
  NODE_LABEL,
  nodeLabelValue,
  SERVICE_NAME_LABEL,
  shortHash,
} from "../crds/conventions.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/names.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import type { AddressFamily, ResolvedPort, SelectedEndpoint } from "./endpoints.ts";

/** An EndpointSlice as the agent applies it (apiVersion, kind, metadata.name/namespace always set). */
export type SliceBody = IEndpointSlice & {
  metadata: { name: string; namespace: string };
  endpoints: NonNullable<IEndpointSlice["endpoints"]>;
};

/** The API's limit on endpoints per slice. */
export const MAX_ENDPOINTS_PER_SLICE = 1000;

/** Longest readable prefix of a slice name: 63 minus "-" and the 8-hex-digit hash. */
const NAME_PREFIX_MAX = 63 - 1 - 8;

/** Canonical text of a resolved port set: the grouping key of slices. */
export function portSetKey(ports: readonly ResolvedPort[]): string {
  return ports.map((p) => `${p.name}:${p.port}/${p.protocol}${p.appProtocol ? `/${p.appProtocol}` : ""}`)
    .join(
      ",",
    );
}

/**
 * Deterministic, DNS-safe (≤ 63 characters) name of the slice of `swh` on `node` for one address family and
 * port set; `chunk` > 0 only when more than {@link MAX_ENDPOINTS_PER_SLICE} endpoints share them.
 */
export function sliceName(
  swh: ServiceWithHealthchecks,
  node: string,
  family: AddressFamily,
  portsKey: string,
  chunk = 0,
): string {
  const hash = shortHash(
    `${swh.metadata.namespace}/${swh.metadata.name}|${node}|${family}|${portsKey}${chunk ? `|${chunk}` : ""}`,
  );
  const prefix = (swh.metadata.name ?? "swh").slice(0, NAME_PREFIX_MAX).replace(/-+$/, "");
  return `${prefix}-${hash}`;
}

/**
 * Desired slices of `swh` on `node`, one per (address family, resolved port set), holding the endpoints that
 * pass their probes (`healthy(key)`), or every selected endpoint when `publishNotReadyAddresses` is set.
 * Conditions (DESIGN §4): `serving` = probes pass; `ready` = serving and not terminating (always true with
 * publishNotReadyAddresses, as in a Service); `terminating` = the pod has a deletionTimestamp. Groups without
 * a published endpoint produce no slice (the agent deletes its empty slices). Output is sorted by name and
 * each slice's endpoints by address, so equal inputs give byte-identical bodies.
 */
export function desiredSlices(
  swh: ServiceWithHealthchecks,
  node: string,
  endpoints: readonly SelectedEndpoint[],
  healthy: (key: string) => boolean,
  zone?: string,
): SliceBody[] {
  const publishAll = swh.spec.publishNotReadyAddresses === true;
  const hints = topologyHints(swh.spec.trafficDistribution, node, zone);
  const groups = new Map<
    string,
    { family: AddressFamily; ports: readonly ResolvedPort[]; eps: SelectedEndpoint[] }
  >();
  for (const ep of endpoints) {
    const serving = healthy(ep.key);
    if (!serving && !publishAll) continue;
    const portsKey = portSetKey(ep.ports);
    const gk = `${ep.family}|${portsKey}`;
    let g = groups.get(gk);
    if (!g) groups.set(gk, g = { family: ep.family, ports: ep.ports, eps: [] });
    g.eps.push(ep);
  }
  const out: SliceBody[] = [];
  const namespace = swh.metadata.namespace ?? "";
  const nodeLabel = nodeLabelValue(node);
  for (const g of groups.values()) {
    const portsKey = portSetKey(g.ports);
    const eps = [...g.eps].sort((a, b) => compareIp(a.ip, b.ip) || (a.podUid < b.podUid ? -1 : 1));
    for (let chunk = 0; chunk * MAX_ENDPOINTS_PER_SLICE < eps.length; chunk++) {
      const part = eps.slice(chunk * MAX_ENDPOINTS_PER_SLICE, (chunk + 1) * MAX_ENDPOINTS_PER_SLICE);
      out.push({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: sliceName(swh, node, g.family, portsKey, chunk),
          namespace,
          labels: {
            [SERVICE_NAME_LABEL]: swh.metadata.name ?? "",
            [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
            [NODE_LABEL]: nodeLabel,
          },
          ...(nodeLabel !== node ? { annotations: { [NODE_ANNOTATION]: node } } : {}),
          ownerReferences: [{
            apiVersion: SWH_API_VERSION,
            kind: SWH_KIND,
            name: swh.metadata.name ?? "",
            uid: swh.metadata.uid ?? "",
            controller: true,
          }],
        },
        addressType: g.family,
        ports: g.ports.map((p) => ({
          name: p.name,
          port: p.port,
          protocol: p.protocol,
          ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
        })),
        endpoints: part.map((ep) => {
          const serving = healthy(ep.key);
          return {
            addresses: [ep.ip],
            conditions: {
              ready: publishAll || (serving && !ep.terminating),
              serving,
              terminating: ep.terminating,
            },
            nodeName: node,
            ...(zone ? { zone } : {}),
            ...(hints ? { hints } : {}),
            targetRef: { kind: "Pod", namespace: ep.podNamespace, name: ep.podName, uid: ep.podUid },
            ...(ep.hostname ? { hostname: ep.hostname } : {}),
          };
        }),
      });
    }
  }
  return out.sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0
  );
}

/**
 * Routing hints for `trafficDistribution`, as the built-in EndpointSlice controller sets them: PreferClose and
 * PreferSameZone hint the endpoint's zone, PreferSameNode its node (and zone, for proxies that only read zones).
 * kube-proxy uses hints only when every endpoint of the Service has them, so a node without a zone label makes
 * the whole Service fall back to all endpoints — never to none.
 */
export function topologyHints(
  distribution: string | undefined,
  node: string,
  zone: string | undefined,
): { forZones?: { name: string }[]; forNodes?: { name: string }[] } | undefined {
  if (!distribution) return undefined;
  const forZones = zone ? [{ name: zone }] : undefined;
  if (distribution === "PreferSameNode") {
    return { forNodes: [{ name: node }], ...(forZones ? { forZones } : {}) };
  }
  if ((distribution === "PreferClose" || distribution === "PreferSameZone") && forZones) return { forZones };
  return undefined;
}

/** Orders IPv4 numerically and everything else as text; only determinism matters. */
function compareIp(a: string, b: string): number {
  const pa = a.split("."), pb = b.split(".");
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What of a slice the agent controls, as canonical JSON: our labels and annotation, owner, address type, ports
 * and endpoints.
 * Works on both a desired body and a slice read back from the apiserver (which adds defaults and metadata), so
 * `sliceContent(desired) === sliceContent(observed)` means no write is needed.
 */
export function sliceContent(slice: IEndpointSlice): string {
  const labels = slice.metadata?.labels ?? {};
  const owners = (slice.metadata?.ownerReferences ?? []).map((
    o,
  ) => [o.apiVersion, o.kind, o.name, o.uid, !!o.controller]);
  const ports = (slice.ports ?? []).map((
    p,
  ) => [p.name ?? "", p.port ?? null, p.protocol ?? "TCP", p.appProtocol ?? ""])
    .sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  const endpoints = (slice.endpoints ?? []).map((e) => [
    e.addresses,
    e.conditions?.ready ?? null,
    e.conditions?.serving ?? null,
    e.conditions?.terminating ?? null,
    e.nodeName ?? "",
    e.targetRef?.kind ?? "",
    e.targetRef?.namespace ?? "",
    e.targetRef?.name ?? "",
    e.targetRef?.uid ?? "",
    e.hostname ?? "",
    e.zone ?? "",
    (e.hints?.forZones ?? []).map((z) => z.name),
    ((e.hints as { forNodes?: { name: string }[] } | undefined)?.forNodes ?? []).map((n) => n.name),
  ]).sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  return JSON.stringify([
    labels[SERVICE_NAME_LABEL] ?? "",
    labels[MANAGED_BY_LABEL] ?? "",
    labels[NODE_LABEL] ?? "",
    slice.metadata?.annotations?.[NODE_ANNOTATION] ?? "",
    owners,
    slice.addressType,
    ports,
    endpoints,
  ]);
}
