/** Real-socket tests of the TCP probe: open, refused, never answering, cancelled, invalid target. */
import assert from "node:assert/strict";
import { probeTcp } from "./tcp.ts";
import { freePort } from "../tools/cluster/network.ts";
import { blockEventLoop, guardProcess, startBlackHole, startSilentListener } from "./testing.ts";
import type { TcpProbeSpec } from "./types.ts";

const spec = (timeoutSeconds = 1): TcpProbeSpec => ({
  mode: "TCP",
  timeoutSeconds,
  successThreshold: 1,
  failureThreshold: 1,
});

Deno.test("tcp: open port passes", async () => {
  await using l = await startSilentListener();
  const r = await probeTcp({ ip: "127.0.0.1", port: l.port }, spec());
  assert.equal(r.ok, true, r.reason);
  assert.equal(r.reason, "connected");
});

Deno.test("tcp: IPv6 loopback passes", async () => {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  try {
    const r = await probeTcp({ ip: "::1", port: (l.addr as Deno.NetAddr).port }, spec());
    assert.equal(r.ok, true, r.reason);
  } finally {
    l.close();
  }
});

Deno.test("tcp: closed port fails fast with 'refused'", async () => {
  const r = await probeTcp({ ip: "127.0.0.1", port: freePort() }, spec(5));
  assert.equal(r.ok, false);
  assert.match(r.reason, /refused/i);
  assert.equal(r.timedOut, undefined, "an answer from the target is not a timeout");
  assert.ok(r.durationMs < 1000, `took ${r.durationMs} ms`);
});

Deno.test("tcp: a port that never answers times out within the timeout + margin", async () => {
  await using hole = await startBlackHole();
  const t0 = performance.now();
  const r = await probeTcp({ ip: "127.0.0.1", port: hole.port }, spec(1));
  const took = performance.now() - t0;
  assert.equal(r.ok, false);
  assert.match(r.reason, /^timeout after 1s \(connect\)$/);
  assert.equal(r.timedOut, true);
  assert.ok(r.deadlineLateMs! >= 0, `deadline late by ${r.deadlineLateMs}`);
  assert.ok(took >= 990 && took < 1300, `took ${took} ms`);
});

Deno.test("tcp: a deadline that fires while the event loop is blocked reports how late it fired", async () => {
  await using hole = await startBlackHole();
  const pending = probeTcp({ ip: "127.0.0.1", port: hole.port }, spec(0.2));
  blockEventLoop(700); // the 200 ms deadline is due in the middle of this
  const r = await pending;
  assert.equal(r.reason, "timeout after 0.2s (connect)");
  assert.equal(r.timedOut, true);
  assert.ok(r.deadlineLateMs! >= 400 && r.deadlineLateMs! < 2_000, `deadline late by ${r.deadlineLateMs}`);
});

Deno.test("tcp: caller abort cancels a pending connect promptly", async () => {
  await using hole = await startBlackHole();
  const controller = new AbortController();
  const t0 = performance.now();
  const pending = probeTcp({ ip: "127.0.0.1", port: hole.port }, spec(10), controller.signal);
  setTimeout(() => controller.abort(), 100);
  const r = await pending;
  assert.equal(r.ok, false);
  assert.match(r.reason, /cancelled/);
  assert.equal(r.timedOut, undefined, "the caller's abort is not the target's timeout");
  assert.ok(performance.now() - t0 < 500);
});

Deno.test("tcp: names and bad ports are refused without any lookup or crash", async () => {
  using guard = guardProcess();
  for (
    const target of [{ ip: "localhost", port: 80 }, { ip: "127.0.0.1", port: 0 }, {
      ip: "127.0.0.1",
      port: 70000,
    }]
  ) {
    const r = await probeTcp(target, spec());
    assert.equal(r.ok, false);
    assert.match(r.reason, /^invalid probe: /);
  }
  guard.assertClean();
});
