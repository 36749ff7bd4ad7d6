/**
 * HTTP transport to kube-apiserver: TLS/auth via Deno.createHttpClient, typed errors, safe retries.
 *
 * @module
 */
import type { ClusterConnection, TokenSource } from "./config.ts";
import { KubeApiError, KubeDecodeError, KubeTransportError } from "./errors.ts";
import type { KubeStatus } from "./errors.ts";

/** HTTP methods the Kubernetes API uses. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** One API request. */
export interface RequestOptions {
  /** HTTP method. */
  method: HttpMethod;
  /** Absolute API path, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Query parameters. */
  query?: Query;
  /** Body, encoded as JSON (JSON is valid YAML, so it also serves `application/apply-patch+yaml`). */
  body?: unknown;
  /** Content type of the body (default `application/json`). */
  contentType?: string;
  /**
   * `Accept` header (default `application/json`), e.g. `application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`
   * to receive only object metadata. Responses must still be JSON.
   */
  accept?: string;
  /** Cancels the request (and, for streams, the body). Required: every call is cancellable. */
  signal: AbortSignal;
  /**
   * Whether repeating the request is harmless after an ambiguous failure (a 5xx, or a connection dropped
   * after sending). Default: true for GET/PUT/DELETE/PATCH, false for POST. Requests that surely did not
   * reach the server (connect refused, 429) are retried regardless.
   */
  idempotent?: boolean;
  /** Time allowed until the response headers (streams) or the whole body (JSON) arrive. */
  timeoutMs?: number;
}

/**
 * The contract between the typed API layer and the wire: JSON in, JSON or a byte stream out. Errors are
 * {@link KubeApiError} (non-2xx), {@link KubeTransportError} (no response), {@link KubeDecodeError}, or the
 * signal's abort reason.
 */
export interface KubeTransport {
  /** Default namespace of the connection. */
  readonly namespace: string;
  /** Performs a request and decodes the JSON response (`undefined` for an empty body). */
  request(opts: RequestOptions & { expect?: "json" }): Promise<unknown>;
  /** Performs a request and returns the response body as a stream (for watches). */
  request(opts: RequestOptions & { expect: "stream" }): Promise<ReadableStream<Uint8Array>>;
}

/** Retry policy: capped exponential backoff with jitter. */
export interface RetryPolicy {
  /** Total attempts including the first (default 6). */
  maxAttempts: number;
  /** First delay (default 200 ms), doubled per attempt. */
  initialDelayMs: number;
  /** Cap on a single delay, also on a server's `Retry-After` (default 10 s). */
  maxDelayMs: number;
}

/** Options of {@link HttpTransport}. */
export interface TransportOptions {
  /** Overrides of the default {@link RetryPolicy}. */
  retry?: Partial<RetryPolicy>;
  /** Default timeout for a request (default 30 s; streams: until headers). */
  timeoutMs?: number;
  /** User-Agent header (default `swh-kube/0.1`). */
  userAgent?: string;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 200, maxDelayMs: 10_000 };

/**
 * {@link KubeTransport} over `fetch` with a dedicated `Deno.HttpClient` (CA, client certificate).
 * Retries 429 (honouring `Retry-After`), 5xx and dropped connections with capped, jittered exponential
 * backoff; never retries other 4xx; never repeats a non-idempotent request after an ambiguous failure. A 401
 * with a token source re-reads the token once (rotation). Call `close()` to release the HTTP client.
 *
 * Permissions: `--allow-net=<apiserver host:port>` (checked with a query when constructed; never prompts).
 */
export class HttpTransport implements KubeTransport {
  readonly namespace: string;
  readonly #server: string;
  readonly #client: Deno.HttpClient;
  readonly #token: TokenSource | undefined;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;

  /** Creates the transport for `conn`; throws {@link KubeTransportError} when net permission is missing. */
  constructor(conn: ClusterConnection, opts: TransportOptions = {}) {
    const url = new URL(conn.server);
    const state = Deno.permissions.querySync({ name: "net", host: url.host }).state;
    if (state !== "granted") {
      throw new KubeTransportError(
        "CONNECT",
        conn.server,
        false,
        new Error(`network permission not granted: run with --allow-net=${url.host}`),
      );
    }
    this.namespace = conn.namespace;
    this.#server = conn.server;
    this.#client = Deno.createHttpClient({
      caCerts: conn.caCerts,
      ...(conn.clientCert ? { cert: conn.clientCert.cert, key: conn.clientCert.key } : {}),
    });
    this.#token = conn.token;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#userAgent = opts.userAgent ?? "swh-kube/0.1";
  }

  /** Releases the underlying HTTP client (open streams are cut). */
  close(): void {
    this.#client.close();
  }

  /** Performs a request and decodes the JSON response (`undefined` for an empty body). */
  request(opts: RequestOptions & { expect?: "json" }): Promise<unknown>;
  /**
   * Performs a request and returns the body as a stream; cancelling the stream or aborting the signal
   * closes the connection's stream.
   */
  request(opts: RequestOptions & { expect: "stream" }): Promise<ReadableStream<Uint8Array>>;
  async request(opts: RequestOptions & { expect?: "json" | "stream" }): Promise<unknown> {
    const stream = opts.expect === "stream";
    const idempotent = opts.idempotent ?? opts.method !== "POST";
    const path = opts.path + encodeQuery(opts.query);
    let tokenRefreshed = false;
    for (let attempt = 1;; attempt++) {
      opts.signal.throwIfAborted();
      const last = attempt >= this.#retry.maxAttempts;
      const headers = new Headers({
        "Accept": opts.accept ?? "application/json",
        "User-Agent": this.#userAgent,
      });
      if (opts.body !== undefined) headers.set("Content-Type", opts.contentType ?? "application/json");
      if (this.#token) headers.set("Authorization", `Bearer ${await this.#token.token()}`);

      // One controller per attempt, linked to the caller's signal by a listener that is always removed
      // again (AbortSignal.any is avoided: its composite signal could be collected while a long watch
      // body is still being read, leaving the stream unabortable).
      const link = new LinkedAbort(opts.signal, opts.timeoutMs ?? this.#timeoutMs);
      let res: Response;
      try {
        res = await fetch(this.#server + path, {
          method: opts.method,
          headers,
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: link.signal,
          client: this.#client,
        });
      } catch (err) {
        link.release();
        opts.signal.throwIfAborted();
        const sent = !notSent(err);
        const error = new KubeTransportError(
          opts.method,
          path,
          sent,
          link.timedOut ? link.signal.reason : err,
        );
        if (last || (sent && !idempotent)) throw error;
        await sleep(this.#backoff(attempt), opts.signal);
        continue;
      }

      if (res.ok) {
        if (stream) {
          link.stopTimer();
          if (!res.body) {
            link.release();
            throw new KubeDecodeError(opts.method, path, new Error("response has no body"));
          }
          return linkedBody(res.body, link);
        }
        try {
          const text = res.body ? await new Response(linkedBody(res.body, link)).text() : "";
          if (text === "") return undefined;
          try {
            return JSON.parse(text);
          } catch (err) {
            throw new KubeDecodeError(opts.method, path, err);
          }
        } catch (err) {
          if (err instanceof KubeDecodeError) throw err;
          opts.signal.throwIfAborted();
          // The body broke off: the server processed the request but we lost the answer.
          const error = new KubeTransportError(opts.method, path, true, err);
          if (last || !idempotent) throw error;
          await sleep(this.#backoff(attempt), opts.signal);
          continue;
        } finally {
          link.release();
        }
      }

      let bodyText = "";
      try {
        bodyText = res.body ? await new Response(linkedBody(res.body, link)).text() : "";
      } catch {
        // keep the HTTP status alone
      } finally {
        link.release();
      }
      const status = decodeStatus(res.status, res.statusText, bodyText);
      const error = new KubeApiError(opts.method, path, status);
      if (res.status === 401 && this.#token && !tokenRefreshed) {
        tokenRefreshed = true;
        this.#token.invalidate();
        attempt--; // a token refresh is not a failed attempt
        continue;
      }
      const retryable = res.status === 429 || (res.status >= 500 && idempotent);
      if (!retryable || last) throw error;
      const retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
      const delay = retryAfter === undefined
        ? this.#backoff(attempt)
        : Math.min(retryAfter * 1000, this.#retry.maxDelayMs);
      await sleep(delay, opts.signal);
    }
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#retry.initialDelayMs, this.#retry.maxDelayMs);
  }
}

/** An AbortController linked to a parent signal and a timeout; `release()` unlinks both. */
class LinkedAbort {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal;
  readonly #onAbort: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  timedOut = false;

  constructor(parent: AbortSignal, timeoutMs: number) {
    this.#parent = parent;
    this.#onAbort = () => this.#controller.abort(parent.reason);
    parent.addEventListener("abort", this.#onAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  stopTimer(): void {
    clearTimeout(this.#timer);
  }

  abort(reason: unknown): void {
    this.#controller.abort(reason);
  }

  release(): void {
    this.stopTimer();
    this.#parent.removeEventListener("abort", this.#onAbort);
  }
}

/** Wraps a response body so that reading it ends (done, error or cancel) releases its abort link. */
function linkedBody(body: ReadableStream<Uint8Array>, link: LinkedAbort): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // Deno's fetch does not always fail a pending body read when its signal aborts (seen on watches after
  // an apiserver restart): cancel the reader ourselves, which settles the pending read.
  const onAbort = () => reader.cancel(link.signal.reason).catch(() => {});
  link.signal.addEventListener("abort", onAbort, { once: true });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (link.signal.aborted) {
          link.release();
          controller.error(link.signal.reason);
        } else if (done) {
          link.release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        link.release();
        controller.error(err);
      }
    },
    async cancel(reason) {
      link.release();
      link.abort(reason);
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * Delay before retry number `attempt` (1-based): `initial * 2^(attempt-1)` capped at `max`, with "equal
 * jitter" (uniform in [d/2, d]) so that many clients do not retry in lockstep.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const d = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return d / 2 + random() * (d / 2);
}

/** Parses `Retry-After` in seconds (the apiserver never sends HTTP dates); undefined when absent/invalid. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** Decodes a failure body into a Status, synthesising one when the body is not a Status. */
export function decodeStatus(code: number, statusText: string, body: string): KubeStatus {
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed === "object" && parsed.kind === "Status") {
      return { ...parsed, code: parsed.code ?? code } as KubeStatus;
    }
  } catch {
    // not JSON
  }
  return {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason: reasonForCode(code) ?? statusText,
    message: body.trim().slice(0, 500) || statusText,
  };
}

function reasonForCode(code: number): string | undefined {
  return ({
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
  } as Record<number, string>)[code];
}

/** Encodes query parameters (leading `?` included, empty string when none). */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** True when a fetch error proves the request never reached the server (connection could not be made). */
function notSent(err: unknown): boolean {
  const msg = err instanceof Error
    ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}`
    : "";
  return /tcp connect error|Connection refused|ConnectionRefused|dns error|client error \(Connect\)/i.test(
    msg,
  );
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
