/**
 * The ServiceWithHealthchecks resource (network.deckhouse.io/v1alpha1) as one zod schema: the source of the
 * TypeScript types, of `validateSwh` and of the generated CRD.
 *
 * @module
 */
import { z } from "zod";
import { withRules } from "./extensions.ts";
import {
  healthcheckSchema,
  type httpCheckSchema,
  type postgreSQLCheckSchema,
  type probeSchema,
  type tcpCheckSchema,
} from "./healthcheck.ts";
import { DNS1035_LABEL } from "./patterns.ts";
import { type servicePortSchema, serviceSpecFields, serviceSpecRules } from "./service_spec.ts";
import {
  type conditionSchema,
  type endpointStatusSchema,
  type failingProbeSchema,
  statusSchema,
} from "./status.ts";

import { SWH_API_VERSION, SWH_KIND } from "./names.ts";
export { SWH_API_VERSION, SWH_GROUP, SWH_KIND, SWH_PLURAL, SWH_SHORT_NAME, SWH_VERSION } from "./names.ts";

/** The fields of metadata the programs read; others pass through untouched. */
const objectMetaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
}).describe("Standard object metadata. The name must be a DNS-1035 label: it becomes the Service name.");

/** `spec`: a core/v1 ServiceSpec plus `healthcheck`. */
export const specSchema = withRules(
  z.strictObject({ ...serviceSpecFields, healthcheck: healthcheckSchema }),
  serviceSpecRules,
).describe(
  "A Service spec plus healthcheck. The controller creates a Service of the same name and namespace from " +
    "these fields, but without a selector; the agents publish only the selected pods that pass the probes.",
);

/** Why a name is refused; the same words from the apiserver and from zod. */
const NAME_MESSAGE =
  "metadata.name must be a DNS-1035 label (at most 63 lowercase letters, digits and '-', " +
  "starting with a letter), because the controller creates a Service of the same name";

/** A whole ServiceWithHealthchecks object. */
export const swhSchema = withRules(
  z.strictObject({
    apiVersion: z.literal(SWH_API_VERSION).describe("network.deckhouse.io/v1alpha1"),
    kind: z.literal(SWH_KIND).describe("ServiceWithHealthchecks"),
    metadata: objectMetaSchema,
    spec: specSchema,
    status: statusSchema.optional(),
  }),
  [{
    // size() first keeps the regular expression's cost bounded in the apiserver's estimate
    rule: "!has(self.metadata.name) || (self.metadata.name.size() <= 63 && " +
      `self.metadata.name.matches('${DNS1035_LABEL.source}'))`,
    message: NAME_MESSAGE,
    zodPath: ["metadata", "name"],
    holds: (o) =>
      o.metadata.name === undefined || (o.metadata.name.length <= 63 && DNS1035_LABEL.test(o.metadata.name)),
  }],
).describe(
  "ServiceWithHealthchecks: a Service whose endpoints are the selected pods that pass active TCP, HTTP or " +
    "PostgreSQL probes, run by an agent on every node, instead of the pods' readiness.",
);

/** A ServiceWithHealthchecks as stored by the apiserver: defaults applied. */
export type ServiceWithHealthchecks = z.output<typeof swhSchema>;
/** A ServiceWithHealthchecks as a user may write it: defaulted fields optional. */
export type ServiceWithHealthchecksInput = z.input<typeof swhSchema>;
/** `spec`, defaults applied. */
export type SwhSpec = z.output<typeof specSchema>;
/** `spec.ports[]`. */
export type SwhServicePort = z.output<typeof servicePortSchema>;
/** `spec.healthcheck`. */
export type SwhHealthcheck = z.output<typeof healthcheckSchema>;
/** One probe; narrow on `mode` to reach its block. */
export type Probe = z.output<typeof probeSchema>;
/** Probe modes. */
export type ProbeMode = Probe["mode"];
/** A TCP probe. */
export type TcpProbe = Extract<Probe, { mode: "TCP" }>;
/** An HTTP probe. */
export type HttpProbe = Extract<Probe, { mode: "HTTP" }>;
/** A PostgreSQL probe. */
export type PostgreSQLProbe = Extract<Probe, { mode: "PostgreSQL" }>;
/** The `tcp` block. */
export type TcpCheck = z.output<typeof tcpCheckSchema>;
/** The `http` block. */
export type HttpCheck = z.output<typeof httpCheckSchema>;
/** The `postgreSQL` block. */
export type PostgreSQLCheck = z.output<typeof postgreSQLCheckSchema>;
/** A port number or a container port name. */
export type IntOrString = number | string;
/** `status`. */
export type SwhStatus = z.output<typeof statusSchema>;
/** One entry of `status.conditions`. */
export type SwhCondition = z.output<typeof conditionSchema>;
/** One entry of `status.endpoints`. */
export type SwhEndpointStatus = z.output<typeof endpointStatusSchema>;
/** One entry of `status.endpoints[].failingProbes`. */
export type SwhFailingProbe = z.output<typeof failingProbeSchema>;
