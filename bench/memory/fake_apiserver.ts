/**
 * A fake kube-apiserver good enough to run the agent in a benchmark without a cluster: an in-memory store with
 * list (paginated, label and field selectors), watch (from a resourceVersion, events of later writes),
 * get, server-side apply (create or replace; status by subresource), create and delete, over HTTPS.
 *
 * It is not a conformance fake: apply replaces instead of merging field owners, selectors support `k=v`, `k!=v`
 * and `k` only, and nothing is validated. What it keeps realistic is what costs the agent memory: objects carry
 * `managedFields` of the size a real apiserver adds, every write is delivered to every matching watch (the
 * agent sees its own status writes, as it does today), and lists page at the client's `limit`. A request with
 * `Accept: …;as=PartialObjectMetadata…` gets metadata only, as a real server sends for metadata-only watches.
 *
 * @module
 */

/** A stored object (any kind). */
export type StoredObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string> };
};

/** Counters the benchmark prints. */
export interface FakeApiStats {
  /** Requests by `METHOD plural[/subresource]`. */
  readonly requests: Record<string, number>;
  /** Watch events sent. */
  watchEventsSent: number;
}

/** A running fake apiserver. */
export interface FakeApiserver extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** Adds or replaces an object (as another client would), notifying watches; `managedFields` default true. */
  put(resource: string, object: StoredObject, options?: { managedFields?: boolean }): void;
  /** Objects of a resource (`group/version/plural`, core: `v1/pods`). */
  list(resource: string): StoredObject[];
  /** Request and event counters. */
  readonly stats: FakeApiStats;
  /** Stops serving and ends every watch. */
  close(): Promise<void>;
}

interface ParsedPath {
  /** `group/version/plural` (core: `v1/plural`). */
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Parses `/api/v1/…` and `/apis/g/v/…` paths; undefined for anything else (discovery, healthz). */
export function parsePath(path: string): ParsedPath | undefined {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let gv: string;
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 3) [gv, rest] = [parts[1], parts.slice(2)];
  else if (parts[0] === "apis" && parts.length >= 4) [gv, rest] = [`${parts[1]}/${parts[2]}`, parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  // `namespaces/<ns>/<plural>…` is namespaced; `namespaces[/<name>]` alone is the Namespace resource.
  if (rest[0] === "namespaces" && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
  const [plural, name, subresource] = rest;
  return { resource: `${gv}/${plural}`, namespace, name, subresource };
}

type Selector = (object: StoredObject) => boolean;

/** `a=b,c!=d,e` label selectors and `path.to.field=value` field selectors. */
export function selector(labelSelector: string | null, fieldSelector: string | null): Selector {
  const tests: Selector[] = [];
  for (const term of (labelSelector ?? "").split(",").filter(Boolean)) {
    const [key, op, value] = /^([^!=]+)(!=|==|=)?(.*)$/.exec(term)!.slice(1);
    const labels = (o: StoredObject) => o.metadata.labels ?? {};
    if (!op) tests.push((o) => key in labels(o));
    else if (op === "!=") tests.push((o) => labels(o)[key] !== value);
    else tests.push((o) => labels(o)[key] === value);
  }
  for (const term of (fieldSelector ?? "").split(",").filter(Boolean)) {
    const [field, value] = term.split("=");
    tests.push((o) => {
      let v: unknown = o;
      for (const k of field.split(".")) v = (v as Record<string, unknown> | undefined)?.[k];
      return String(v ?? "") === value;
    });
  }
  return (o) => tests.every((t) => t(o));
}

/**
 * `managedFields` as a real apiserver records them: one entry per manager whose `fieldsV1` mirrors the
 * object's field tree (`f:` keys, list items keyed by index here instead of by their merge key).
 */
export function managedFieldsFor(
  object: Record<string, unknown>,
  manager: string,
  operation: string,
): unknown[] {
  const tree = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return Object.fromEntries(value.map((item, i) => [`k:{"index":${i}}`, tree(item)]));
    }
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).filter(([k]) => k !== "managedFields").map(([k, v]) => [`f:${k}`, tree(v)]),
      );
    }
    return {};
  };
  const { apiVersion, kind: _kind, metadata, ...rest } = object as StoredObject;
  const meta = { ...(metadata ?? {}) } as Record<string, unknown>;
  for (const k of ["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation"]) {
    delete meta[k];
  }
  return [{
    manager,
    operation,
    apiVersion,
    time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    fieldsType: "FieldsV1",
    fieldsV1: tree({ metadata: meta, ...rest }),
  }];
}

const KINDS: Record<string, string> = {
  pods: "Pod",
  secrets: "Secret",
  endpointslices: "EndpointSlice",
  events: "Event",
  servicewithhealthchecks: "ServiceWithHealthchecks",
  leases: "Lease",
  services: "Service",
};

interface Watch {
  resource: string;
  namespace?: string;
  matches: Selector;
  metadataOnly: boolean;
  send(line: string): void;
  close(): void;
}

/** Options of {@link startFakeApiserver}. */
export interface FakeApiserverOptions {
  /** TLS server certificate and key (SAN 127.0.0.1). */
  readonly cert: string;
  readonly key: string;
  /**
   * Resources (`group/version/plural`) whose `status` is stored but never sent to clients: a what-if for a
   * status flow in which agents do not receive status (issue 10).
   */
  readonly hideStatusOf?: readonly string[];
}

/** Starts the fake on 127.0.0.1. */
export function startFakeApiserver(options: FakeApiserverOptions): FakeApiserver {
  const tls = options;
  const hidden = new Set(options.hideStatusOf ?? []);
  const store = new Map<string, Map<string, StoredObject>>();
  const watches = new Set<Watch>();
  /** Recent events for watches that start from an older resourceVersion. */
  const history: { rv: number; resource: string; type: string; object: StoredObject }[] = [];
  let rv = 1;
  const stats: FakeApiStats = { requests: {}, watchEventsSent: 0 };
  const abort = new AbortController();
  const keyOf = (o: StoredObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  const bucket = (resource: string) => {
    let b = store.get(resource);
    if (!b) store.set(resource, b = new Map());
    return b;
  };

  /** What a client receives of a stored object. */
  const view = (resource: string, o: StoredObject, partial: boolean): StoredObject => {
    if (partial) return metadataOnly(o);
    if (!hidden.has(resource) || !("status" in o)) return o;
    const { status: _, ...rest } = o;
    return rest as StoredObject;
  };

  const metadataOnly = (o: StoredObject): StoredObject => ({
    apiVersion: "meta.k8s.io/v1",
    kind: "PartialObjectMetadata",
    metadata: o.metadata,
  });

  function notify(resource: string, type: string, object: StoredObject): void {
    history.push({ rv, resource, type, object });
    if (history.length > 20_000) history.splice(0, 10_000);
    for (const w of watches) {
      if (w.resource !== resource) continue;
      if (w.namespace && w.namespace !== object.metadata.namespace) continue;
      if (!w.matches(object)) continue;
      w.send(JSON.stringify({ type, object: view(resource, object, w.metadataOnly) }) + "\n");
      stats.watchEventsSent++;
    }
  }

  function write(
    resource: string,
    object: StoredObject,
    manager: string,
    operation: string,
    withManagedFields = true,
  ): StoredObject {
    const b = bucket(resource);
    const old = b.get(keyOf(object));
    rv++;
    const metadata = {
      ...object.metadata,
      uid: old?.metadata.uid ?? object.metadata.uid ?? crypto.randomUUID(),
      resourceVersion: String(rv),
      creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      generation: Number(old?.metadata.generation ?? 0) + 1,
    };
    const stored: StoredObject = {
      apiVersion: object.apiVersion,
      kind: object.kind ?? KINDS[resource.split("/").at(-1)!],
      ...object,
      metadata,
    };
    if (withManagedFields) stored.metadata.managedFields = managedFieldsFor(stored, manager, operation);
    b.set(keyOf(stored), stored);
    notify(resource, old ? "MODIFIED" : "ADDED", stored);
    return stored;
  }

  const status = (code: number, reason: string, message: string) =>
    Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message }, {
      status: code,
    });

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const parsed = parsePath(url.pathname);
    if (!parsed) return status(404, "NotFound", `no route ${url.pathname}`);
    const { resource, namespace, name, subresource } = parsed;
    const counter = `${req.method} ${resource.split("/").at(-1)}${subresource ? `/${subresource}` : ""}`;
    stats.requests[counter] = (stats.requests[counter] ?? 0) + 1;
    const partial = (req.headers.get("accept") ?? "").includes("as=PartialObjectMetadata");
    const b = bucket(resource);

    if (req.method === "GET" && name === undefined) {
      const matches = selector(url.searchParams.get("labelSelector"), url.searchParams.get("fieldSelector"));
      const inScope = (o: StoredObject) => (!namespace || o.metadata.namespace === namespace) && matches(o);
      if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
        const since = Number(url.searchParams.get("resourceVersion") || rv);
        if (history.length && since < history[0].rv - 1) {
          return status(410, "Expired", "too old resource version");
        }
        let controller!: ReadableStreamDefaultController<Uint8Array>;
        const encoder = new TextEncoder();
        const watch: Watch = {
          resource,
          namespace,
          matches,
          metadataOnly: partial,
          send: (line) => controller.enqueue(encoder.encode(line)),
          close: () => {
            watches.delete(watch);
            try {
              controller.close();
            } catch { /* already closed */ }
          },
        };
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            controller = c;
          },
          cancel() {
            watches.delete(watch);
          },
        });
        for (const e of history) {
          if (e.rv > since && e.resource === resource && inScope(e.object)) {
            watch.send(
              JSON.stringify({ type: e.type, object: view(resource, e.object, partial) }) + "\n",
            );
          }
        }
        watches.add(watch);
        const timeout = Number(url.searchParams.get("timeoutSeconds") || 0);
        if (timeout > 0) {
          const timer = setTimeout(() => watch.close(), timeout * 1000);
          // A pending watch timeout must not keep the benchmark process alive after close().
          Deno.unrefTimer(timer);
        }
        return new Response(body, { headers: { "content-type": "application/json" } });
      }
      const all = [...b.values()].filter(inScope);
      const limit = Number(url.searchParams.get("limit") || 0);
      const offset = Number(url.searchParams.get("continue") || 0);
      const items = limit ? all.slice(offset, offset + limit) : all;
      const more = limit > 0 && offset + limit < all.length;
      const kind = KINDS[resource.split("/").at(-1)!] ?? "Object";
      return Response.json({
        apiVersion: partial ? "meta.k8s.io/v1" : resource.split("/").slice(0, -1).join("/"),
        kind: partial ? "PartialObjectMetadataList" : `${kind}List`,
        metadata: { resourceVersion: String(rv), ...(more ? { continue: String(offset + limit) } : {}) },
        items: items.map((o) => view(resource, o, partial)),
      });
    }
    const key = `${namespace ?? ""}/${name}`;
    if (req.method === "GET") {
      const o = b.get(key);
      if (!o) return status(404, "NotFound", `${resource} ${key} not found`);
      return Response.json(view(resource, o, partial));
    }
    if (req.method === "DELETE") {
      const o = b.get(key);
      if (!o) return status(404, "NotFound", `${resource} ${key} not found`);
      b.delete(key);
      rv++;
      notify(resource, "DELETED", { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } });
      return Response.json({ kind: "Status", apiVersion: "v1", status: "Success", code: 200 });
    }
    const body = await req.json() as StoredObject;
    body.metadata ??= { name: name ?? "" };
    body.metadata.namespace ??= namespace;
    if (req.method === "POST") {
      body.metadata.name ||= `${body.metadata.generateName ?? "obj-"}${rv}`;
      return Response.json(view(resource, write(resource, body, "client", "Update"), partial), {
        status: 201,
      });
    }
    if (req.method === "PATCH" || req.method === "PUT") {
      const manager = url.searchParams.get("fieldManager") ?? "client";
      if (subresource === "status") {
        const o = b.get(key);
        if (!o) return status(404, "NotFound", `${resource} ${key} not found`);
        const { managedFields: _, ...meta } = o.metadata;
        const stored = write(
          resource,
          { ...o, metadata: meta as StoredObject["metadata"], status: body.status },
          manager,
          "Apply",
        );
        return Response.json(view(resource, stored, partial));
      }
      return Response.json(view(resource, write(resource, body, manager, "Apply"), partial));
    }
    return status(405, "MethodNotAllowed", req.method);
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
    signal: abort.signal,
    onListen: () => {},
  }, (req) => handle(req).catch((error) => status(500, "InternalError", String(error))));

  const close = async () => {
    for (const w of watches) w.close();
    abort.abort();
    await server.finished;
  };
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    put(resource, object, options) {
      write(
        resource,
        structuredClone(object),
        "kube-controller-manager",
        "Update",
        options?.managedFields ?? true,
      );
    },
    list: (resource) => [...bucket(resource).values()],
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}
