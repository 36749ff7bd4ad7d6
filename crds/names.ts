/**
 * Names of our resources (group, version, kinds, plurals) without their schemas: modules that only address the
 * resources — the agent above all — import these and stay free of zod, which costs ~10 MiB of resident memory
 * (bench/memory.ts `modules`). crds/schema.ts and crds/report.ts re-export them.
 *
 * @module
 */

/** API group of the resources. */
export const SWH_GROUP = "network.deckhouse.io";
/** API version of the resources. */
export const SWH_VERSION = "v1alpha1";
/** `apiVersion` field value. */
export const SWH_API_VERSION = `${SWH_GROUP}/${SWH_VERSION}`;
/** Kind of the resource. */
export const SWH_KIND = "ServiceWithHealthchecks";
/** Plural resource name, as in URLs. */
export const SWH_PLURAL = "servicewithhealthchecks";
/** Short name for kubectl. */
export const SWH_SHORT_NAME = "swh";

/** Kind of the report resource. */
export const REPORT_KIND = "ServiceWithHealthchecksNodeReport";
/** Plural resource name of the report resource. */
export const REPORT_PLURAL = "servicewithhealthchecksnodereports";
/** Short names for kubectl. */
export const REPORT_SHORT_NAMES = ["swhreport", "swhnr"] as const;
