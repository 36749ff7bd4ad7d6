/**
 * Typed operations on one resource in one scope: get, list, create, replace, delete, apply, patch, watch.
 *
 * @module
 */
import type { KubeTransport, Query } from "./transport.ts";
import type { KubeObject, ObjectList, PartialObjectMetadata, ResourceType } from "./resources.ts";
import { apiVersionOf } from "./resources.ts";
import { isApiError, KubeApiError, KubeDecodeError, WatchExpiredError } from "./errors.ts";
import type { KubeStatus } from "./errors.ts";

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Options of {@link Api.get}. */
export interface GetOptions extends CallOptions {
  /**
   * Unset: a quorum read from etcd (always current). Set (e.g. to the resourceVersion of a watch event):
   * served from the apiserver's watch cache, at least as new as that version — cheap, and never older than
   * what the watch showed. `"0"`: any cached version.
   */
  resourceVersion?: string;
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
  /** `resourceVersion` semantics of the list (`"0"` = any cached version); see `resourceVersionMatch`. */
  resourceVersion?: string;
  /**
   * How `resourceVersion` is matched: `NotOlderThan` (served from the watch cache, at least that new; with
   * `limit` the pages come from a cache snapshot) or `Exact`. Unset with a resourceVersion and a `limit`
   * means Exact (legacy). Needs `resourceVersion`; never sent with `continue` (the apiserver refuses it).
   */
  resourceVersionMatch?: "NotOlderThan" | "Exact";
}

/** Options of {@link Api.listAll}: a list's, without `continue`, and a per-item `map`. */
export interface ListAllOptions<T> extends Omit<ListOptions, "continue"> {
  /** Applied to every item as its page arrives (see {@link Api.listAll}). */
  map?: (item: T) => T;
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
  /**
   * Called for every event received (ERROR and BOOKMARK included) with its size on the wire, before it is
   * yielded or thrown: for metrics of what a watch costs its client (events and bytes per resource).
   */
  onReceive?: (received: WatchReceived) => void;
}

/** One event as a watch connection received it (see {@link WatchOptions.onReceive}). */
export interface WatchReceived {
  /** Event type as sent. */
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  /** Bytes of its JSON line including the newline (after HTTP content decoding). */
  bytes: number;
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

/** Content negotiation for metadata-only reads (what client-go's metadata client asks for, JSON only). */
const METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

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
  /** Whether responses carry only metadata (a view from {@link Api.metadata}). */
  readonly metadataOnly: boolean;
  readonly #transport: KubeTransport;

  private constructor(
    transport: KubeTransport,
    type: ResourceType<T>,
    namespace: string | undefined,
    metadataOnly = false,
  ) {
    this.#transport = transport;
    this.type = type;
    this.namespace = namespace;
    this.metadataOnly = metadataOnly;
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

  /**
   * The same resource and scope, read as metadata only: every response is a `PartialObjectMetadata` (lists:
   * `PartialObjectMetadataList`), negotiated with `Accept: application/json;as=PartialObjectMetadata;…`.
   * For lists and watches that need names, labels, generation or resourceVersions but not spec or status: a
   * watch then carries a fraction of the bytes of objects with large statuses — but still one event per
   * change, status writes included. Meant for reads (a write through it would answer with metadata only).
   * Every built-in resource and CRD supports it; an aggregated API that does not answers 406 NotAcceptable.
   * Same RBAC as the full reads.
   */
  metadata(): Api<PartialObjectMetadata> {
    // ResourceType's object type is a phantom: the descriptor is the same.
    const type = this.type as unknown as ResourceType<PartialObjectMetadata>;
    return new Api(this.#transport, type, this.namespace, true);
  }

  /**
   * The same resource (and the same view: full or metadata) in `namespace`: to get, patch or delete one
   * object seen through an all-namespaces Api ({@link Api.all}).
   */
  inNamespace(namespace: string): Api<T> {
    if (!this.type.namespaced) {
      throw new TypeError(`${this.type.plural} is cluster-scoped: it has no namespace`);
    }
    if (!namespace) throw new TypeError("namespace must not be empty");
    return new Api(this.#transport, this.type, namespace, this.metadataOnly);
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

  /**
   * Reads one object; 404 → {@link KubeApiError} with code 404 (see {@link Api.getOpt}). With
   * `resourceVersion`, served from the watch cache and at least that new (see {@link GetOptions}).
   */
  async get(name: string, opts: GetOptions = {}): Promise<T> {
    return (await this.#transport.request({
      method: "GET",
      path: this.path(name),
      query: { resourceVersion: opts.resourceVersion },
      accept: this.#accept(),
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /** Reads one object, or undefined when it does not exist. */
  async getOpt(name: string, opts: GetOptions = {}): Promise<T | undefined> {
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
        resourceVersionMatch: opts.resourceVersionMatch,
      },
      accept: this.#accept(true),
      signal: opts.signal ?? NEVER,
    });
    const list = res as ObjectList<T>;
    // An empty PartialObjectMetadataList comes with `"items": null` (a nil Go slice): that is an empty list.
    if (list && (list as { items: unknown }).items === null) list.items = [];
    if (!list || !Array.isArray(list.items)) {
      throw new KubeDecodeError("GET", this.path(), new Error("list response has no items array"));
    }
    list.metadata ??= {};
    return list;
  }

  /**
   * Lists all pages (`limit` per page, default 500) of one consistent snapshot and returns every item with
   * the snapshot's resourceVersion (the one to start a watch from) and the number of requests made.
   * `resourceVersion`/`resourceVersionMatch` select the snapshot with the first page; later pages follow the
   * continue token alone (the apiserver refuses both). If the token expires mid-way (410), it falls back to
   * one unpaginated list with the caller's resourceVersion options, like client-go's pager. `map` is applied to
   * each page's items as the page arrives, so a big collection is never held raw all at once (an informer's
   * compaction: only the fields it keeps outlive their page).
   */
  async listAll(
    { map, ...opts }: ListAllOptions<T> = {},
  ): Promise<{ items: T[]; resourceVersion: string; requests: number }> {
    const take = (page: T[]) => (map ? page.map(map) : page);
    const limit = opts.limit ?? 500;
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    let requests = 0;
    try {
      do {
        requests++;
        const page = await this.list(
          cont === undefined
            ? { ...opts, limit }
            : { ...opts, limit, continue: cont, resourceVersion: undefined, resourceVersionMatch: undefined },
        );
        for (const item of take(page.items)) items.push(item);
        if (!resourceVersion) resourceVersion = page.metadata.resourceVersion ?? "";
        cont = page.metadata.continue || undefined;
      } while (cont);
    } catch (err) {
      if (!(cont && isApiError(err, 410))) throw err;
      const all = await this.list({ ...opts, limit: undefined });
      return {
        items: take(all.items),
        resourceVersion: all.metadata.resourceVersion ?? "",
        requests: requests + 1,
      };
    }
    return { items, resourceVersion, requests };
  }

  /** Creates an object (POST; never retried after an ambiguous failure). 409 AlreadyExists if it exists. */
  async create(obj: ObjectInput<T>, opts: WriteOptions = {}): Promise<T> {
    return (await this.#transport.request({
      method: "POST",
      path: this.path(undefined, undefined, this.#namespaceOf(obj)),
      query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
      body: this.#withTypeMeta(obj),
      accept: this.#accept(),
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
      accept: this.#accept(),
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
      accept: this.#accept(),
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
      accept: this.#accept(),
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
        accept: this.#accept(),
        signal: opts.signal ?? NEVER,
      });
    } catch (err) {
      if (isApiError(err, 410)) throw new WatchExpiredError(path, err.status, err);
      throw err;
    }
    for await (const { line, bytes } of ndjsonRecords(body)) {
      let event: { type?: string; object?: unknown };
      try {
        event = JSON.parse(line);
      } catch (err) {
        throw new KubeDecodeError("GET", path, err);
      }
      if (
        opts.onReceive && (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED" ||
          event.type === "BOOKMARK" || event.type === "ERROR")
      ) {
        opts.onReceive({ type: event.type, bytes });
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
      accept: this.#accept(),
      signal: opts.signal ?? NEVER,
    })) as T;
  }

  /** The Accept header of a request: undefined (plain JSON) unless this is a metadata view. */
  #accept(list = false): string | undefined {
    if (!this.metadataOnly) return undefined;
    return list ? METADATA_LIST_ACCEPT : METADATA_ACCEPT;
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
  for await (const { line } of ndjsonRecords(body)) yield line;
}

/**
 * Splits a byte stream into non-empty, trimmed lines, each with the bytes it took on the wire (its newline
 * and any blank lines before it included, so the sizes add up to the stream's length). Splits on bytes: a
 * newline byte never occurs inside a multi-byte UTF-8 sequence, so each line decodes on its own.
 */
export async function* ndjsonRecords(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ line: string; bytes: number }, void, undefined> {
  const NEWLINE = 10;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = []; // the unterminated line so far
  let partBytes = 0;
  let blankBytes = 0; // blank lines, counted into the next record
  const decodeWith = (last: Uint8Array): string => {
    if (parts.length === 0) return decoder.decode(last);
    const whole = new Uint8Array(partBytes + last.length);
    let at = 0;
    for (const p of [...parts, last]) {
      whole.set(p, at);
      at += p.length;
    }
    return decoder.decode(whole);
  };
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      let start = 0;
      for (let nl = value.indexOf(NEWLINE); nl !== -1; nl = value.indexOf(NEWLINE, start)) {
        const piece = value.subarray(start, nl);
        const bytes = partBytes + piece.length + 1;
        const line = decodeWith(piece).trim();
        parts = [];
        partBytes = 0;
        start = nl + 1;
        if (line) {
          yield { line, bytes: bytes + blankBytes };
          blankBytes = 0;
        } else blankBytes += bytes;
      }
      if (start < value.length) {
        parts.push(value.slice(start)); // a copy: the chunk is not kept alive for its tail
        partBytes += value.length - start;
      }
    }
    const line = decodeWith(new Uint8Array(0)).trim();
    if (line) yield { line, bytes: partBytes + blankBytes };
  } finally {
    await reader.cancel().catch(() => {});
  }
}
