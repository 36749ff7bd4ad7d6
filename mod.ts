/**
 * ServiceWithHealthchecks for Kubernetes: command-line entry point and public exports.
 *
 * @module
 */
if (import.meta.main) {
  console.log("usage: deno run mod.ts <verb>  (verbs arrive with the controller and agent)");
}
