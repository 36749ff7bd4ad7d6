/**
 * The core/v1 ServiceSpec fields of a ServiceWithHealthchecks (Kubernetes 1.36), which the controller copies
 * onto the Service it creates, with the Service validation rules worth failing early on.
 *
 * @module
 */
import { z } from "zod";
import {
  type CelRule,
  intOrString,
  listAtomic,
  listMap,
  SYNTHESISED_RULE_MESSAGE,
  withRules,
} from "./extensions.ts";
import { dnsLabel, ianaSvcName, LABEL_KEY, LABEL_VALUE } from "./patterns.ts";

/** A TCP/UDP/SCTP port number. */
export function portNumber(): z.ZodInt {
  return z.int().min(1).max(65535);
}

/** Wording shared by every int-or-string port reference. */
export const TARGET_PORT_MESSAGE =
  "must be a port number between 1 and 65535 or a container port name (IANA_SVC_NAME: at most 15 lowercase " +
  "letters, digits and single inner hyphens, with at least one letter)";

/** A port reference that is a number or the name of a container port, resolved per pod like a Service does. */
export function targetPort(): z.ZodUnion<readonly [z.ZodInt, z.ZodString]> {
  return intOrString(portNumber(), ianaSvcName(), TARGET_PORT_MESSAGE);
}

/** IP protocols a Service port can carry. */
export const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

/** Service types a ServiceWithHealthchecks supports (ExternalName has no endpoints to check). */
export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

/** One entry of spec.ports, as in a Service. */
export const servicePortSchema = z.strictObject({
  name: dnsLabel().optional().describe(
    "Name of this port within the service (a DNS label). Required, and unique, when there is more than one " +
      "port; EndpointSlices refer to ports by this name.",
  ),
  protocol: z.enum(PROTOCOLS).default("TCP").describe(
    'IP protocol of this port: "TCP" (default), "UDP" or "SCTP". Together with port it identifies the entry.',
  ),
  appProtocol: z.string().max(256).optional().describe(
    "Application protocol of this port, as in a Service: an IANA service name, a kubernetes.io/ prefixed " +
      "standard name (kubernetes.io/h2c, kubernetes.io/ws, kubernetes.io/wss) or a domain-prefixed name.",
  ),
  port: portNumber().describe("Port exposed by the service (1-65535)."),
  targetPort: targetPort().optional().describe(
    "Port of the selected pods that traffic is sent to: a number, or the name of a container port " +
      "(resolved per pod, so pods may use different numbers). Defaults to the value of port.",
  ),
  nodePort: portNumber().optional().describe(
    "Port on every node when type is NodePort or LoadBalancer; allocated by the system when unset. Must lie " +
      "in the cluster's service node-port range.",
  ),
}).describe("A port the service exposes, mapped to a port of the selected pods.");

/** Input shape of spec.ports entries, for builders and tests. */
export type ServicePortInput = z.input<typeof servicePortSchema>;

/** Fields that a ServiceWithHealthchecks spec shares with a core/v1 ServiceSpec. */
export const serviceSpecFields = {
  ports: listMap(
    withRules(z.array(servicePortSchema).max(100), [
      {
        rule: "self.size() <= 1 || self.all(p, has(p.name))",
        message: "every port needs a name when there is more than one port",
        holds: (ports) => ports.length <= 1 || ports.every((p) => p.name !== undefined),
      },
      {
        rule: "self.all(p, !has(p.name) || self.exists_one(q, has(q.name) && q.name == p.name))",
        message: "port names must be unique",
        reason: "FieldValueDuplicate",
        holds: (ports) => {
          const names = ports.flatMap((p) => p.name === undefined ? [] : [p.name]);
          return new Set(names).size === names.length;
        },
      },
    ]),
    ["port", "protocol"],
  ).optional().describe(
    "Ports the service exposes. At least one is required unless clusterIP is None (headless). Entries are " +
      "keyed by port and protocol, like in a Service.",
  ),
  selector: withRules(
    z.record(
      z.string().max(317).regex(LABEL_KEY, "must be a label key"),
      z.string().max(63).regex(
        LABEL_VALUE,
        "must be a label value: letters, digits, '-', '_', '.', alphanumeric at both ends",
      ),
    ).meta({
      "x-kubernetes-map-type": "atomic",
      maxProperties: 64,
      [SYNTHESISED_RULE_MESSAGE]:
        "selector keys must be label keys: an optional DNS-subdomain prefix and '/', " +
        "then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    }),
    [{
      rule: "self.size() >= 1 && self.size() <= 64",
      message: "selector must have between 1 and 64 labels: a ServiceWithHealthchecks without a selector " +
        "selects no pods, so it would never have endpoints",
      holds: (selector) => Object.keys(selector).length >= 1 && Object.keys(selector).length <= 64,
    }],
  ).describe(
    "Labels of the pods this service sends traffic to (required, 1-64 labels). The agents probe every " +
      "selected pod on their node; only pods passing all probes are published as endpoints. Unlike a Service, " +
      "an empty selector is rejected: there is no manual-endpoints mode.",
  ),
  type: z.enum(SERVICE_TYPES).default("ClusterIP").describe(
    'How the service is exposed: "ClusterIP" (default; a virtual IP inside the cluster), "NodePort" ' +
      '(ClusterIP plus a port on every node) or "LoadBalancer" (NodePort plus an external load balancer). ' +
      '"ExternalName" is not supported: such a Service has no endpoints to health-check.',
  ),
  clusterIP: z.string().max(45).optional().describe(
    'Virtual IP of the service; allocated when unset. "None" makes a headless service: DNS then returns ' +
      "the addresses of the healthy pods directly. Immutable once set.",
  ),
  clusterIPs: listAtomic(z.array(z.string().max(45)).max(2)).optional().describe(
    "Virtual IPs of the service, one per IP family (at most two); the first equals clusterIP.",
  ),
  ipFamilies: withRules(listAtomic(z.array(z.enum(["IPv4", "IPv6"])).max(2)), [{
    rule: "self.size() < 2 || self[0] != self[1]",
    message: "ipFamilies must not name the same family twice",
    reason: "FieldValueDuplicate",
    holds: (families) => families.length < 2 || families[0] !== families[1],
  }]).optional().describe(
    'IP families of the service, "IPv4" and/or "IPv6" (at most two, primary first). Chosen from the ' +
      "cluster configuration and ipFamilyPolicy when unset.",
  ),
  ipFamilyPolicy: z.enum(["SingleStack", "PreferDualStack", "RequireDualStack"]).optional().describe(
    'Dual-stack policy: "SingleStack" (one family), "PreferDualStack" (two when the cluster supports it) ' +
      'or "RequireDualStack" (two, or fail). Defaults to SingleStack.',
  ),
  sessionAffinity: z.enum(["None", "ClientIP"]).optional().describe(
    '"ClientIP" sends all connections of one client to the same endpoint; "None" (default) balances each ' +
      "connection.",
  ),
  sessionAffinityConfig: z.strictObject({
    clientIP: z.strictObject({
      timeoutSeconds: z.int().min(1).max(86400).optional().describe(
        "How long a client sticks to an endpoint, in seconds (1-86400; default 10800, three hours).",
      ),
    }).optional().describe("Settings of ClientIP session affinity."),
  }).optional().describe("Settings of session affinity; only allowed with sessionAffinity ClientIP."),
  externalIPs: listAtomic(z.array(z.string().max(45)).max(64)).optional().describe(
    "Extra IP addresses, routed to the cluster by its operators, on which nodes accept traffic for this " +
      "service.",
  ),
  externalName: z.string().max(253).optional().describe(
    "Not supported: only meaningful for type ExternalName, which a ServiceWithHealthchecks cannot have. " +
      "Declared so that a copied Service manifest gets a clear error instead of an unknown-field one.",
  ),
  externalTrafficPolicy: z.enum(["Cluster", "Local"]).optional().describe(
    'How external traffic (node ports, load balancer, external IPs) is routed: "Cluster" (default; to any ' +
      'healthy endpoint) or "Local" (only to healthy endpoints on the receiving node, keeping the client ' +
      "source IP). Only for types NodePort and LoadBalancer, or with externalIPs.",
  ),
  internalTrafficPolicy: z.enum(["Cluster", "Local"]).optional().describe(
    'How traffic to the cluster IP is routed: "Cluster" (default; to any healthy endpoint) or "Local" (only ' +
      "to healthy endpoints on the sending pod's node).",
  ),
  healthCheckNodePort: portNumber().optional().describe(
    "Node port serving the load balancer's node health check; only for type LoadBalancer with " +
      "externalTrafficPolicy Local. Allocated when unset.",
  ),
  loadBalancerClass: z.string().max(316).optional().describe(
    "Load balancer implementation to use (a label-style name such as example.com/internal-vip); only for " +
      "type LoadBalancer. The cloud provider's default implementation is used when unset. Immutable.",
  ),
  loadBalancerIP: z.string().max(45).optional().describe(
    "Deprecated in Service (implementation specific): IP the load balancer should use.",
  ),
  loadBalancerSourceRanges: listAtomic(z.array(z.string().max(49)).max(256)).optional().describe(
    "Client CIDRs allowed through the load balancer, if the provider supports it; only for type " +
      "LoadBalancer.",
  ),
  allocateLoadBalancerNodePorts: z.boolean().optional().describe(
    "Whether node ports are allocated for type LoadBalancer (default true); false for load balancers that " +
      "send traffic straight to pods.",
  ),
  publishNotReadyAddresses: z.boolean().optional().describe(
    "When true, every selected pod is published as an endpoint regardless of its probe results (like the " +
      "same field of a Service with readiness probes); probes still run and their results still appear in " +
      "status. Default false.",
  ),
  trafficDistribution: z.enum(["PreferClose", "PreferSameZone", "PreferSameNode"]).optional().describe(
    'Preference for topologically close endpoints: "PreferSameZone" (PreferClose is its older name) or ' +
      '"PreferSameNode"; falls back to any healthy endpoint when none is close.',
  ),
};

/** Output (defaulted) type of the Service fields, which the cross-field rules below read. */
type ServiceFields = z.output<z.ZodObject<typeof serviceSpecFields>>;

/** `true` when a service of this spec is reachable from outside the cluster (as Service validation defines). */
function externallyAccessible(s: ServiceFields): boolean {
  return s.type !== "ClusterIP" || (s.externalIPs?.length ?? 0) > 0;
}

/** Cross-field rules of a Service that we check on the ServiceWithHealthchecks already. */
export const serviceSpecRules: readonly CelRule<ServiceFields>[] = [
  {
    rule: "(has(self.ports) && self.ports.size() > 0) || (has(self.clusterIP) && self.clusterIP == 'None')",
    fieldPath: ".ports",
    reason: "FieldValueRequired",
    message: "at least one port is required unless clusterIP is None (headless)",
    holds: (s) => (s.ports?.length ?? 0) > 0 || s.clusterIP === "None",
  },
  {
    rule: "self.type != 'ClusterIP' || !has(self.ports) || self.ports.all(p, !has(p.nodePort))",
    fieldPath: ".ports",
    reason: "FieldValueForbidden",
    message: "nodePort may only be set when type is NodePort or LoadBalancer",
    holds: (s) => s.type !== "ClusterIP" || (s.ports ?? []).every((p) => p.nodePort === undefined),
  },
  {
    rule: "!has(self.clusterIP) || self.clusterIP != 'None' || self.type == 'ClusterIP'",
    fieldPath: ".clusterIP",
    message: "clusterIP None (headless) requires type ClusterIP",
    holds: (s) => s.clusterIP !== "None" || s.type === "ClusterIP",
  },
  {
    rule: "!has(self.externalName)",
    fieldPath: ".externalName",
    reason: "FieldValueForbidden",
    message: "externalName is not supported: it belongs to type ExternalName, which has no endpoints to " +
      "health-check",
    holds: (s) => s.externalName === undefined,
  },
  {
    rule:
      "!has(self.sessionAffinityConfig) || (has(self.sessionAffinity) && self.sessionAffinity == 'ClientIP')",
    fieldPath: ".sessionAffinityConfig",
    reason: "FieldValueForbidden",
    message: "sessionAffinityConfig requires sessionAffinity ClientIP",
    holds: (s) => s.sessionAffinityConfig === undefined || s.sessionAffinity === "ClientIP",
  },
  {
    rule: "!has(self.externalTrafficPolicy) || self.type != 'ClusterIP' || " +
      "(has(self.externalIPs) && self.externalIPs.size() > 0)",
    fieldPath: ".externalTrafficPolicy",
    reason: "FieldValueForbidden",
    message: "externalTrafficPolicy may only be set for type NodePort or LoadBalancer, or with externalIPs",
    holds: (s) => s.externalTrafficPolicy === undefined || externallyAccessible(s),
  },
  {
    rule: "!has(self.healthCheckNodePort) || (self.type == 'LoadBalancer' && " +
      "has(self.externalTrafficPolicy) && self.externalTrafficPolicy == 'Local')",
    fieldPath: ".healthCheckNodePort",
    reason: "FieldValueForbidden",
    message: "healthCheckNodePort requires type LoadBalancer and externalTrafficPolicy Local",
    holds: (s) =>
      s.healthCheckNodePort === undefined ||
      (s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local"),
  },
  {
    rule: "!has(self.loadBalancerClass) || self.type == 'LoadBalancer'",
    fieldPath: ".loadBalancerClass",
    reason: "FieldValueForbidden",
    message: "loadBalancerClass may only be set when type is LoadBalancer",
    holds: (s) => s.loadBalancerClass === undefined || s.type === "LoadBalancer",
  },
  {
    rule: "!has(self.loadBalancerSourceRanges) || self.type == 'LoadBalancer'",
    fieldPath: ".loadBalancerSourceRanges",
    reason: "FieldValueForbidden",
    message: "loadBalancerSourceRanges may only be set when type is LoadBalancer",
    holds: (s) => s.loadBalancerSourceRanges === undefined || s.type === "LoadBalancer",
  },
  {
    rule: "!has(self.allocateLoadBalancerNodePorts) || self.type == 'LoadBalancer'",
    fieldPath: ".allocateLoadBalancerNodePorts",
    reason: "FieldValueForbidden",
    message: "allocateLoadBalancerNodePorts may only be set when type is LoadBalancer",
    holds: (s) => s.allocateLoadBalancerNodePorts === undefined || s.type === "LoadBalancer",
  },
  {
    rule: "!has(self.ipFamilyPolicy) || self.ipFamilyPolicy != 'SingleStack' || !has(self.ipFamilies) || " +
      "self.ipFamilies.size() <= 1",
    fieldPath: ".ipFamilies",
    message: "ipFamilyPolicy SingleStack allows only one entry in ipFamilies",
    holds: (s) => s.ipFamilyPolicy !== "SingleStack" || (s.ipFamilies?.length ?? 0) <= 1,
  },
];
