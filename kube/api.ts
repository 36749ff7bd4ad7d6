/**
 * Typed operations on one resource in one scope: get, list, create, replace, delete, apply, patch, watch.
 *
 * @module
 */
import type { KubeTransport, Query } from "./transport.ts";
import type { KubeObject, ObjectList, ResourceType } from "./resources.ts";
import { apiVersionOf } from "./resources.ts";
import { isApiError, KubeApiError, KubeDecodeError, WatchExpiredError } from "./errors.ts";
import type { KubeStatus } from "./errors.ts";

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Options of {@link Api.list}. */
export interface ListOptions extends CallOptions {
  /** Label selector, e.g. `app=web,tier!=db`. */
  labelSelector?: string;
  /** Field selector, e.g. `spec.nodeName=node-1`. */
  fieldSelector?: string;
  /** Page size; the response carries `metadata.continue` when more remain. */
  limit?: number;
  /** Continue token from the previous page. */
  continue?: string;
  /** `resourceVersion` semantics of the list (`"0"` = any cached version). */
  resourceVersion?: string;
}

/** Options of writes. */
export interface WriteOptions extends CallOptions {
  /** Field manager recorded in managedFields. */
  fieldManager?: string;
  /** Validate and default on the server without persisting. */
  dryRun?: boolean;
}

/** Options of {@link Api.apply} and {@link Api.applyStatus}. */
export interface ApplyOptions extends CallOptions {
  /** Field manager owning the applied fields (required by server-side apply). */
  fieldManager: string;
  /** Take ownership of fields another manager owns instead of failing with 409 Conflict. */
  force?: boolean;
  /** Validate without persisting. */
  dryRun?: boolean;
}

/** Options of {@link Api.delete}. */
export interface DeleteOptions extends CallOptions {
  /** How dependents are garbage-collected. */
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  /** Delete only if the object still has this uid / resourceVersion (else 409 Conflict). */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** Grace period; 0 deletes immediately. */
  gracePeriodSeconds?: number;
  /** Validate without persisting. */
  dryRun?: boolean;
}

/** One RFC 6902 JSON patch operation. */
export type JsonPatchOp =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

/** A patch: RFC 7386 merge patch, RFC 6902 JSON patch, or strategic merge (built-in types only). */
export type Patch =
  | { type: "merge"; body: unknown }
  | { type: "strategic"; body: unknown }
  | { type: "json"; ops: JsonPatchOp[] };

/** Options of {@link Api.patch}. */
export interface PatchOptions extends WriteOptions {
  /** Patch a subresource such as `status`. */
  subresource?: string;
}

/** Options of {@link Api.watch}. */
export interface WatchOptions extends CallOptions {
  /** Start after this resourceVersion (from a list or the last event); unset = "from now-ish" (avoid). */
  resourceVersion?: string;
  /** Label selector. */
  labelSelector?: string;
  /** Field selector. */
  fieldSelector?: string;
  /** Ask for BOOKMARK events carrying fresh resourceVersions (default true). */
  allowWatchBookmarks?: boolean;
  /** Server ends the watch after this many seconds. */
  timeoutSeconds?: number;
}

/** An event of a watch stream. ERROR events are turned into thrown errors, so they never appear here. */
export interface WatchEvent<T> {
  /** What happened; BOOKMARK objects carry only `metadata.resourceVersion`. */
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
  /** The object after the change (for DELETED: its last state). */
  object: T;
}

/**
 * An object as the caller writes it: `apiVersion` and `kind` may be left out (they are filled in from the
 * resource type), everything else as in `T`.
 */
export type ObjectInput<T extends KubeObject> = Omit<T, "apiVersion" | "kind"> & {
  apiVersion?: T["apiVersion"];
  kind?: T["kind"];
};

const NEVER = new AbortController().signal;

/**
 * Typed access to one resource in one scope: a namespace ({@link Api.namespaced}), cluster-scoped
 * ({@link Api.cluster}), or all namespaces ({@link Api.all}: list/watch, and writes of objects that name
 * their namespace). Errors: {@link KubeApiError} for API failures (e.g. 404 NotFound, 409 Conflict with
 * `causes` for apply conflicts, 422 Invalid), plus the transport's errors. RBAC: the verbs used, on
 * `type.plural` (and `type.plural/status` for status writes).
 */
export class Api<T extends KubeObject> {
  /** The resource addressed. */
  readonly type: ResourceType<T>;
  /** The namespace, or undefined for cluster-scoped / all-namespaces access. */
  readonly namespace: string | undefined;
  readonly #transport: KubeTransport;

  private constructor(transport: KubeTransport, type: ResourceType<T>, namespace: string | undefined) {
    this.#transport = transport;
    this.type = type;
    this.namespace = namespace;
  }

  /** Access to a namespaced resource in one namespace. */
  static namespaced<T extends KubeObject>(
    transport: KubeTransport,
    type: ResourceType<T>,
    namespace: string,
  ): Api<T> {
    if (!type.namespaced) throw new TypeError(`${type.plural} is cluster-scoped: use Api.cluster`);
    if (!namespace) throw new TypeError("namespace must not be empty");
    return new Api(transport, type, namespace);
  }

  /** Access to a cluster-scoped resource (Nodes, Namespaces, CRDs…). */
  static cluster<T extends KubeObject>(transport: KubeTransport, type: ResourceType<T>): Api<T> {
    if (type.namespaced) throw new TypeError(`${type.plural} is namespaced: use Api.namespaced or Api.all`);
    return new Api(transport, type, undefined);
  }

  /**
   * Access to a namespaced resource across all namespaces: list/watch everything; get/delete/patch need a
   * namespace and throw; create/apply use the object's `metadata.namespace`.
   */
  static all<T extends KubeObject>(transport: KubeTransport, type: ResourceType<T>): Api<T> {
    return new Api(transport, type, undefined);
  }

  /** URL path of the collection, or of one object / its subresource. */
  path(name?: string, subresource?: string, namespace: string | undefined = this.namespace): string {
    const base = this.type.group
      ? `/apis/${this.type.group}/${this.type.version}`
      : `/api/${this.type.version}`;
    let p = base;
    if (this.type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    else if (this.type.namespaced && name !== undefined) {
      throw new TypeError(
        `${this.type.plural} "${name}": a namespace is required (this Api spans all namespaces)`,
      );
    }
    p += `/${this.type.plural}`;
    if (name !== undefined) {
      if (!name) throw new TypeError("object name must not be empty");
      p += `/${encodeURIComponent(name)}`;
    }
    if (subresource) p += `/${subresource}`;
    return p;
  }

  /** Reads one object; 404 → {@link KubeApiError} with code 404 (see {@link Api.getOpt}). */
  async get(name: string, opts: CallOptions = {}): Promise<T> {
    return (await this.#transport.request({
      method: "GET",
      path: this.path(name),
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /** Reads one object, or undefined when it does not exist. */
  async getOpt(name: string, opts: CallOptions = {}): Promise<T | undefined> {
    try {
      return await this.get(name, opts);
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  /** Lists one page (use `limit`/`continue`) or everything when no limit is given. */
  async list(opts: ListOptions = {}): Promise<ObjectList<T>> {
    const res = await this.#transport.request({
      method: "GET",
      path: this.path(),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
      },
      signal: opts.signal ?? NEVER,
    });
    const list = res as ObjectList<T>;
    if (!list || !Array.isArray(list.items)) {
      throw new KubeDecodeError("GET", this.path(), new Error("list response has no items array"));
    }
    list.metadata ??= {};
    return list;
  }

  /**
   * Lists all pages (`limit` per page, default 500) of one consistent snapshot and returns every item with
   * the snapshot's resourceVersion (the one to start a watch from). If the continue token expires mid-way
   * (410), it falls back to one unpaginated list, like client-go's pager.
   */
  async listAll(opts: Omit<ListOptions, "continue"> = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const limit = opts.limit ?? 500;
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    try {
      do {
        const page = await this.list({ ...opts, limit, continue: cont });
        items.push(...page.items);
        if (!resourceVersion) resourceVersion = page.metadata.resourceVersion ?? "";
        cont = page.metadata.continue || undefined;
      } while (cont);
    } catch (err) {
      if (!(cont && isApiError(err, 410))) throw err;
      const all = await this.list({ ...opts, limit: undefined });
      return { items: all.items, resourceVersion: all.metadata.resourceVersion ?? "" };
    }
    return { items, resourceVersion };
  }

  /** Creates an object (POST; never retried after an ambiguous failure). 409 AlreadyExists if it exists. */
  async create(obj: ObjectInput<T>, opts: WriteOptions = {}): Promise<T> {
    return (await this.#transport.request({
      method: "POST",
      path: this.path(undefined, undefined, this.#namespaceOf(obj)),
      query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
      body: this.#withTypeMeta(obj),
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /** Replaces an object (PUT); set `metadata.resourceVersion` for optimistic concurrency (409 Conflict). */
  async replace(obj: ObjectInput<T>, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    return (await this.#transport.request({
      method: "PUT",
      path: this.path(this.#nameOf(obj), opts.subresource, this.#namespaceOf(obj)),
      query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
      body: this.#withTypeMeta(obj),
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /**
   * Deletes an object. Returns the object (with deletionTimestamp when finalizers or foreground deletion
   * delay it) or the server's Status. Retried after ambiguous failures, so a retry may end in 404.
   */
  async delete(name: string, opts: DeleteOptions = {}): Promise<T | KubeStatus> {
    return (await this.#transport.request({
      method: "DELETE",
      path: this.path(name),
      query: { dryRun: opts.dryRun ? "All" : undefined },
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: opts.propagationPolicy,
        preconditions: opts.preconditions,
        gracePeriodSeconds: opts.gracePeriodSeconds,
      },
      signal: opts.signal ?? NEVER,
    })) as T | KubeStatus;
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`, JSON body): creates or updates the object so that
   * `fieldManager` owns exactly the fields present in `obj`. `apiVersion`/`kind` are filled from the type
   * when missing. A field owned by another manager with a different value fails with 409 Conflict whose
   * `causes` name the fields and managers, unless `force`. Idempotent, hence retried on 5xx.
   */
  async apply(obj: ObjectInput<T>, opts: ApplyOptions): Promise<T> {
    return await this.#apply(obj, opts, undefined);
  }

  /** Server-side apply to the `/status` subresource (only status fields are taken from `obj`). */
  async applyStatus(obj: ObjectInput<T>, opts: ApplyOptions): Promise<T> {
    return await this.#apply(obj, opts, "status");
  }

  /** Patches an object (merge: idempotent, retried; JSON patch: not retried after ambiguous failures). */
  async patch(name: string, patch: Patch, opts: PatchOptions = {}): Promise<T> {
    const contentType = patch.type === "merge"
      ? "application/merge-patch+json"
      : patch.type === "strategic"
      ? "application/strategic-merge-patch+json"
      : "application/json-patch+json";
    return (await this.#transport.request({
      method: "PATCH",
      path: this.path(name, opts.subresource),
      query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
      body: patch.type === "json" ? patch.ops : patch.body,
      contentType,
      idempotent: patch.type !== "json",
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /**
   * One watch connection: yields events until the server closes the stream (timeout) or it breaks.
   * Throws {@link WatchExpiredError} on 410 (HTTP or ERROR event), {@link KubeApiError} on other ERROR
   * events. Does not resume: see `watcher()` in watch.ts for that.
   */
  async *watch(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = this.path();
    const query: Query = {
      watch: "true",
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
      timeoutSeconds: opts.timeoutSeconds,
    };
    let body: ReadableStream<Uint8Array>;
    try {
      body = await this.#transport.request({
        method: "GET",
        path,
        query,
        expect: "stream",
        signal: opts.signal ?? NEVER,
      });
    } catch (err) {
      if (isApiError(err, 410)) throw new WatchExpiredError(path, err.status, err);
      throw err;
    }
    for await (const line of ndjsonLines(body)) {
      let event: { type?: string; object?: unknown };
      try {
        event = JSON.parse(line);
      } catch (err) {
        throw new KubeDecodeError("GET", path, err);
      }
      if (event.type === "ERROR") {
        const status = (event.object ?? {}) as KubeStatus;
        if (status.code === 410) throw new WatchExpiredError(path, status);
        throw new KubeApiError("GET", `${path} (watch)`, status);
      }
      if (
        event.type !== "ADDED" && event.type !== "MODIFIED" && event.type !== "DELETED" &&
        event.type !== "BOOKMARK"
      ) {
        throw new KubeDecodeError(
          "GET",
          path,
          new Error(`unknown watch event type ${JSON.stringify(event.type)}`),
        );
      }
      yield { type: event.type, object: event.object as T };
    }
  }

  async #apply(obj: ObjectInput<T>, opts: ApplyOptions, subresource: string | undefined): Promise<T> {
    return (await this.#transport.request({
      method: "PATCH",
      path: this.path(this.#nameOf(obj), subresource, this.#namespaceOf(obj)),
      query: {
        fieldManager: opts.fieldManager,
        force: opts.force ? true : undefined,
        dryRun: opts.dryRun ? "All" : undefined,
      },
      body: this.#withTypeMeta(obj),
      contentType: "application/apply-patch+yaml",
      idempotent: true,
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  #nameOf(obj: ObjectInput<T>): string {
    const name = obj.metadata?.name;
    if (!name) throw new TypeError(`${this.type.kind}: metadata.name is required`);
    return name;
  }

  #namespaceOf(obj: ObjectInput<T>): string | undefined {
    if (!this.type.namespaced) return undefined;
    const ns = obj.metadata?.namespace;
    if (this.namespace && ns && ns !== this.namespace) {
      throw new TypeError(
        `${this.type.kind} ${ns}/${obj.metadata?.name}: namespace differs from Api namespace ${this.namespace}`,
      );
    }
    const result = this.namespace ?? ns;
    if (!result) {
      throw new TypeError(`${this.type.kind}: metadata.namespace is required (Api spans all namespaces)`);
    }
    return result;
  }

  #withTypeMeta(obj: ObjectInput<T>): KubeObject {
    return {
      ...obj,
      apiVersion: obj.apiVersion ?? apiVersionOf(this.type),
      kind: obj.kind ?? this.type.kind,
    };
  }
}

/** Splits a byte stream into non-empty lines (newline-delimited JSON), decoding UTF-8 across chunk borders. */
export async function* ndjsonLines(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<string, void, undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      if (!value.includes("\n")) continue;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const raw of lines) {
        const line = raw.trim();
        if (line) yield line;
      }
    }
    const rest = buffer.trim();
    if (rest) yield rest;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
