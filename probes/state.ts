/**
 * Pure health state machine per (endpoint, probe) with thresholds, initial delay and seeding; plus the AND
 * over an endpoint's probes.
 *
 * @module
 */
import type { ProbeResult } from "./types.ts";

/** The parts of a probe definition that drive its state. */
export interface ProbePolicy {
  /** Results are ignored (and probes not run) until this many seconds after the endpoint started. */
  readonly initialDelaySeconds: number;
  /** Consecutive successes to turn healthy (values below 1 count as 1). */
  readonly successThreshold: number;
  /** Consecutive failures to turn unhealthy (values below 1 count as 1). */
  readonly failureThreshold: number;
}

/** State of one probe of one endpoint. Immutable: transitions return a new object. */
export interface ProbeState {
  /** Current verdict. */
  readonly healthy: boolean;
  /** Consecutive successes since the last failure. */
  readonly successes: number;
  /** Consecutive failures since the last success. */
  readonly failures: number;
  /** Results observed before this time (ms, same clock as the caller's) are ignored: the initial delay. */
  readonly activeFromMs: number;
  /** The latest counted result, if any. */
  readonly last?: ProbeResult;
  /** Time (ms) of the latest change of `healthy`, or of creation. */
  readonly sinceMs: number;
}

/**
 * A fresh state. Without a seed an endpoint starts unhealthy and must pass `successThreshold` times; a seed of
 * `true` (an agent restart adopting what its slices already publish) starts it healthy so that only
 * `failureThreshold` consecutive failures withdraw it, and skips the initial delay: it was verified before.
 */
export function initialProbeState(
  policy: ProbePolicy,
  startedAtMs: number,
  nowMs: number,
  seedHealthy = false,
): ProbeState {
  const activeFromMs = seedHealthy ? nowMs : startedAtMs + Math.max(0, policy.initialDelaySeconds) * 1000;
  return { healthy: seedHealthy, successes: 0, failures: 0, activeFromMs, sinceMs: nowMs };
}

/** Applies one result observed at `atMs`; returns the same object when the result is ignored. */
export function nextProbeState(
  state: ProbeState,
  policy: ProbePolicy,
  result: ProbeResult,
  atMs: number,
): ProbeState {
  if (atMs < state.activeFromMs) return state;
  const successes = result.ok ? state.successes + 1 : 0;
  const failures = result.ok ? 0 : state.failures + 1;
  let healthy = state.healthy;
  if (!healthy && successes >= Math.max(1, policy.successThreshold)) healthy = true;
  if (healthy && failures >= Math.max(1, policy.failureThreshold)) healthy = false;
  const sinceMs = healthy === state.healthy ? state.sinceMs : atMs;
  return { healthy, successes, failures, activeFromMs: state.activeFromMs, last: result, sinceMs };
}

/** An endpoint is healthy iff every probe is; an endpoint without probes is healthy (a plain Service). */
export function endpointHealthy(states: Iterable<ProbeState>): boolean {
  for (const s of states) if (!s.healthy) return false;
  return true;
}
