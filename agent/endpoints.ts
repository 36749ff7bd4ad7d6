/** Which pods of this node a ServiceWithHealthchecks selects, with their addresses and resolved ports. */
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IntOrString, ServiceWithHealthchecks } from "../crds/schema.ts";
import { canonicalIp } from "../probes/ip.ts";

/** IP family of an address, as EndpointSlice `addressType` spells it. */
export type AddressFamily = "IPv4" | "IPv6";

/** One `spec.ports` entry resolved for one pod. */
export interface ResolvedPort {
  /** Name as in the SWH's `spec.ports` (empty string when unnamed, like a Service). */
  readonly name: string;
  /** The pod's port number. */
  readonly port: number;
  /** TCP, UDP or SCTP. */
  readonly protocol: "TCP" | "UDP" | "SCTP";
  /** Carried over from the SWH. */
  readonly appProtocol?: string;
}

/** One address of one selected pod: the unit that is probed and published. */
export interface SelectedEndpoint {
  /**
   * Identity of the endpoint: pod uid + IP. A new pod that reuses an old pod's IP has another uid, so it starts
   * with fresh probe state instead of inheriting the old pod's verdict.
   */
  readonly key: string;
  /** Pod name (unique within the SWH's namespace; status entries are keyed by it). */
  readonly podName: string;
  /** Pod namespace (= the SWH's namespace). */
  readonly podNamespace: string;
  /** Pod uid. */
  readonly podUid: string;
  /** The address. */
  readonly ip: string;
  /** Its family. */
  readonly family: AddressFamily;
  /** The pod has a deletionTimestamp. */
  readonly terminating: boolean;
  /** `spec.ports` resolved for this pod; entries whose named targetPort the pod lacks are left out. */
  readonly ports: readonly ResolvedPort[];
  /** `spec.hostname` of the pod when its `spec.subdomain` names this service (headless DNS records). */
  readonly hostname?: string;
}

/** Endpoint key of a pod address (see {@link SelectedEndpoint.key}). */
export function endpointKey(podUid: string, ip: string): string {
  return `${podUid}/${ip}`;
}

/** `IPv6` when the literal contains a colon, else `IPv4`. */
export function addressFamily(ip: string): AddressFamily {
  return ip.includes(":") ? "IPv6" : "IPv4";
}

/**
 * The pod's IPs (`status.podIPs`, falling back to `status.podIP`) in canonical form, deduplicated, in the order
 * reported. Canonical because the apiserver accepts some non-canonical IPv6 text in pod status
 * (`fd5a:5748:0::1`) but refuses it in an EndpointSlice, which would fail the whole slice write forever.
 */
export function podAddresses(pod: IPod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return [...new Set(ips.flatMap((ip) => canonicalIp(ip) ?? []))];
}

/** Whether every label of `selector` is on the pod. An empty selector selects nothing (no manual endpoints). */
export function selectorMatches(selector: Readonly<Record<string, string>> | undefined, pod: IPod): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return entries.every(([k, v]) => labels[k] === v);
}

/**
 * Whether `swh` selects `pod` on `node`: same namespace, selector matches, scheduled on `node`, has an IP and is
 * not finished (`Succeeded`/`Failed` pods keep their IP in status but serve nothing).
 */
export function podSelected(swh: ServiceWithHealthchecks, pod: IPod, node: string): boolean {
  return podSelectedBy(swh.metadata.namespace, swh.spec.selector, pod, node);
}

/** {@link podSelected} by the parts it reads: the SWH's namespace and selector. */
export function podSelectedBy(
  namespace: string | undefined,
  selector: Readonly<Record<string, string>> | undefined,
  pod: IPod,
  node: string,
): boolean {
  if (pod.metadata?.namespace !== namespace) return false;
  if (pod.spec?.nodeName !== node) return false;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return selectorMatches(selector, pod) && podAddresses(pod).length > 0;
}

/**
 * Whether `selector`, not validated (from a stored spec or the controller's note on a Service), may select one
 * of `pods` on `node` in `namespace`. Anything but a map of strings answers yes: whoever validates gets to name
 * the problem.
 */
export function unvalidatedSelectorMaySelect(
  namespace: string | undefined,
  selector: unknown,
  pods: readonly IPod[],
  node: string,
): boolean {
  if (typeof selector !== "object" || selector === null || Array.isArray(selector)) return true;
  if (Object.values(selector).some((v) => typeof v !== "string")) return true;
  const labels = selector as Record<string, string>;
  return pods.some((p) => podSelectedBy(namespace, labels, p, node));
}

/**
 * Resolves a port reference for one pod like a Service does: a number is used as is; a name is looked up among
 * the container ports (regular containers and restartable init "sidecar" containers) with that name and
 * protocol. Returns undefined when the pod has no such port.
 */
export function resolvePort(pod: IPod, ref: IntOrString, protocol: string = "TCP"): number | undefined {
  if (typeof ref === "number") return ref;
  if (/^[0-9]+$/.test(ref)) return Number(ref);
  const containers = [
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (p.name === ref && (p.protocol ?? "TCP") === protocol) return p.containerPort;
    }
  }
  return undefined;
}

/** `spec.ports` of `swh` resolved for `pod`, in spec order, skipping ports the pod cannot resolve. */
export function resolveServicePorts(swh: ServiceWithHealthchecks, pod: IPod): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of swh.spec.ports ?? []) {
    const protocol = sp.protocol ?? "TCP";
    const port = resolvePort(pod, sp.targetPort ?? sp.port, protocol);
    if (port === undefined) continue;
    const resolved: ResolvedPort = { name: sp.name ?? "", port, protocol };
    out.push(sp.appProtocol ? { ...resolved, appProtocol: sp.appProtocol } : resolved);
  }
  return out;
}

/** The endpoints (one per pod address) `swh` selects among `pods` on `node`, sorted by pod name then IP. */
export function selectEndpoints(
  swh: ServiceWithHealthchecks,
  pods: Iterable<IPod>,
  node: string,
): SelectedEndpoint[] {
  const out: SelectedEndpoint[] = [];
  for (const pod of pods) {
    if (!podSelected(swh, pod, node)) continue;
    const meta = pod.metadata!;
    const ports = resolveServicePorts(swh, pod);
    const hostname = pod.spec?.hostname && pod.spec.subdomain === swh.metadata.name
      ? pod.spec.hostname
      : undefined;
    for (const ip of podAddresses(pod)) {
      const ep: SelectedEndpoint = {
        key: endpointKey(meta.uid ?? "", ip),
        podName: meta.name ?? "",
        podNamespace: meta.namespace ?? "",
        podUid: meta.uid ?? "",
        ip,
        family: addressFamily(ip),
        terminating: !!meta.deletionTimestamp,
        ports,
      };
      out.push(hostname ? { ...ep, hostname } : ep);
    }
  }
  return out.sort((a, b) =>
    a.podName < b.podName ? -1 : a.podName > b.podName ? 1 : a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0
  );
}
