/**
 * Typed errors of the Kubernetes client, one class per failure point, each wrapping its cause.
 *
 * @module
 */
import type { IStatus } from "@kubernetes-models/apimachinery/apis/meta/v1/Status";
import type { IStatusCause } from "@kubernetes-models/apimachinery/apis/meta/v1/StatusCause";

/** The `meta/v1 Status` object the apiserver returns for failures (and for some successful deletes). */
export type KubeStatus = IStatus;
/** One entry of `Status.details.causes`: which field is wrong and why. */
export type KubeStatusCause = IStatusCause;

/**
 * A kubeconfig or in-cluster configuration could not be loaded. `file` and `field` name what is broken
 * (e.g. `users[admin].user.client-key`), so the message is actionable as is.
 */
export class KubeConfigError extends Error {
  override readonly name = "KubeConfigError";
  /** The file that was being read, when one was involved. */
  readonly file: string | undefined;
  /** The configuration field at fault, e.g. `clusters[local].cluster.server`. */
  readonly field: string | undefined;

  /** Builds the error; the message is prefixed with file and field when given. */
  constructor(message: string, opts: { file?: string; field?: string; cause?: unknown } = {}) {
    const where = [opts.file, opts.field].filter((s) => s !== undefined).join(": ");
    super(where ? `${where}: ${message}` : message, { cause: opts.cause });
    this.file = opts.file;
    this.field = opts.field;
  }
}

/**
 * A request never produced an HTTP response: connection refused or reset, TLS failure, timeout.
 * `sent` tells whether the request may have reached the server (false only when it surely did not).
 */
export class KubeTransportError extends Error {
  override readonly name = "KubeTransportError";
  /** HTTP method of the failed request. */
  readonly method: string;
  /** Path (with query) of the failed request. */
  readonly path: string;
  /** False when the failure happened before the request could reach the server (e.g. connect refused). */
  readonly sent: boolean;

  /** Wraps the low-level `cause` (usually a `TypeError` from `fetch`). */
  constructor(method: string, path: string, sent: boolean, cause: unknown) {
    super(`${method} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.method = method;
    this.path = path;
    this.sent = sent;
  }
}

/**
 * The apiserver answered with a non-2xx status. `status` is the decoded API `Status` (synthesised from the
 * HTTP status and body text when the server did not send one). Use `reason`/`code` to branch, `causes` to
 * report which fields were rejected.
 */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  /** HTTP method of the failed request. */
  readonly method: string;
  /** Path (with query) of the failed request. */
  readonly path: string;
  /** The API Status object describing the failure. */
  readonly status: KubeStatus;

  /** Builds the error from the request and the decoded Status. */
  constructor(method: string, path: string, status: KubeStatus, cause?: unknown) {
    super(`${method} ${path}: ${status.code ?? "?"} ${status.reason ?? ""}: ${status.message ?? ""}`, {
      cause,
    });
    this.method = method;
    this.path = path;
    this.status = status;
  }

  /** HTTP status code (e.g. 404, 409, 410, 422). */
  get code(): number {
    return this.status.code ?? 0;
  }

  /** Machine-readable reason, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`. */
  get reason(): string {
    return this.status.reason ?? "";
  }

  /** Field-level causes (`details.causes`), empty when the server gave none. */
  get causes(): KubeStatusCause[] {
    return this.status.details?.causes ?? [];
  }
}

/** A response body could not be decoded (invalid JSON where JSON was promised). */
export class KubeDecodeError extends Error {
  override readonly name = "KubeDecodeError";

  /** Wraps the parse failure of the body of `method path`. */
  constructor(method: string, path: string, cause: unknown) {
    super(`${method} ${path}: cannot decode response: ${cause instanceof Error ? cause.message : cause}`, {
      cause,
    });
  }
}

/**
 * A watch can no longer resume from its resourceVersion (HTTP 410 Gone, or an ERROR event with code 410):
 * the caller must relist. The watcher in watch.ts handles this itself; it surfaces only from `watchOnce`.
 */
export class WatchExpiredError extends Error {
  override readonly name = "WatchExpiredError";
  /** The Status the apiserver sent. */
  readonly status: KubeStatus;

  /** Wraps the 410 Status of the watch at `path`. */
  constructor(path: string, status: KubeStatus, cause?: unknown) {
    super(`watch ${path}: ${status.message ?? "resource version expired"}`, { cause });
    this.status = status;
  }
}

/** True when `err` is a {@link KubeApiError} with the given HTTP code. */
export function isApiError(err: unknown, code?: number): err is KubeApiError {
  return err instanceof KubeApiError && (code === undefined || err.code === code);
}
