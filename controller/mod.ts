/**
 * The ServiceWithHealthchecks controller: selector-less Services by server-side apply, status summary,
 * credential mirroring, clean-up of vanished nodes, leader election. Start it with {@link startController}.
 *
 * @module
 */
export { startController, SwhResource } from "./controller.ts";
export type { ControllerHandle, ControllerOptions, LeaderElectionConfig } from "./controller.ts";
export { ConfigError, CONTROLLER_ENV, controllerConfigFromEnv } from "./config.ts";
export { adoptionRequested, desiredService, serviceOwnership } from "./desired_service.ts";
export { desiredStatus } from "./status.ts";
export { aggregateEndpoints } from "./endpoints.ts";
export type { EndpointView } from "./endpoints.ts";
export { credentialRefs, credentialsVerdict, desiredMirroredSecrets } from "./credentials.ts";
export { CREDENTIALS_KEY, ReconcileError, reconcileSwh } from "./reconcile.ts";
export { reconcileCredentials } from "./mirror.ts";
