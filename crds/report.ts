/**
 * ServiceWithHealthchecksNodeReport: what one node's agent knows about one ServiceWithHealthchecks's pods on
 * that node that its EndpointSlices cannot say — endpoints that fail, or pass but have started failing, with
 * the reason. Agents write them; only the controller (which aggregates them into the SWH status users see)
 * and the CLI read them.
 *
 * Why a resource of its own, in the operator namespace: the SWH object is watched by every agent, so per-node
 * detail written there reached every agent on every write (status storms that grow with nodes × changes).
 * Reports live where no agent watches other nodes' writes, hold only what slices cannot (a healthy endpoint
 * is the slice's business: a fleet in steady state has no reports at all), and tenants cannot write them:
 * only the agents' service account may, in `swh-system`.
 *
 * @module
 */
import { z } from "zod";
import { listMap } from "./extensions.ts";
import { DNS1035_LABEL, dnsSubdomain } from "./patterns.ts";
import { REPORT_KIND, SWH_API_VERSION, SWH_GROUP, SWH_VERSION } from "./names.ts";
import { endpointStatusSchema } from "./status.ts";

export { REPORT_KIND, REPORT_PLURAL, REPORT_SHORT_NAMES } from "./names.ts";
export { SWH_GROUP as REPORT_GROUP, SWH_VERSION as REPORT_VERSION };

/** The ServiceWithHealthchecks a report is about. */
const swhRefSchema = z.strictObject({
  namespace: z.string().min(1).max(63).describe("Namespace of the ServiceWithHealthchecks."),
  name: z.string().min(1).max(63).regex(DNS1035_LABEL).describe("Name of the ServiceWithHealthchecks."),
  uid: z.string().min(1).max(64).describe(
    "UID of the ServiceWithHealthchecks; a report naming another UID is about a deleted object of the " +
      "same name and is removed.",
  ),
}).describe("The ServiceWithHealthchecks this report is about.");

/** A whole report object. */
export const reportSchema = z.strictObject({
  apiVersion: z.literal(SWH_API_VERSION).describe("network.deckhouse.io/v1alpha1"),
  kind: z.literal(REPORT_KIND).describe(REPORT_KIND),
  metadata: z.looseObject({
    name: z.string().optional(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }).describe("Standard object metadata."),
  swh: swhRefSchema,
  node: dnsSubdomain().describe("Node whose agent wrote this report."),
  observedGeneration: z.int().min(0).optional().describe(
    "metadata.generation of the ServiceWithHealthchecks the agent probed with.",
  ),
  endpoints: listMap(z.array(endpointStatusSchema).max(5000), ["pod"]).describe(
    "Pods on this node that fail a probe (not ready), or pass but have started failing one (ready, with " +
      "failingProbes). Pods that pass everything are not listed: the EndpointSlices show them.",
  ),
}).describe(
  "Probe detail of one node's agent for one ServiceWithHealthchecks, aggregated by the controller into the " +
    "ServiceWithHealthchecks status. Written by agents into the operator namespace; not for users to edit.",
);

/** A report as stored. */
export type SwhNodeReport = z.output<typeof reportSchema>;
/** The `swh` reference of a report. */
export type SwhReference = z.output<typeof swhRefSchema>;
