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
export { desiredStatus, endpointCounts } from "./status.ts";
export { credentialRefs, credentialsVerdict, desiredMirroredSecrets } from "./credentials.ts";
export { CREDENTIALS_KEY, reconcileCredentials, ReconcileError, reconcileSwh } from "./reconcile.ts";
