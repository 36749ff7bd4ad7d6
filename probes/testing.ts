/**
 * Test-only helpers for probe tests: raw HTTP(S) servers that misbehave on purpose, silent listeners, a
 * black-hole port, a blocked event loop, and a guard that fails a test on unhandled rejections or uncaught errors.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";

/** One request as the server saw it. */
export interface SeenRequest {
  /** Request line and headers, verbatim. */
  readonly head: string;
  /** Method from the request line. */
  readonly method: string;
  /** Path from the request line. */
  readonly path: string;
  /** Headers, lower-cased names. */
  readonly headers: ReadonlyMap<string, string>;
  /** TLS server name the client sent (HTTPS), or undefined. */
  readonly servername?: string;
}

/** A raw HTTP server under test control. */
export interface RawServer extends AsyncDisposable {
  /** Listening port (on 127.0.0.1 unless another loopback address was asked for). */
  readonly port: number;
  /** Requests received so far. */
  readonly requests: SeenRequest[];
  /** Body bytes the handlers wrote (see {@link streamBody}). */
  readonly written: { bytes: number };
  /** Closes the listener and destroys every connection. */
  close(): Promise<void>;
}

/** Handler for one request: writes whatever it wants to the socket; `written` counts streamed body bytes. */
export type RawHandler = (req: SeenRequest, socket: net.Socket, written: { bytes: number }) => void;

/** Starts a plain (or, with `tlsFiles`, TLS) HTTP server whose handler writes raw bytes. */
export async function startRawHttpServer(
  handler: RawHandler,
  tlsFiles?: { cert: string; key: string },
  hostname = "127.0.0.1",
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const requests: SeenRequest[] = [];
  const written = { bytes: 0 };
  const onSocket = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
    const onData = (chunk: Uint8Array) => {
      buf += new TextDecoder("latin1").decode(chunk);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const head = buf.slice(0, end);
      const [line, ...rest] = head.split("\r\n");
      const [method, path] = line.split(" ");
      const headers = new Map<string, string>();
      for (const h of rest) {
        const i = h.indexOf(":");
        headers.set(h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim());
      }
      const servername = (socket as unknown as { servername?: string | false }).servername || undefined;
      const req = { head, method, path, headers, servername };
      requests.push(req);
      handler(req, socket, written);
    };
    socket.on("data", onData);
  };
  const listener: net.Server = tlsFiles
    ? tls.createServer({ cert: tlsFiles.cert, key: tlsFiles.key }, onSocket)
    : net.createServer(onSocket);
  listener.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => listener.listen(0, hostname, () => resolve()));
  const port = (listener.address() as net.AddressInfo).port;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  };
  return { port, requests, written, close, [Symbol.asyncDispose]: close };
}

/** Writes `status` with headers and an optional body, then ends the connection. */
export function respond(
  socket: net.Socket,
  status: number,
  headers: Record<string, string> = {},
  body = "",
): void {
  let head = `HTTP/1.1 ${status} X\r\n`;
  const all = { "Content-Length": String(new TextEncoder().encode(body).length), ...headers };
  for (const [k, v] of Object.entries(all)) head += `${k}: ${v}\r\n`;
  socket.end(head + "\r\n" + body);
}

/** Streams up to `total` body bytes honouring back-pressure, counting them into `written`; stops when closed. */
export function streamBody(socket: net.Socket, total: number, written: { bytes: number }): void {
  const chunk = new Uint8Array(64 * 1024).fill(120);
  let sent = 0;
  const pump = () => {
    while (!socket.destroyed && sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      written.bytes += n;
      if (!socket.write(chunk.subarray(0, n))) return void socket.once("drain", pump);
    }
    if (!socket.destroyed) socket.end();
  };
  pump();
}

/** Sends `data` one byte per `intervalMs` until done or the socket closes. */
export function trickle(socket: net.Socket, data: string, intervalMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= data.length) {
      clearInterval(timer);
      if (!socket.destroyed) socket.end();
      return;
    }
    socket.write(data[i++]);
  }, intervalMs);
  socket.once("close", () => clearInterval(timer));
}

/** A listener that accepts connections and never sends a byte. */
export interface SilentListener extends AsyncDisposable {
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: { count: number };
}

/**
 * Starts a {@link SilentListener}; with `onConnect`, a scripted one instead (sends garbage, closes at once...).
 */
export async function startSilentListener(onConnect?: (socket: net.Socket) => void): Promise<SilentListener> {
  const sockets = new Set<net.Socket>();
  const accepted = { count: 0 };
  const listener = net.createServer((s) => {
    accepted.count++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onConnect?.(s);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()));
  const port = (listener.address() as net.AddressInfo).port;
  return {
    port,
    accepted,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

/**
 * Reads a child's stdout up to its first newline (a helper announcing its port), then releases the stream
 * so the caller can cancel it later; throws naming `who` if the child exits first.
 */
export async function readFirstLine(stdout: ReadableStream<Uint8Array>, who: string): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${who} exited before printing its first line`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.slice(0, text.indexOf("\n")).trim();
}

/** A loopback port whose SYNs go unanswered, so connecting hangs until the client gives up. */
export interface BlackHole extends AsyncDisposable {
  /** Port on 127.0.0.1. */
  readonly port: number;
}

/**
 * Creates a {@link BlackHole}: a socket that listens with backlog 0 and never accepts (Python, because neither
 * Deno.listen nor node:net exposes the backlog), plus one connection that fills the queue. Linux then drops
 * further SYNs to that port, which is exactly "an address that never answers", on loopback only.
 */
export async function startBlackHole(): Promise<BlackHole> {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\n" +
      "print(s.getsockname()[1],flush=True)\nsys.stdin.read()",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const port = Number(await readFirstLine(child.stdout, "black-hole helper (python3)"));
  // Fill the accept queue: this connection completes, the next SYNs are dropped.
  const filler = await Deno.connect({ hostname: "127.0.0.1", port });
  return {
    port,
    async [Symbol.asyncDispose]() {
      filler.close();
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    },
  };
}

/**
 * Records unhandled promise rejections and uncaught errors while a test runs, preventing the default crash so
 * the test can report them; `assertClean()` throws when any occurred.
 */
export function guardProcess(): Disposable & { assertClean(): void } {
  const problems: string[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    problems.push(`unhandled rejection: ${e.reason}`);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    problems.push(`uncaught error: ${e.message}`);
  };
  addEventListener("unhandledrejection", onRejection);
  addEventListener("error", onError);
  return {
    assertClean() {
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
    [Symbol.dispose]() {
      removeEventListener("unhandledrejection", onRejection);
      removeEventListener("error", onError);
    },
  };
}

/** Polls `condition` every 20 ms until true or `timeoutMs` elapses (then throws with `what`). */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Keeps this process's JS thread busy for `ms`, like a CPU-starved agent: no timer, socket or promise callback
 * runs meanwhile.
 */
export function blockEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

/** Throws `message` unless `cond`. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}
