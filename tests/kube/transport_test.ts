/**
 * Unit tests of the transport's retry policy and decoding, against tiny loopback HTTP/TCP servers that
 * produce the failures on demand (429, 5xx, dropped connections, 401) which a real apiserver cannot.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  backoffDelay,
  fileToken,
  HttpTransport,
  KubeApiError,
  KubeTransportError,
  ndjsonLines,
  ndjsonRecords,
  parseRetryAfter,
} from "../../kube/mod.ts";
import type { ClusterConnection } from "../../kube/mod.ts";

const signal = new AbortController().signal;
const fastRetry = { retry: { initialDelayMs: 5, maxDelayMs: 2_000, maxAttempts: 4 } };

function conn(port: number, extra: Partial<ClusterConnection> = {}): ClusterConnection {
  return { server: `http://127.0.0.1:${port}`, caCerts: [], namespace: "default", source: "test", ...extra };
}

/** Serves `handler` on a loopback port for the duration of `body`. */
async function withServer(
  handler: (req: Request, n: number) => Response | Promise<Response>,
  body: (port: number, calls: () => number) => Promise<void>,
): Promise<void> {
  let n = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => handler(req, ++n),
  );
  try {
    await body(server.addr.port, () => n);
  } finally {
    await server.shutdown();
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

Deno.test("transport: 429 is retried after Retry-After, then succeeds", async () => {
  await withServer(
    (_req, n) =>
      n === 1
        ? json(429, { kind: "Status", code: 429, reason: "TooManyRequests" }, { "Retry-After": "1" })
        : json(200, { ok: 1 }),
    async (port, calls) => {
      const t = new HttpTransport(conn(port), fastRetry);
      try {
        const started = performance.now();
        assertEquals(await t.request({ method: "POST", path: "/x", body: {}, signal }), { ok: 1 });
        assertEquals(calls(), 2);
        assert(performance.now() - started >= 950, "waited for Retry-After");
      } finally {
        t.close();
      }
    },
  );
});

Deno.test("transport: 5xx retried for GET, not for POST; 4xx never; Status decoded with causes", async () => {
  const status422 = {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code: 422,
    reason: "Invalid",
    message: 'Pod "x" is invalid',
    details: {
      causes: [{ type: "FieldValueRequired", field: "spec.containers", message: "Required value" }],
    },
  };
  await withServer(
    (req, n) => {
      const url = new URL(req.url);
      if (url.pathname === "/flaky") {
        return n % 2 === 1 ? json(503, { kind: "Status", code: 503 }) : json(200, { n });
      }
      if (url.pathname === "/post") return json(500, { kind: "Status", code: 500, reason: "InternalError" });
      if (url.pathname === "/invalid") return json(422, status422);
      return new Response("plain text failure", { status: 404 });
    },
    async (port, calls) => {
      const t = new HttpTransport(conn(port), fastRetry);
      try {
        assertEquals(await t.request({ method: "GET", path: "/flaky", signal }), { n: 2 });
        assertEquals(calls(), 2);

        const post = await assertRejects(
          () => t.request({ method: "POST", path: "/post", body: {}, signal }),
          KubeApiError,
        );
        assertEquals(post.code, 500);
        assertEquals(calls(), 3, "POST not retried after 500");

        const idem = await assertRejects(
          () => t.request({ method: "POST", path: "/post", body: {}, idempotent: true, signal }),
          KubeApiError,
        );
        assertEquals(idem.reason, "InternalError");
        assertEquals(calls(), 3 + 4, "idempotent POST retried up to maxAttempts");

        const invalid = await assertRejects(
          () => t.request({ method: "GET", path: "/invalid", signal }),
          KubeApiError,
        );
        assertEquals(calls(), 8, "422 not retried");
        assertEquals(invalid.reason, "Invalid");
        assertEquals(invalid.causes, status422.details.causes);

        const notFound = await assertRejects(
          () => t.request({ method: "GET", path: "/nothing", query: { a: "b c", skip: undefined }, signal }),
          KubeApiError,
        );
        assertEquals(notFound.code, 404);
        assertEquals(notFound.reason, "NotFound");
        assertEquals(notFound.status.message, "plain text failure");
        assertEquals(notFound.path, "/nothing?a=b+c");
      } finally {
        t.close();
      }
    },
  );
});

Deno.test("transport: 401 re-reads a rotated token file once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, "old");
    await withServer(
      (req) =>
        req.headers.get("authorization") === "Bearer new"
          ? json(200, { authed: true })
          : json(401, { kind: "Status", code: 401, reason: "Unauthorized" }),
      async (port, calls) => {
        const token = fileToken(`${dir}/token`);
        const t = new HttpTransport(conn(port, { token }), fastRetry);
        try {
          await assertRejects(() => t.request({ method: "GET", path: "/", signal }), KubeApiError);
          assertEquals(calls(), 2, "one re-read and retry after 401");
          await Deno.writeTextFile(`${dir}/token`, "new");
          assertEquals(await t.request({ method: "GET", path: "/", signal }), { authed: true });
        } finally {
          t.close();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A raw TCP server: connection number n is handled by `handle(conn, n)`. */
async function withTcp(
  handle: (c: Deno.TcpConn, n: number) => Promise<void>,
  body: (port: number, connections: () => number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let n = 0;
  const loop = (async () => {
    for await (const c of listener) {
      const k = ++n;
      handle(c, k).catch(() => {}).finally(() => {
        try {
          c.close();
        } catch { /* already closed */ }
      });
    }
  })();
  try {
    await body((listener.addr as Deno.NetAddr).port, () => n);
  } finally {
    listener.close();
    await loop.catch(() => {});
  }
}

async function readRequest(c: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const r = await c.read(buf);
    if (r === null) return;
    text += new TextDecoder().decode(buf.subarray(0, r));
  }
}

Deno.test("transport: dropped connection retried for GET, surfaced as sent for POST", async () => {
  const ok =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n" +
    '{"ok":true}';
  await withTcp(
    async (c, n) => {
      await readRequest(c);
      if (n % 2 === 0) await c.write(new TextEncoder().encode(ok));
      // odd connections: close without answering
    },
    async (port, connections) => {
      const t = new HttpTransport(conn(port), fastRetry);
      try {
        assertEquals(await t.request({ method: "GET", path: "/", signal }), { ok: true });
        assertEquals(connections(), 2);
        const err = await assertRejects(
          () => t.request({ method: "POST", path: "/", body: { a: 1 }, signal }),
          KubeTransportError,
        );
        assertEquals(err.sent, true);
        assertEquals(connections(), 3, "POST not repeated after an ambiguous failure");
      } finally {
        t.close();
      }
    },
  );
});

Deno.test("transport: connection refused is retried even for POST, then reported as not sent", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const t = new HttpTransport(conn(port), { retry: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 } });
  try {
    const err = await assertRejects(
      () => t.request({ method: "POST", path: "/", body: {}, signal }),
      KubeTransportError,
    );
    assertEquals(err.sent, false);
  } finally {
    t.close();
  }
});

Deno.test("transport: abort signal cancels a pending request", async () => {
  await withServer(
    // Answers only once the client has gone away.
    (req) =>
      new Promise<Response>((resolve) =>
        req.signal.addEventListener("abort", () => resolve(new Response("late")))
      ),
    async (port) => {
      const t = new HttpTransport(conn(port), fastRetry);
      try {
        const ac = new AbortController();
        const pending = t.request({ method: "GET", path: "/", signal: ac.signal });
        ac.abort(new Error("stop"));
        const err = await assertRejects(() => pending, Error);
        assertEquals(err.message, "stop");
      } finally {
        t.close();
      }
    },
  );
});

Deno.test("transport helpers: backoff is capped and jittered; Retry-After parsing; NDJSON split across chunks", async () => {
  assertEquals(backoffDelay(1, 100, 1000, () => 0), 50);
  assertEquals(backoffDelay(1, 100, 1000, () => 1), 100);
  assertEquals(backoffDelay(3, 100, 1000, () => 1), 400);
  assertEquals(backoffDelay(20, 100, 1000, () => 1), 1000);
  assertEquals(backoffDelay(20, 100, 1000, () => 0), 500);
  assertEquals(parseRetryAfter("3"), 3);
  assertEquals(parseRetryAfter(null), undefined);
  assertEquals(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), undefined);

  const bytes = new TextEncoder().encode('{"a":"é"}\n\n{"b":2}\n{"c":3}');
  const chunks = [bytes.slice(0, 7), bytes.slice(7, 8), bytes.slice(8, 15), bytes.slice(15)];
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const lines: string[] = [];
  for await (const line of ndjsonLines(stream)) lines.push(line);
  assertEquals(lines, ['{"a":"é"}', '{"b":2}', '{"c":3}']);

  // Sizes are bytes on the wire: "é" is two, the blank line counts into the next record, all add up.
  const records: Array<{ line: string; bytes: number }> = [];
  const again = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  for await (const record of ndjsonRecords(again)) records.push(record);
  assertEquals(records, [
    { line: '{"a":"é"}', bytes: 11 },
    { line: '{"b":2}', bytes: 9 },
    { line: '{"c":3}', bytes: 7 },
  ]);
  assertEquals(records.reduce((sum, r) => sum + r.bytes, 0), bytes.length);
});
