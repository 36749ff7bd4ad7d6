/**
 * The ServiceWithHealthchecks resource for the controller and the agents: types, defaults, runtime
 * validation and the CRD.
 *
 * @module
 */
export * from "./schema.ts";
export { HEALTHCHECK_DEFAULTS, HTTP_METHODS, PROBE_MODES } from "./healthcheck.ts";
export { PROTOCOLS, SERVICE_TYPES } from "./service_spec.ts";
export type { KubeSchema } from "./openapi.ts";
export {
  formatFieldPath,
  formatSwhErrors,
  parseSwh,
  type SwhFieldError,
  SwhValidationError,
  type SwhValidationResult,
  validateSwh,
} from "./validate.ts";
export { buildSwhCrd, renderSwhCrdYaml, SWH_CRD_FILE, SWH_CRD_NAME, swhOpenApiSchema } from "./crd.ts";
