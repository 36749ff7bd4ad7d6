/** The ServiceWithHealthchecks resource as the kube client addresses it (shared by controller, agent and CLI). */
import { type ResourceType, resourceType } from "../kube/resources.ts";
import { type ServiceWithHealthchecks, SWH_GROUP, SWH_KIND, SWH_PLURAL, SWH_VERSION } from "./schema.ts";

/** `servicewithhealthchecks.network.deckhouse.io/v1alpha1`, namespaced. */
export const SwhResource: ResourceType<ServiceWithHealthchecks> = resourceType<ServiceWithHealthchecks>({
  group: SWH_GROUP,
  version: SWH_VERSION,
  plural: SWH_PLURAL,
  kind: SWH_KIND,
  namespaced: true,
});
