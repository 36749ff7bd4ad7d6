/**
 * HTTP(S) probe: a minimal HTTP/1.1 client that always connects to the target IP, whatever Host/SNI it sends.
 *
 * Why not fetch(): fetch derives the TCP destination, the Host header and the TLS server name from one URL, so it
 * cannot send `Host: shop.example` and SNI `shop.example` to a pod IP without DNS tricks, and it follows or
 * buffers in ways a probe does not want. Why node:net/node:tls rather than Deno.connect + Deno.startTls:
 * Deno.startTls cannot skip verification (needed for insecureSkipTLSVerify) and always checks the name it was
 * given; node:tls offers `servername`, `ca`, `rejectUnauthorized` and `checkServerIdentity` independently, and
 * Deno 2.9 implements all four (verified by http_test.ts against real servers).
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { checkTarget, failedResult, ProbeConfigError, result, startDeadline } from "./deadline.ts";
import type { HttpProbeOptions, HttpProbeSpec, ProbeResult, ProbeTarget, StatusCodeRange } from "./types.ts";

/** Response bytes read after the headers before the probe stops reading and closes; the rest is discarded. */
export const MAX_BODY_BYTES = 4096;
/** Largest accepted status line plus headers; a server sending more is reported as failing. */
export const MAX_HEADER_BYTES = 16384;
/** User-Agent sent unless a custom header overrides it. */
export const USER_AGENT = "swh-probe/0.1";

const DEFAULT_CODES: readonly StatusCodeRange[] = [{ from: 200, to: 399 }];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Details of one probe's HTTP exchange, exposed so tests can assert what was read. */
export interface HttpExchange {
  /** Status code, when a status line arrived. */
  status?: number;
  /** Body bytes read (at most {@link MAX_BODY_BYTES}). */
  bodyBytes: number;
  /** All bytes received from the socket (headers + body), bounded by the header and body limits plus one read. */
  bytesReceived: number;
}

/**
 * Runs an HTTP(S) probe against `target`. Never rejects.
 *
 * Success: a status line arrived with an expected code (default 200–399, redirects not followed) and the body
 * was read up to its end or {@link MAX_BODY_BYTES}, all within `timeoutSeconds`. A body that trickles slower
 * than that fails the probe: a server that cannot send 4 KiB within the timeout is not healthy.
 */
export async function probeHttp(
  target: ProbeTarget,
  spec: HttpProbeSpec,
  signal?: AbortSignal,
  exchange: HttpExchange = { bodyBytes: 0, bytesReceived: 0 },
): Promise<ProbeResult> {
  const startedAt = performance.now();
  const deadline = startDeadline(spec.timeoutSeconds, signal);
  const progress = { phase: "request" };
  try {
    checkTarget(target);
    const request = buildRequest(target, spec.http);
    const status = await exchangeOnce(target, spec.http, request, deadline.signal, progress, exchange);
    const expected = spec.http.expectedStatusCodes ?? DEFAULT_CODES;
    if (expected.length > 0 && !codeMatches(status, expected)) {
      return result(false, `HTTP ${status} (expected ${formatCodes(expected)})`, startedAt);
    }
    return result(true, `HTTP ${status}`, startedAt);
  } catch (error) {
    return failedResult(error, deadline, progress.phase, spec.timeoutSeconds, startedAt);
  } finally {
    deadline.dispose();
  }
}

/** Whether `status` is in the expected set. */
export function codeMatches(status: number, expected: readonly (number | StatusCodeRange)[]): boolean {
  return expected.some((c) => typeof c === "number" ? c === status : status >= c.from && status <= c.to);
}

function formatCodes(expected: readonly (number | StatusCodeRange)[]): string {
  return expected.map((c) => typeof c === "number" ? String(c) : `${c.from}-${c.to}`).join(",");
}

interface BuiltRequest {
  readonly head: string;
  readonly method: string;
  /** TLS server name (never an IP: node:tls refuses IP server names). */
  readonly serverName?: string;
  /** Name the certificate must carry, when a `host` was configured. */
  readonly identity?: string;
}

/** Validates the options and renders the request head; throws ProbeConfigError on anything unsendable. */
function buildRequest(target: ProbeTarget, http: HttpProbeOptions): BuiltRequest {
  const method = String(http.method ?? "GET").toUpperCase();
  if (!METHODS.has(method)) throw new ProbeConfigError(`unsupported method ${JSON.stringify(http.method)}`);
  const path = http.path || "/";
  // Reject bytes that would split the request line (CR, LF, space, controls); percent-encode non-ASCII.
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  if (!path.startsWith("/") || /[\x00-\x20\x7f]/.test(path)) {
    throw new ProbeConfigError(
      `path ${JSON.stringify(path)} must start with "/" and contain no spaces or controls`,
    );
  }
  const encodedPath = path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  const headers = new Map<string, [string, string]>();
  const set = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
  const defaultPort = http.scheme === "HTTPS" ? 443 : 80;
  const ipHost = target.ip.includes(":") ? `[${target.ip}]` : target.ip;
  set("Host", target.port === defaultPort ? ipHost : `${ipHost}:${target.port}`);
  set("User-Agent", USER_AGENT);
  set("Accept", "*/*");
  for (const h of http.httpHeaders ?? []) {
    if (!TOKEN.test(h.name)) {
      throw new ProbeConfigError(`header name ${JSON.stringify(h.name)} is not a token`);
    }
    if (/[\r\n\0]/.test(h.value)) throw new ProbeConfigError(`header ${h.name} contains a line break`);
    set(h.name, h.value);
  }
  if (http.host !== undefined && http.host !== "") {
    if (/[\s\0]/.test(http.host)) {
      throw new ProbeConfigError(`host ${JSON.stringify(http.host)} contains whitespace`);
    }
    set("Host", http.host);
  }
  // The probe reads one response and closes; tell the server so it does not hold the connection open.
  set("Connection", "close");
  if (["POST", "PUT", "PATCH"].includes(method) && !headers.has("content-length")) set("Content-Length", "0");
  let head = `${method} ${encodedPath} HTTP/1.1\r\n`;
  for (const [name, value] of headers.values()) head += `${name}: ${value}\r\n`;
  head += "\r\n";
  const identity = http.host ? hostName(http.host) : undefined;
  const serverName = identity && net.isIP(identity) === 0 ? identity : undefined;
  return { head, method, serverName, identity };
}

/** The name part of a Host value: strips a port and IPv6 brackets. */
function hostName(host: string): string {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]") > 0 ? host.indexOf("]") : undefined);
  const colons = host.split(":").length - 1;
  return colons === 1 ? host.slice(0, host.indexOf(":")) : host;
}

/** Opens the connection, sends the request, reads the status and a bounded body; resolves with the status. */
function exchangeOnce(
  target: ProbeTarget,
  http: HttpProbeOptions,
  request: BuiltRequest,
  signal: AbortSignal,
  progress: { phase: string },
  exchange: HttpExchange,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let socket: net.Socket | undefined;
    let settled = false;
    let headerBuf = "";
    let status = 0;
    let body: BodyReader | undefined;
    const finish = (error: unknown, code?: number) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      // destroy() rather than end(): never wait for the peer, and drop whatever body is still in flight.
      socket?.destroy();
      if (error === undefined && code !== undefined) resolve(code);
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    if (signal.aborted) return finish(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });

    const onData = (chunk: Uint8Array) => {
      if (settled) return;
      exchange.bytesReceived += chunk.length;
      if (body) return body.push(chunk) && finish(undefined, status);
      // Headers are ASCII; latin1 keeps byte offsets equal to string offsets for the body split below.
      headerBuf += latin1(chunk);
      const end = headerBuf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (headerBuf.length > MAX_HEADER_BYTES) {
          finish(new Error(`headers exceed ${MAX_HEADER_BYTES} bytes`));
        }
        return;
      }
      const parsed = parseHead(headerBuf.slice(0, end));
      if (typeof parsed === "string") return finish(new Error(parsed));
      status = parsed.status;
      exchange.status = status;
      progress.phase = "body";
      body = new BodyReader(bodyExpectation(request.method, parsed), exchange);
      const rest = chunk.subarray(chunk.length - (headerBuf.length - end - 4));
      if (body.push(rest)) finish(undefined, status);
    };

    try {
      progress.phase = "connect";
      const common = { host: target.ip, port: target.port };
      if (http.scheme === "HTTPS") {
        const identity = request.identity;
        socket = tls.connect({
          ...common,
          servername: request.serverName,
          ca: http.caCert ? [http.caCert] : undefined,
          rejectUnauthorized: !http.insecureSkipTLSVerify,
          // Without `host` only the chain is verified (pod IPs rarely appear in certificates); with `host` the
          // certificate must name it, exactly as a client reaching the service by that name would check.
          checkServerIdentity: (_name, cert) =>
            identity ? tls.checkServerIdentity(identity, cert) : undefined,
        });
        socket.once("secureConnect", () => {
          progress.phase = "response headers";
          socket?.write(request.head);
        });
        socket.once("connect", () => progress.phase = "TLS handshake");
      } else {
        socket = net.connect(common);
        socket.once("connect", () => {
          progress.phase = "response headers";
          socket?.write(request.head);
        });
      }
      socket.on("data", onData);
      socket.on("error", (e) => finish(e));
      socket.on("close", () => {
        if (body?.endsAtClose) return finish(undefined, status);
        finish(
          new Error(
            body ? "connection closed before the body ended" : "connection closed without a response",
          ),
        );
      });
    } catch (error) {
      // node:tls throws synchronously on malformed PEM and similar: a configuration problem, not a crash.
      finish(error instanceof Error ? new ProbeConfigError(error.message) : error);
    }
  });
}

function latin1(chunk: Uint8Array): string {
  let s = "";
  for (let i = 0; i < chunk.length; i += 8192) {
    s += String.fromCharCode(...chunk.subarray(i, i + 8192));
  }
  return s;
}

interface ParsedHead {
  readonly status: number;
  readonly contentLength?: number;
  readonly chunked: boolean;
}

/** Parses a status line and headers; returns an error text for anything that is not HTTP/1.x. */
function parseHead(head: string): ParsedHead | string {
  const lines = head.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) return `not an HTTP/1.x response: ${JSON.stringify(lines[0].slice(0, 40))}`;
  let contentLength: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length" && /^\d+$/.test(value)) contentLength = Number(value);
    if (name === "transfer-encoding" && /chunked/i.test(value)) chunked = true;
  }
  return { status: Number(m[1]), contentLength, chunked };
}

type BodyKind = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | {
  kind: "close";
};

function bodyExpectation(method: string, head: ParsedHead): BodyKind {
  if (method === "HEAD" || head.status < 200 || head.status === 204 || head.status === 304) {
    return { kind: "none" };
  }
  if (head.chunked) return { kind: "chunked" };
  if (head.contentLength !== undefined) return { kind: "length", length: head.contentLength };
  return { kind: "close" };
}

/** Counts and discards body bytes; `push` returns true once enough was read to call the response complete. */
class BodyReader {
  private tail = "";
  constructor(private readonly expect: BodyKind, private readonly exchange: HttpExchange) {}

  get endsAtClose(): boolean {
    return this.expect.kind === "close";
  }

  push(chunk: Uint8Array): boolean {
    const e = this.expect;
    if (e.kind === "none") return true;
    this.exchange.bodyBytes = Math.min(MAX_BODY_BYTES, this.exchange.bodyBytes + chunk.length);
    if (this.exchange.bodyBytes >= MAX_BODY_BYTES) return true;
    if (e.kind === "length") return this.exchange.bodyBytes >= e.length;
    if (e.kind === "chunked") {
      // End of a chunked body is the zero-size chunk; matching the last bytes avoids a full chunk parser.
      // A chunk whose data contains this sequence ends the read early, which is harmless: the status is known.
      this.tail = (this.tail + latin1(chunk.subarray(Math.max(0, chunk.length - 7)))).slice(-7);
      return this.tail.endsWith("\r\n0\r\n\r\n") || this.tail === "0\r\n\r\n";
    }
    return false;
  }
}
