/**
 * ServiceWithHealthchecks for Kubernetes: the command-line entry point, installed as the kubectl plugin
 * `kubectl swh` (`./deno task install-plugin`; cli/kubectl-swh runs this file with narrowed permissions).
 *
 * ```sh
 * kubectl swh status postgres-write -n my-ns        # conditions, counts, Service, pods and why, reports, Events
 * kubectl swh explain postgres-write -n my-ns       # which pods are in or out of the slices, and why
 * kubectl swh convert service.yaml > swh.yaml       # migrate a Service (see README "Migrating a Service")
 * ./deno run -A mod.ts status my-ns/postgres-write  # the same without the plugin
 * ```
 *
 * @module
 */
import { denoIo, runCli } from "./cli/main.ts";

export { runCli } from "./cli/main.ts";

// Ctrl-C keeps its default meaning (exit at once, also out of `--watch`): nothing here needs cleaning up.
if (import.meta.main) Deno.exit(await runCli(Deno.args, denoIo()));
