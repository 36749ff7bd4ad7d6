/** Our resources as the kube client addresses them (shared by controller, agent and CLI). */
import { type ResourceType, resourceType } from "../kube/resources.ts";
import type { SwhNodeReport } from "./report.ts";
import { REPORT_KIND, REPORT_PLURAL, SWH_GROUP, SWH_KIND, SWH_PLURAL, SWH_VERSION } from "./names.ts";
import type { ServiceWithHealthchecks } from "./schema.ts";

/** `servicewithhealthchecks.network.deckhouse.io/v1alpha1`, namespaced. */
export const SwhResource: ResourceType<ServiceWithHealthchecks> = resourceType<ServiceWithHealthchecks>({
  group: SWH_GROUP,
  version: SWH_VERSION,
  plural: SWH_PLURAL,
  kind: SWH_KIND,
  namespaced: true,
});

/** `servicewithhealthchecksnodereports.network.deckhouse.io/v1alpha1`, namespaced (the operator namespace). */
export const ReportResource: ResourceType<SwhNodeReport> = resourceType<SwhNodeReport>({
  group: SWH_GROUP,
  version: SWH_VERSION,
  plural: REPORT_PLURAL,
  kind: REPORT_KIND,
  namespaced: true,
});
