/**
 * Entry point of the controller. Run it with the permissions in deploy/permissions.ts
 * (`CONTROLLER_PERMISSIONS`; the container build compiles with the same flags): `--allow-net` (the apiserver,
 * and listening on SWH_OPS_PORT), `--allow-env=<the variables in CONTROLLER_ENV>`, `--allow-read` of the
 * service-account directory (plus the kubeconfig and the files it names, outside a cluster).
 * SIGTERM/SIGINT stop reconciling, release the leader Lease and exit 0.
 *
 * @module
 */
import { createLogger } from "../ops/log.ts";
import { startController } from "./controller.ts";
import { controllerConfigFromEnv } from "./config.ts";

/** Starts the controller from the environment and runs it until SIGTERM or SIGINT; returns the exit code. */
export async function main(): Promise<number> {
  const log = createLogger("controller");
  let options;
  try {
    options = controllerConfigFromEnv((name) => Deno.env.get(name));
  } catch (error) {
    log.error("invalid configuration", { error });
    return 2;
  }
  let handle;
  try {
    handle = await startController({ ...options, logger: log });
  } catch (error) {
    log.error("cannot start", { error });
    return 1;
  }
  log.info("controller started", { identity: options.identity, namespace: options.operatorNamespace });
  const signalled = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => signalled.resolve(name);
  const term = onSignal("SIGTERM");
  const int = onSignal("SIGINT");
  Deno.addSignalListener("SIGTERM", term);
  Deno.addSignalListener("SIGINT", int);
  const name = await signalled.promise;
  log.info("shutting down", { signal: name });
  await handle.stop();
  Deno.removeSignalListener("SIGTERM", term);
  Deno.removeSignalListener("SIGINT", int);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
