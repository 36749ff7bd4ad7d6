/**
 * Runs one probe of any mode: the single entry point the scheduler and the agent call.
 *
 * @module
 */
import { describeError } from "./deadline.ts";
import { probeHttp } from "./http.ts";
import { probePostgres } from "./postgres.ts";
import { probeTcp } from "./tcp.ts";
import type { ProbeResult, ProbeSpec, ProbeTarget } from "./types.ts";

/**
 * Dispatches on `spec.mode`. Never rejects: an unknown mode or a bug inside a probe becomes `ok: false`, because
 * one bad probe definition must not take down the agent probing every other endpoint.
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
        return await probeHttp(target, spec, signal);
      case "PostgreSQL":
        if (!spec.postgreSQL) break;
        return await probePostgres(target, spec, signal);
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
