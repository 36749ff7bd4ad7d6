/**
 * Shared plumbing of the probe runners: one deadline per probe, result construction, short error texts.
 *
 * @module
 */
import { ipVersion } from "./ip.ts";
import type { ProbeResult, ProbeTarget } from "./types.ts";

/** A probe whose configuration cannot work (bad target, header, PEM...); reported as a failure, never thrown out. */
export class ProbeConfigError extends Error {
  /** @param message what is wrong, naming the field */
  constructor(message: string) {
    super(message);
    this.name = "ProbeConfigError";
  }
}

/**
 * Rejects targets that are not an IP literal and a valid port. Probes must never resolve names: the destination
 * is the endpoint's address, whatever `host` says.
 */
export function checkTarget(target: ProbeTarget): void {
  if (typeof target.ip !== "string" || ipVersion(target.ip) === 0) {
    throw new ProbeConfigError(`target ip ${JSON.stringify(target.ip)} is not an IP address`);
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new ProbeConfigError(`target port ${target.port} is out of range 1-65535`);
  }
}

/** A probe's abort signal plus the disposal of its timer. */
export interface Deadline {
  /** Aborts when the timeout elapses or the caller's signal aborts, whichever comes first. */
  readonly signal: AbortSignal;
  /** True when the deadline (not the caller) caused the abort. */
  timedOut(): boolean;
  /**
   * How late (ms) the deadline's timer fired, 0 while it has not: time the process itself could not run (busy
   * event loop, CPU starvation) right when the target's time was up.
   */
  lateMs(): number;
  /** Clears the timer; call exactly once when the probe is over. */
  dispose(): void;
}

/**
 * Starts a deadline of `timeoutSeconds` linked to an optional caller signal.
 *
 * A plain setTimeout is used rather than `AbortSignal.timeout` so the timer is cleared the moment the probe
 * ends: thousands of probes per second must not leave thousands of pending timers behind.
 */
export function startDeadline(timeoutSeconds: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  let late = 0;
  const ms = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 : 1000;
  const dueAt = performance.now() + ms;
  const timer = setTimeout(() => {
    expired = true;
    late = Math.max(0, performance.now() - dueAt);
    controller.abort(new DOMException(`timed out after ${timeoutSeconds}s`, "TimeoutError"));
  }, ms);
  const onParentAbort = () => controller.abort(parent?.reason ?? new DOMException("aborted", "AbortError"));
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => expired,
    lateMs: () => late,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}

/** Builds a result with the duration measured from `startedAt` (a `performance.now()` value). */
export function result(ok: boolean, reason: string, startedAt: number): ProbeResult {
  return { ok, reason, durationMs: Math.round((performance.now() - startedAt) * 10) / 10 };
}

/**
 * The failed result of a probe that threw: {@link failureReason} as text, and the `timedOut` marker (with the
 * deadline's own lateness) when the deadline caused it, so the scheduler can tell our lateness from the target's.
 */
export function failedResult(
  error: unknown,
  deadline: Deadline,
  phase: string,
  timeoutSeconds: number,
  startedAt: number,
): ProbeResult {
  const r = result(false, failureReason(error, deadline, phase, timeoutSeconds), startedAt);
  return deadline.timedOut() ? { ...r, timedOut: true, deadlineLateMs: Math.round(deadline.lateMs()) } : r;
}

/** Explains why a probe failed: a timeout names the phase it hung in, anything else its error message. */
export function failureReason(
  error: unknown,
  deadline: Deadline,
  phase: string,
  timeoutSeconds: number,
): string {
  if (deadline.timedOut()) return `timeout after ${timeoutSeconds}s (${phase})`;
  if (deadline.signal.aborted) return `cancelled (${phase})`;
  if (error instanceof ProbeConfigError) return `invalid probe: ${error.message}`;
  return `${phase}: ${describeError(error)}`;
}

/**
 * The operating system's words for the socket errors every probe meets, by errno name: Deno's own errors
 * already say "Connection refused", Node-style ones (the npm PostgreSQL driver's) say "connect ECONNREFUSED
 * 10.0.0.1:5432". One failure must read the same whichever probe saw it.
 */
const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "Connection refused",
  ECONNRESET: "Connection reset by peer",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  ETIMEDOUT: "Connection timed out",
  EPIPE: "Broken pipe",
};

/** A one-line description of an error, without Deno's "(os error N)" suffix and without stack traces. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && SYSTEM_ERRORS[code]) return SYSTEM_ERRORS[code];
  const text = error instanceof Error ? error.message || error.name : String(error);
  const errno = /\b(E[A-Z]{3,})\b/.exec(text)?.[1];
  if (errno && SYSTEM_ERRORS[errno]) return SYSTEM_ERRORS[errno];
  const line = text.split("\n", 1)[0].replace(/\s*\(os error \d+\)$/, "").trim();
  return line.length > 200 ? `${line.slice(0, 197)}...` : line || "unknown error";
}
