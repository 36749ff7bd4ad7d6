/**
 * The operational HTTP endpoints of both programs: `/healthz`, `/readyz` and Prometheus `/metrics` (hono), the
 * latter with the process and build-info metrics of ops/process_metrics.ts after the program's own.
 */
import { Hono } from "hono";
import type { Registry } from "./metrics.ts";
import { processMetrics } from "./process_metrics.ts";

/** A named readiness check; returns undefined when ready, or the reason it is not. */
export type ReadinessCheck = () => string | undefined;

/** What the endpoints report on. */
export interface OpsOptions {
  registry: Registry;
  /** Liveness: false once the process is wedged (e.g. its main loop stopped); default always live. */
  live?: () => boolean;
  /** Readiness checks by name (e.g. `caches-synced`). */
  readiness?: Record<string, ReadinessCheck>;
  /**
   * Serve `process_*` and `swh_build_info` after the registry's metrics (default true): every program gets them
   * without registering them itself.
   */
  processMetrics?: boolean;
}

/** Builds the hono app; testable in-process with `app.request(...)`. */
export function opsApp(options: OpsOptions): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => (options.live?.() ?? true) ? c.text("ok") : c.text("not live", 500));
  app.get("/readyz", (c) => {
    const failing = Object.entries(options.readiness ?? {})
      .map(([name, check]) => [name, check()] as const)
      .filter(([, reason]) => reason !== undefined);
    if (failing.length === 0) return c.text("ok");
    return c.text(failing.map(([name, reason]) => `${name}: ${reason}`).join("\n"), 503);
  });
  app.get(
    "/metrics",
    (c) =>
      c.body(
        options.registry.expose() + (options.processMetrics === false ? "" : processMetrics()),
        200,
        { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      ),
  );
  return app;
}

/** Serves {@link opsApp} on `port` (0 picks a free one) until `signal` aborts; returns the bound port. */
export function serveOps(
  options: OpsOptions & { port: number; hostname?: string; signal?: AbortSignal },
): number {
  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "0.0.0.0",
    signal: options.signal,
    onListen: () => {},
  }, opsApp(options).fetch);
  return server.addr.port;
}
