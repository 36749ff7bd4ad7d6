/**
 * Runs one probe of any mode: the single entry point the scheduler and the agent call.
 *
 * The HTTP and PostgreSQL probes are loaded on their first use: they bring Deno's Node compatibility layer
 * (`node:net`, `node:tls`) and the npm `postgres` driver, ~11 MiB of resident memory together (bench/memory.ts),
 * which an agent whose probes are all TCP never needs. The specifiers are string literals, so `deno compile`
 * still embeds both modules and `deno run` needs no read permission for them.
 *
 * @module
 */
import { importOnce } from "../ops/import_once.ts";
import { describeError } from "./deadline.ts";
import { probeTcp } from "./tcp.ts";
import type { ProbeResult, ProbeSpec, ProbeTarget } from "./types.ts";

/** The HTTP probe module, imported once. */
const loadHttp = importOnce(() => import("./http.ts"));

/** The PostgreSQL probe module, imported once. */
const loadPostgres = importOnce(() => import("./postgres.ts"));

/**
 * Dispatches on `spec.mode`. Never rejects: an unknown mode or a bug inside a probe becomes `ok: false`, because
 * one bad probe definition must not take down the agent probing every other endpoint.
 *
 * The first HTTP or PostgreSQL probe of the process waits for its module to load (tens of milliseconds) before
 * its own timeout starts.
 */
export async function runProbe(
  target: ProbeTarget,
  spec: ProbeSpec,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const startedAt = performance.now();
  try {
    switch (spec.mode) {
      case "TCP":
        return await probeTcp(target, spec, signal);
      case "HTTP":
        if (!spec.http) break;
        return await (await loadHttp()).probeHttp(target, spec, signal);
      case "PostgreSQL":
        if (!spec.postgreSQL) break;
        return await (await loadPostgres()).probePostgres(target, spec, signal);
    }
    const mode = (spec as { mode?: unknown }).mode;
    return failed(`invalid probe: mode ${JSON.stringify(mode)} without its settings block`, startedAt);
  } catch (error) {
    return failed(`internal error: ${describeError(error)}`, startedAt);
  }
}

function failed(reason: string, startedAt: number): ProbeResult {
  return { ok: false, reason, durationMs: Math.round((performance.now() - startedAt) * 10) / 10 };
}
