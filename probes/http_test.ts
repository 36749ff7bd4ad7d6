/** Real-server tests of the HTTP(S) probe, including servers that misbehave on purpose. */
import assert from "node:assert/strict";
import { MAX_BODY_BYTES, probeHttp } from "./http.ts";
import type { HttpExchange } from "./http.ts";
import { makeTestPki } from "../tests/support/postgres.ts";
import type { TestPki } from "../tests/support/postgres.ts";
import {
  guardProcess,
  respond,
  startRawHttpServer,
  startSilentListener,
  streamBody,
  trickle,
} from "./testing.ts";
import type { HttpProbeOptions, HttpProbeSpec } from "./types.ts";

const spec = (http: Partial<HttpProbeOptions>, timeoutSeconds = 2): HttpProbeSpec => ({
  mode: "HTTP",
  timeoutSeconds,
  successThreshold: 1,
  failureThreshold: 1,
  http: { path: "/", method: "GET", scheme: "HTTP", ...http },
});

/** A server answering `/status/<code>` with that code, `/slow-*` and `/big` as their names say. */
function routes(): Parameters<typeof startRawHttpServer>[0] {
  return (req, socket, written) => {
    const code = /^\/status\/(\d{3})$/.exec(req.path);
    if (code) {
      return respond(
        socket,
        Number(code[1]),
        Number(code[1]) === 302 ? { Location: "/elsewhere" } : {},
        "hi",
      );
    }
    if (req.path === "/slow-headers") {
      return trickle(socket, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 300);
    }
    if (req.path === "/slow-body") {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
      return trickle(socket, "x".repeat(1000), 200);
    }
    if (req.path === "/big") {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
      return streamBody(socket, 100 * 1024 * 1024, written);
    }
    if (req.path === "/chunked") {
      return void socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    }
    if (req.path === "/close-delimited") return void socket.end("HTTP/1.0 200 OK\r\n\r\nsome body");
    if (req.path === "/garbage") return void socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    respond(socket, 200, {}, "ok");
  };
}

Deno.test("http: status codes, expected-code lists, redirects not followed", async () => {
  await using srv = await startRawHttpServer(routes());
  const t = { ip: "127.0.0.1", port: srv.port };
  const cases: [string, Partial<HttpProbeOptions>, boolean, RegExp][] = [
    ["200", { path: "/status/200" }, true, /^HTTP 200$/],
    ["302 counts as success, not followed", { path: "/status/302" }, true, /^HTTP 302$/],
    ["404", { path: "/status/404" }, false, /^HTTP 404 \(expected 200-399\)$/],
    ["500", { path: "/status/500" }, false, /^HTTP 500/],
    ["404 expected", { path: "/status/404", expectedStatusCodes: [404] }, true, /^HTTP 404$/],
    [
      "302 outside 200-299",
      { path: "/status/302", expectedStatusCodes: [{ from: 200, to: 299 }] },
      false,
      /expected 200-299/,
    ],
    [
      "mixed list",
      { path: "/status/500", expectedStatusCodes: [200, { from: 500, to: 503 }] },
      true,
      /^HTTP 500$/,
    ],
    ["chunked body", { path: "/chunked" }, true, /^HTTP 200$/],
    ["close-delimited body", { path: "/close-delimited" }, true, /^HTTP 200$/],
    ["not HTTP", { path: "/garbage" }, false, /not an HTTP\/1.x response/],
  ];
  for (const [name, http, ok, reason] of cases) {
    const r = await probeHttp(t, spec(http));
    assert.equal(r.ok, ok, `${name}: ${r.reason}`);
    assert.match(r.reason, reason, name);
    assert.equal(r.timedOut, undefined, `${name}: an answer is not a timeout`);
  }
  assert.equal(srv.requests.filter((r) => r.path === "/elsewhere").length, 0, "redirect was followed");
});

Deno.test("http: method, HEAD, custom headers and Host go to the pod IP", async () => {
  await using srv = await startRawHttpServer(routes());
  const t = { ip: "127.0.0.1", port: srv.port };
  const r1 = await probeHttp(
    t,
    spec({ path: "/x?y=1", method: "HEAD", httpHeaders: [{ name: "X-Probe", value: "yes" }] }),
  );
  assert.equal(r1.ok, true, r1.reason);
  const r2 = await probeHttp(
    t,
    spec({ host: "shop.example", httpHeaders: [{ name: "Authorization", value: "Bearer t" }] }),
  );
  assert.equal(r2.ok, true, r2.reason);
  const r3 = await probeHttp(t, spec({ method: "POST" }));
  assert.equal(r3.ok, true, r3.reason);
  const [a, b, c] = srv.requests;
  assert.equal(a.method, "HEAD");
  assert.equal(a.path, "/x?y=1");
  assert.equal(a.headers.get("x-probe"), "yes");
  assert.equal(a.headers.get("host"), `127.0.0.1:${srv.port}`);
  assert.equal(b.headers.get("host"), "shop.example");
  assert.equal(b.headers.get("authorization"), "Bearer t");
  assert.equal(c.method, "POST");
  assert.equal(c.headers.get("content-length"), "0");
});

Deno.test("http: slow headers and slowloris body fail at the timeout; silent server too", async () => {
  await using srv = await startRawHttpServer(routes());
  await using silent = await startSilentListener();
  for (
    const [port, path, phase] of [
      [srv.port, "/slow-headers", "response headers"],
      [srv.port, "/slow-body", "body"],
      [silent.port, "/", "response headers"],
    ] as const
  ) {
    const t0 = performance.now();
    const r = await probeHttp({ ip: "127.0.0.1", port }, spec({ path }, 1));
    const took = performance.now() - t0;
    assert.equal(r.ok, false, path);
    assert.equal(r.reason, `timeout after 1s (${phase})`);
    assert.equal(r.timedOut, true, path);
    assert.ok(took >= 990 && took < 1300, `${path} took ${took} ms`);
  }
});

Deno.test("http: a 100 MB body is read only to the bound, memory stays flat", async () => {
  await using srv = await startRawHttpServer(routes());
  const rssBefore = Deno.memoryUsage().rss;
  for (let i = 0; i < 5; i++) {
    const exchange: HttpExchange = { bodyBytes: 0, bytesReceived: 0 };
    const r = await probeHttp(
      { ip: "127.0.0.1", port: srv.port },
      spec({ path: "/big" }),
      undefined,
      exchange,
    );
    assert.equal(r.ok, true, r.reason);
    assert.equal(exchange.bodyBytes, MAX_BODY_BYTES);
    // Headers + the bound + at most one socket read beyond it.
    assert.ok(exchange.bytesReceived < 256 * 1024, `received ${exchange.bytesReceived} bytes`);
  }
  assert.ok(srv.written.bytes < 5 * 100 * 1024 * 1024, "server managed to send every body in full");
  const grewMiB = (Deno.memoryUsage().rss - rssBefore) / 1048576;
  assert.ok(grewMiB < 40, `RSS grew by ${grewMiB.toFixed(1)} MiB`);
});

Deno.test("http: refused connection and invalid configuration fail without crashing", async () => {
  using guard = guardProcess();
  await using srv = await startRawHttpServer(routes());
  const t = { ip: "127.0.0.1", port: srv.port };
  const refused = await probeHttp({ ip: "127.0.0.1", port: 1 }, spec({}));
  assert.equal(refused.ok, false);
  assert.match(refused.reason, /^connect: .*refused/i);
  const bad: Partial<HttpProbeOptions>[] = [
    { httpHeaders: [{ name: "X-Evil", value: "a\r\nInjected: 1" }] },
    { httpHeaders: [{ name: "Bad Name", value: "v" }] },
    { path: "/a b" },
    { path: "no-slash" },
    { method: "BREW" as "GET" },
    { host: "a b" },
  ];
  for (const http of bad) {
    const r = await probeHttp(t, spec(http));
    assert.equal(r.ok, false);
    assert.match(r.reason, /^invalid probe: /);
  }
  assert.equal(srv.requests.length, 0, "an invalid request reached the server");
  guard.assertClean();
});

let pkiPromise: Promise<TestPki> | undefined;
const pki = () => pkiPromise ??= makeTestPki(["shop.example"]);

Deno.test("https: trusted CA, untrusted CA, insecure; SNI and Host observed by the server", async () => {
  using guard = guardProcess();
  const p = await pki();
  await using srv = await startRawHttpServer(routes(), { cert: p.serverCert, key: p.serverKey });
  const t = { ip: "127.0.0.1", port: srv.port };
  const https = (http: Partial<HttpProbeOptions>) => probeHttp(t, spec({ scheme: "HTTPS", ...http }));

  const trusted = await https({ caCert: p.caCert, host: "shop.example" });
  assert.equal(trusted.ok, true, trusted.reason);
  const seen = srv.requests.at(-1)!;
  assert.equal(seen.servername, "shop.example");
  assert.equal(seen.headers.get("host"), "shop.example");

  // Without host the chain is verified but no name is: the certificate names shop.example, not the pod IP.
  const noHost = await https({ caCert: p.caCert });
  assert.equal(noHost.ok, true, noHost.reason);
  assert.equal(srv.requests.at(-1)!.servername, undefined, "an IP must not be sent as SNI");
  const noHostUntrusted = await https({ caCert: p.otherCaCert });
  assert.equal(noHostUntrusted.ok, false, "without host, the chain is still verified");

  const wrongName = await https({ caCert: p.caCert, host: "other.example" });
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.reason, /TLS handshake|altnames|match/i);

  const untrusted = await https({ caCert: p.otherCaCert, host: "shop.example" });
  assert.equal(untrusted.ok, false);
  assert.match(untrusted.reason, /verify|certificate/i);

  const systemRoots = await https({ host: "shop.example" });
  assert.equal(systemRoots.ok, false, "a private CA must not pass against the system roots");

  const insecure = await https({ caCert: p.otherCaCert, insecureSkipTLSVerify: true, host: "other.example" });
  assert.equal(insecure.ok, true, insecure.reason);

  const garbageCa = await https({ caCert: "not a pem", host: "shop.example" });
  assert.equal(garbageCa.ok, false);

  const plainToTls = await probeHttp(t, spec({}, 1));
  assert.equal(plainToTls.ok, false, "plain HTTP against a TLS port must fail");
  guard.assertClean();
});

Deno.test("https: a TLS port that never answers the handshake times out", async () => {
  await using silent = await startSilentListener();
  const r = await probeHttp(
    { ip: "127.0.0.1", port: silent.port },
    spec({ scheme: "HTTPS", insecureSkipTLSVerify: true }, 1),
  );
  assert.equal(r.ok, false);
  assert.equal(r.reason, "timeout after 1s (TLS handshake)");
  assert.equal(r.timedOut, true);
});

Deno.test("http: IPv6 target gets a bracketed Host header", async () => {
  await using srv = await startRawHttpServer(routes(), undefined, "::1");
  const r = await probeHttp({ ip: "::1", port: srv.port }, spec({}));
  assert.equal(r.ok, true, r.reason);
  assert.equal(srv.requests[0].headers.get("host"), `[::1]:${srv.port}`);
});

Deno.test("http: servers that close at once, send garbage or huge headers fail cleanly", async () => {
  using guard = guardProcess();
  const servers = [
    await startSilentListener((s) => s.destroy()),
    await startSilentListener((s) => s.end("garbage\r\n\r\n")),
    await startSilentListener((s) =>
      s.write("HTTP/1.1 200 OK\r\n" + "X-Pad: aaaaaaaaaaaaaaaa\r\n".repeat(2000))
    ),
  ];
  try {
    const reasons = [];
    for (const srv of servers) {
      const r = await probeHttp({ ip: "127.0.0.1", port: srv.port }, spec({}, 1));
      assert.equal(r.ok, false);
      reasons.push(r.reason);
    }
    assert.match(reasons[0], /closed without a response|reset/);
    assert.match(reasons[1], /not an HTTP\/1.x response/);
    assert.match(reasons[2], /headers exceed 16384 bytes/);
  } finally {
    for (const srv of servers) await srv[Symbol.asyncDispose]();
  }
  guard.assertClean();
});
