/**
 * Thin typed Kubernetes client for Deno: config, transport, typed resources, watch and informer.
 *
 * @module
 */
import { loadConfig } from "./config.ts";
import type { LoadConfigOptions } from "./config.ts";
import { HttpTransport } from "./transport.ts";
import type { TransportOptions } from "./transport.ts";

export * from "./errors.ts";
export * from "./config.ts";
export * from "./transport.ts";
export * from "./resources.ts";
export * from "./api.ts";
export * from "./watch.ts";
export * from "./informer.ts";
export * from "./workqueue.ts";

/**
 * Loads the configuration ({@link loadConfig}: explicit paths / `$KUBECONFIG`, else in-cluster, else
 * `~/.kube/config`) and opens an {@link HttpTransport}. Close it with `close()` when done.
 * Permissions: those of {@link loadConfig} plus `--allow-net=<apiserver>`.
 */
export async function connect(opts: LoadConfigOptions & TransportOptions = {}): Promise<HttpTransport> {
  return new HttpTransport(await loadConfig(opts), opts);
}
