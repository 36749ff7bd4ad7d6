/**
 * The `status` of a ServiceWithHealthchecks, written by the controller alone: conditions, counts, per-pod
 * entries aggregated from the agents' EndpointSlices and node reports (crds/report.ts), and what the Service
 * reports.
 *
 * @module
 */
import { z } from "zod";
import { listAtomic, listMap } from "./extensions.ts";
import { PROBE_MODES } from "./healthcheck.ts";
import { CONDITION_REASON, CONDITION_TYPE } from "./patterns.ts";
import { PROTOCOLS } from "./service_spec.ts";

/** An RFC 3339 timestamp, as metav1.Time serialises. */
function timestamp(): z.ZodISODateTime {
  return z.iso.datetime({ offset: true });
}

/** metav1.Condition. */
export const conditionSchema = z.strictObject({
  type: z.string().max(316).regex(CONDITION_TYPE).describe(
    'Condition type in CamelCase. "Ready": at least one endpoint passes its probes and the Service is in ' +
      'place; its reason is the root cause otherwise. Others the controller sets: "ServiceReady" (the Service ' +
      'was applied), "Credentials" (probe secrets could be read) and "AgentsReporting" (the agents of the ' +
      "nodes with selected pods renew their heartbeat).",
  ),
  status: z.enum(["True", "False", "Unknown"]).describe('"True", "False" or "Unknown".'),
  observedGeneration: z.int().min(0).optional().describe(
    "metadata.generation of the spec the condition was computed from.",
  ),
  lastTransitionTime: timestamp().describe("When status last changed."),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON).describe(
    "Machine-readable CamelCase reason for the last transition.",
  ),
  message: z.string().max(32768).describe("Human-readable details."),
}).describe("Observation of one aspect of the resource (metav1.Condition).");

/** Why one probe of an endpoint is failing. */
export const failingProbeSchema = z.strictObject({
  index: z.int().min(0).max(15).describe("Index of the probe in spec.healthcheck.probes."),
  mode: z.enum(PROBE_MODES).describe("Mode of that probe."),
  reason: z.string().min(1).max(64).regex(CONDITION_REASON).describe(
    "CamelCase reason, e.g. Timeout, ConnectionRefused, UnexpectedStatus, QueryFalse, NoCredentials, " +
      "PortNotFound.",
  ),
  message: z.string().max(1024).optional().describe("Details of the last failure."),
  consecutiveFailures: z.int().min(0).max(1000000).optional().describe(
    "Failures in a row so far. On a ready endpoint it is below the probe's failureThreshold: the probe has " +
      "started failing and the endpoint is withdrawn when it reaches the threshold.",
  ),
}).describe("A probe that currently fails for this endpoint.");

/** Health of one selected pod, as the agent of the pod's node sees it. */
export const endpointStatusSchema = z.strictObject({
  pod: z.string().min(1).max(253).describe("Name of the pod (the key of this list)."),
  node: z.string().max(253).optional().describe("Node the pod runs on, whose agent probes it."),
  addresses: listAtomic(z.array(z.string().max(45)).max(2)).optional().describe("Pod IPs probed."),
  ready: z.boolean().describe("Whether the pod passes all probes and is published as an endpoint."),
  terminating: z.boolean().optional().describe("Whether the pod is being deleted."),
  failingProbes: listAtomic(z.array(failingProbeSchema).max(16)).optional().describe(
    "Probes that currently fail for this pod, with the reason.",
  ),
  lastTransitionTime: timestamp().optional().describe("When ready last changed."),
}).describe("Health of one selected pod.");

/** What a Service reports about its load balancer (core/v1 LoadBalancerIngress). */
const loadBalancerIngressSchema = z.strictObject({
  ip: z.string().max(45).optional().describe("IP of the load balancer."),
  hostname: z.string().max(253).optional().describe("DNS name of the load balancer."),
  ipMode: z.enum(["VIP", "Proxy"]).optional().describe(
    '"VIP": traffic arrives with the load balancer IP as destination; "Proxy": with the node or pod IP.',
  ),
  ports: listAtomic(
    z.array(
      z.strictObject({
        port: z.int().min(1).max(65535).describe("Port number."),
        protocol: z.enum(PROTOCOLS).describe("Protocol of the port."),
        error: z.string().max(316).optional().describe("Problem with this port, if any."),
      }).describe("Status of one load balancer port."),
    ).max(100),
  ).optional().describe("Status of the load balancer's ports."),
}).describe("An ingress point of the load balancer.");

/** Most entries in `status.endpoints`: keeps the object small (every agent reads it) whatever the fleet. */
export const MAX_STATUS_ENDPOINTS = 100;

/** `status`. */
export const statusSchema = z.strictObject({
  observedGeneration: z.int().min(0).optional().describe(
    "metadata.generation the controller last reconciled.",
  ),
  conditions: listMap(z.array(conditionSchema).max(32), ["type"]).optional().describe(
    "Current state, by condition type (controller-owned).",
  ),
  readyEndpoints: z.int().min(0).optional().describe("Number of selected pods that pass all probes."),
  totalEndpoints: z.int().min(0).optional().describe("Number of selected pods with an IP."),
  endpointSummary: z.string().max(32).regex(/^[0-9]+\/[0-9]+$/).optional().describe(
    'readyEndpoints/totalEndpoints as text, e.g. "2/3", for kubectl get.',
  ),
  endpoints: listMap(z.array(endpointStatusSchema).max(MAX_STATUS_ENDPOINTS), ["pod"]).optional().describe(
    `Per-pod health, aggregated by the controller from the agents' EndpointSlices (ready pods) and node ` +
      `reports (failing pods, with reasons). At most ${MAX_STATUS_ENDPOINTS} entries, pods that are not ready ` +
      "first; endpointsOmitted counts the rest.",
  ),
  endpointsOmitted: z.int().min(0).optional().describe(
    `Selected pods not listed in endpoints because the list is capped at ${MAX_STATUS_ENDPOINTS}.`,
  ),
  clusterIP: z.string().max(45).optional().describe('Cluster IP of the Service ("None" when headless).'),
  clusterIPs: listAtomic(z.array(z.string().max(45)).max(2)).optional().describe(
    "Cluster IPs of the Service.",
  ),
  loadBalancer: z.strictObject({
    ingress: listAtomic(z.array(loadBalancerIngressSchema).max(100)).optional().describe(
      "Ingress points of the load balancer.",
    ),
  }).optional().describe("Load balancer status of the Service (type LoadBalancer)."),
}).describe(
  "Observed state, written by the controller: conditions, counts, per-pod health and the Service's " +
    "addresses.",
);
