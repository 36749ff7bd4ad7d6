/** Unit tests of the per-probe state machine and the endpoint AND. */
import assert from "node:assert/strict";
import { endpointHealthy, initialProbeState, nextProbeState } from "./state.ts";
import type { ProbePolicy, ProbeState } from "./state.ts";

const ok = { ok: true, reason: "ok", durationMs: 1 };
const bad = { ok: false, reason: "bad", durationMs: 1 };
const policy = (
  successThreshold: number,
  failureThreshold: number,
  initialDelaySeconds = 0,
): ProbePolicy => ({
  successThreshold,
  failureThreshold,
  initialDelaySeconds,
});

function feed(state: ProbeState, p: ProbePolicy, results: boolean[], startMs = 0): boolean[] {
  const verdicts: boolean[] = [];
  results.forEach((r, i) => {
    state = nextProbeState(state, p, r ? ok : bad, startMs + i * 1000);
    verdicts.push(state.healthy);
  });
  return verdicts;
}

Deno.test("state: a new endpoint starts unhealthy and needs successThreshold passes", () => {
  const p = policy(3, 1);
  const s = initialProbeState(p, 0, 0);
  assert.equal(s.healthy, false);
  assert.deepEqual(feed(s, p, [true, true, false, true, true, true]), [
    false,
    false,
    false,
    false,
    false,
    true,
  ]);
});

Deno.test("state: failureThreshold consecutive failures withdraw; a success resets the count", () => {
  const p = policy(1, 3);
  const s = initialProbeState(p, 0, 0);
  assert.deepEqual(
    feed(s, p, [true, false, false, true, false, false, false, true]),
    [true, true, true, true, true, true, false, true],
  );
});

Deno.test("state: thresholds below 1 behave as 1", () => {
  const p = policy(0, 0);
  assert.deepEqual(feed(initialProbeState(p, 0, 0), p, [true, false, true]), [true, false, true]);
});

Deno.test("state: results during the initial delay are ignored", () => {
  const p = policy(1, 1, 10);
  const s = initialProbeState(p, 5_000, 5_000);
  assert.equal(s.activeFromMs, 15_000);
  assert.equal(nextProbeState(s, p, ok, 14_999), s);
  assert.equal(nextProbeState(s, p, ok, 15_000).healthy, true);
  // The delay counts from when the endpoint started, not from when the agent first saw it.
  assert.equal(initialProbeState(p, 0, 60_000).activeFromMs, 10_000);
});

Deno.test("state: a seeded endpoint starts healthy, skips the delay and needs failureThreshold failures", () => {
  const p = policy(2, 2, 30);
  const s = initialProbeState(p, 0, 1_000, true);
  assert.equal(s.healthy, true);
  assert.equal(s.activeFromMs, 1_000);
  assert.deepEqual(feed(s, p, [false, true, false, false], 1_000), [true, true, true, false]);
});

Deno.test("state: transitions record the time of change and the last result", () => {
  const p = policy(1, 1);
  const s0 = initialProbeState(p, 0, 0);
  const s1 = nextProbeState(s0, p, ok, 500);
  assert.equal(s1.sinceMs, 500);
  assert.equal(s1.last, ok);
  const s2 = nextProbeState(s1, p, ok, 900);
  assert.equal(s2.sinceMs, 500);
  assert.equal(s0.healthy, false, "states are immutable");
});

Deno.test("state: an endpoint is healthy iff all its probes are; no probes means healthy", () => {
  const p = policy(1, 1);
  const up = initialProbeState(p, 0, 0, true);
  const down = initialProbeState(p, 0, 0);
  assert.equal(endpointHealthy([up, up]), true);
  assert.equal(endpointHealthy([up, down]), false);
  assert.equal(endpointHealthy([]), true);
});
