/**
 * An informer that caches full objects but watches only their metadata, fetching an object again only
 * when its `metadata.generation` changes: for many clients that read the spec of objects whose status
 * churns (agents that watch every ServiceWithHealthchecks while other agents write its status).
 *
 * @module
 */
import type { Api, WatchReceived } from "./api.ts";
import type { KubeObject, ObjectMeta, PartialObjectMetadata } from "./resources.ts";
import type { InformerOptions } from "./informer.ts";
import { objectKey, ObjectStore } from "./store.ts";
import type { InformerEvent, SharedInformer } from "./store.ts";
import { ResettingBackoff, watcher } from "./watch.ts";
import type { ListWatch, WatcherErrorInfo } from "./watch.ts";
import { compareResourceVersions, isOlder, newestResourceVersion } from "./resource_version.ts";
import { sleep } from "./transport.ts";
import { FetchPlanner } from "./fetch_planner.ts";

/** One completed fetch of full objects (for metrics and benchmarks). */
export type FetchInfo =
  /** One GET of one object (`found: false` for a 404: the watch then delivers the delete). */
  | { via: "get"; found: boolean }
  /** One paginated LIST serving `pending` fetches at once, in `requests` pages, `objects` objects. */
  | { via: "list"; requests: number; objects: number; pending: number };

/** Errors {@link MetadataWatchInformer} recovers from: the watch's, a handler's, or a failed fetch round. */
export type MetadataWatchInformerError =
  | WatcherErrorInfo
  | { error: unknown; action: "handler" }
  /** A GET or LIST failed (after the transport's retries); the round is retried after `delayMs`. */
  | { error: unknown; action: "fetch"; delayMs: number };

/** Options of {@link MetadataWatchInformer}. */
export interface MetadataWatchInformerOptions<T extends KubeObject = KubeObject> extends InformerOptions<T> {
  /**
   * Applied to every full object before it is cached (listed, fetched, or after a metadata merge, so it must
   * be idempotent), e.g. dropping `status` and `managedFields`. Must keep `metadata.name`, `namespace`,
   * `uid`, `resourceVersion` and `generation`.
   */
  transform?: (obj: T) => T;
  /** Wait this long after the first fetch becomes pending, so fetches coalesce (default 100 ms). */
  coalesceMs?: number;
  /** GETs in flight at once (default 4). */
  getConcurrency?: number;
  /**
   * Whether `wanted` fetches (pending, plus served in the last `listIntervalMs`) are served by LISTs of the
   * whole collection (`cached` objects) instead of GETs. Default: `wanted >= 20 && wanted * 20 >= cached`.
   * See {@link FetchPlanner}.
   */
  listWhen?: (wanted: number, cached: number) => boolean;
  /** LIST rounds start at least this far apart (default 1000 ms): a burst costs one LIST per interval. */
  listIntervalMs?: number;
  /**
   * Whether an object the watch shows is worth its full state now. One it is not is cached as its metadata
   * alone (a *shell*: handlers see it without spec) and fetched once this answers yes — on a later watch event,
   * or when {@link MetadataWatchInformer.recheck} asks again because what the answer depends on changed. An
   * object once fetched stays full. A (re)list asks too: it stores the objects it brings full when they are
   * wanted or were cached full, as metadata otherwise (so what it answers on should be cached before this
   * informer starts). Default: every object.
   */
  fetchWhen?: (meta: PartialObjectMetadata) => boolean;
  /** Every completed fetch: GETs and LISTs (see {@link FetchInfo}). */
  onFetch?: (info: FetchInfo) => void;
  /** Recovered errors: watch, handler, fetch (for logs and metrics). */
  onError?: (info: MetadataWatchInformerError) => void;
  /** Every watch event received — metadata only here — with its size on the wire. */
  onReceive?: (received: WatchReceived) => void;
}

/** A fetch the watch asked for: the newest metadata it showed for the object. */
interface PendingFetch {
  readonly key: string;
  meta: PartialObjectMetadata;
}

/**
 * Mirrors a resource into memory as full objects while its watch carries metadata only
 * (`PartialObjectMetadata`), so writes that leave `metadata.generation` alone — status updates above all —
 * cost a few hundred bytes each instead of the whole object:
 * - (re)list: full objects, paginated (initially and after 410 Gone), diffed against the store (those
 *   `fetchWhen` does not want kept as metadata); then a metadata-only watch from the list's resourceVersion;
 * - a watch event with the cached object's generation (and uid): only its metadata is merged into the
 *   cached object (labels, annotations, finalizers, ownerReferences, deletionTimestamp…);
 * - handlers see an `update` only when the cached object (after `transform`) changed in something other
 *   than resourceVersion/managedFields — after a merge, a fetch or a relist alike: with status dropped,
 *   status writes are invisible to them;
 * - a new object, or a changed generation: the full object is fetched, after a short coalescing window —
 *   by GET `?resourceVersion=<event's>` (from the watch cache, at least that new; bounded concurrency), or,
 *   during a burst (many fetches within `listIntervalMs`, e.g. creations), by one paginated LIST per
 *   interval with `resourceVersionMatch=NotOlderThan` the newest pending version ({@link FetchPlanner});
 * - a Deleted event wins over a fetch pending or in flight; a fetched object older than the cached one or
 *   than what the watch has shown since (with another generation) is not used; a 404 is ignored (the watch
 *   delivers the delete); events older than the cache (a fetch ran ahead of the watch) are skipped.
 *
 * Caveats: the cached status is as of the last fetch — stale by design; drop it in `transform`. Each status
 * write still arrives as one (small) event. Objects without `metadata.generation` (ConfigMaps, Secrets…)
 * are fetched on every event: use {@link Informer} for them. Intended for resources whose spec changes bump
 * the generation and whose status is a subresource (CRDs with `subresources.status`, most built-ins).
 * resourceVersions are compared as integers (Kubernetes ≥ 1.35; see resource_version.ts).
 *
 * `synced` resolves once the initial list is in the store. Handlers run synchronously in event order.
 * RBAC: `list`, `watch` and `get` on the resource.
 */
export class MetadataWatchInformer<T extends KubeObject> implements SharedInformer<T> {
  readonly #api: Api<T>;
  readonly #opts: MetadataWatchInformerOptions<T>;
  readonly #store: ObjectStore<T>;
  readonly #pending = new Map<string, PendingFetch>();
  /** Keys of objects cached as metadata only (see `fetchWhen`). */
  #shells = new Set<string>();
  /** The shells of the list last received, stored with it. */
  #listedShells = new Set<string>();
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  /** Creates a stopped informer on `api` (a full Api: the metadata view is derived); call `start`. */
  constructor(api: Api<T>, opts: MetadataWatchInformerOptions<T> = {}) {
    if (api.metadataOnly) {
      throw new TypeError("MetadataWatchInformer needs the full Api, not its metadata view");
    }
    this.#api = api;
    this.#opts = opts;
    this.#store = new ObjectStore<T>((error) => opts.onError?.({ error, action: "handler" }));
  }

  /** Resolves once the initial list has been stored; rejects if the informer stops before that. */
  get synced(): Promise<void> {
    return this.#store.synced;
  }

  /** True once the initial list is in. */
  get hasSynced(): boolean {
    return this.#store.hasSynced;
  }

  /** Number of cached objects. */
  get size(): number {
    return this.#store.size;
  }

  /** Objects cached as metadata only, never fetched (see `fetchWhen`). */
  get shells(): number {
    return this.#shells.size;
  }

  /**
   * Asks `fetchWhen` again for object `namespace/name` when it is cached as metadata only, and fetches it when
   * the answer is now yes: for callers whose answer depends on other state (another cache) that just changed.
   */
  recheck(namespace: string | undefined, name: string): void {
    const key = objectKey({ metadata: { namespace, name } });
    if (!this.#shells.has(key) || this.#pending.has(key)) return;
    const cached = this.#store.getByKey(key);
    if (!cached || !this.#wanted(cached)) return;
    this.#pending.set(key, { key, meta: { metadata: cached.metadata } as PartialObjectMetadata });
    this.#wakeFetcher();
  }

  /** Fetches waiting or in flight (objects the watch showed that the store does not reflect yet). */
  get pendingFetches(): number {
    return this.#pending.size;
  }

  /** A cached object by namespace and name. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(namespace, name);
  }

  /** All cached objects. */
  list(): T[] {
    return this.#store.list();
  }

  /** Registers a handler for changes; returns the function that unregisters it. */
  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    return this.#store.subscribe(handler);
  }

  /**
   * Starts list+watch and the fetcher in the background until `signal` aborts. The promise resolves when
   * both have stopped (never rejects: errors are retried and reported to `onError`).
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("informer already started");
    this.#running = Promise.all([this.#watch(signal), this.#fetcher(signal)]).then(() => {});
    return this.#running;
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const metadata = this.#api.metadata();
    const source: ListWatch<T, PartialObjectMetadata> = {
      // Each listed object is compacted (or reduced to a shell) as its page arrives: see #listed.
      listAll: async (opts) => {
        const shells = new Set<string>();
        const list = await this.#api.listAll({ ...opts, map: (obj) => this.#listed(obj, shells) });
        this.#listedShells = shells;
        return list;
      },
      watch: (opts) => metadata.watch(opts),
    };
    try {
      const events = watcher(source, {
        signal,
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        pageSize: this.#opts.pageSize,
        backoff: this.#opts.backoff,
        onError: this.#opts.onError,
        onReceive: this.#opts.onReceive,
      });
      for await (const event of events) {
        switch (event.type) {
          case "Restarted":
            // The list is newer than anything pending: fetches in flight are dropped when they return.
            this.#pending.clear();
            this.#shells = this.#listedShells;
            this.#store.replace(event.objects, objectDiffers);
            this.#store.markSynced();
            break;
          case "Added":
          case "Modified":
            this.#onMetadata(event.object);
            break;
          case "Deleted":
            this.#onDeleted(event.object);
            break;
        }
      }
    } finally {
      this.#store.failSync(signal.reason ?? new Error("informer stopped before sync"));
    }
  }

  /**
   * A (re)listed object as the store keeps it: full when cached full before (once fetched, always full) or
   * wanted now; as metadata alone otherwise (its key goes into `shells`). The list brought it full, so nothing
   * is fetched here.
   */
  #listed(obj: T, shells: Set<string>): T {
    const key = objectKey(obj);
    const full = this.#store.getByKey(key) !== undefined && !this.#shells.has(key);
    if (full || this.#wanted(obj)) return this.#transform(obj);
    shells.add(key);
    return this.#transform({ metadata: obj.metadata } as T);
  }

  #transform(obj: T): T {
    return this.#opts.transform ? this.#opts.transform(obj) : obj;
  }

  #onMetadata(meta: PartialObjectMetadata): void {
    const key = objectKey(meta);
    const rv = meta.metadata?.resourceVersion;
    const pending = this.#pending.get(key);
    if (pending) {
      if (!isOlder(rv, pending.meta.metadata?.resourceVersion)) pending.meta = meta;
      return;
    }
    const cached = this.#store.getByKey(key);
    if (cached) {
      if (notNewer(rv, cached.metadata?.resourceVersion)) return; // a fetch already brought this state or later
      // A shell has no spec to keep apart from a new generation: it stays metadata until it is wanted.
      const shell = this.#shells.has(key);
      if (sameGeneration(cached.metadata, meta.metadata) || (shell && !this.#wanted(meta))) {
        const merged = this.#transform({ ...cached, metadata: meta.metadata });
        this.#store.set(merged);
        if (metadataDiffers(cached.metadata, merged.metadata)) {
          this.#store.emit({ type: "update", object: merged, old: cached });
        }
        return;
      }
    } else if (!this.#wanted(meta)) {
      const shell = this.#transform({ metadata: meta.metadata } as T);
      this.#shells.add(key);
      this.#store.set(shell);
      this.#store.emit({ type: "add", object: shell });
      return;
    }
    this.#pending.set(key, { key, meta });
    this.#wakeFetcher();
  }

  #wanted(meta: PartialObjectMetadata | T): boolean {
    return this.#opts.fetchWhen ? this.#opts.fetchWhen(meta as PartialObjectMetadata) : true;
  }

  #onDeleted(meta: PartialObjectMetadata): void {
    const key = objectKey(meta);
    this.#pending.delete(key); // a delete wins over a fetch still waiting or in flight
    const cached = this.#store.getByKey(key);
    if (!cached) return; // never announced (its fetch had not returned): nothing to take back
    // A cached object newer than the delete is a later incarnation a fetch brought ahead of the watch.
    if (isOlder(meta.metadata?.resourceVersion, cached.metadata?.resourceVersion)) return;
    this.#shells.delete(key);
    this.#store.delete(key);
    this.#store.emit({ type: "delete", object: this.#transform({ ...cached, metadata: meta.metadata }) });
  }

  /** Applies a fetch result (`undefined`: the object does not exist) to a pending fetch. */
  #resolve(entry: PendingFetch, fetched: T | undefined): void {
    if (this.#pending.get(entry.key) !== entry) return; // deleted, or a relist superseded it, meanwhile
    if (fetched === undefined) {
      this.#pending.delete(entry.key); // gone by now: the watch delivers the delete
      return;
    }
    let candidate = fetched;
    if (isOlder(fetched.metadata?.resourceVersion, entry.meta.metadata?.resourceVersion)) {
      // The watch has shown a newer state since the fetch was sent.
      if (!sameGeneration(fetched.metadata, entry.meta.metadata)) return; // still pending: fetched again
      candidate = { ...fetched, metadata: entry.meta.metadata };
    }
    this.#pending.delete(entry.key);
    const cached = this.#store.getByKey(entry.key);
    const shell = this.#shells.delete(entry.key);
    // A shell's metadata may be as new as the fetch: its spec is what was missing.
    if (cached && !shell && notNewer(candidate.metadata?.resourceVersion, cached.metadata?.resourceVersion)) {
      return;
    }
    const obj = this.#transform(candidate);
    this.#store.set(obj);
    if (!cached) this.#store.emit({ type: "add", object: obj });
    else if (objectDiffers(cached, obj)) this.#store.emit({ type: "update", object: obj, old: cached });
  }

  /** Serves pending fetches in rounds: coalescing window, then one LIST or bounded GETs. */
  async #fetcher(signal: AbortSignal): Promise<void> {
    const coalesceMs = this.#opts.coalesceMs ?? 100;
    const planner = new FetchPlanner(this.#opts);
    const backoff = new ResettingBackoff(this.#opts.backoff);
    try {
      while (!signal.aborted) {
        if (this.#pending.size === 0) {
          await this.#fetcherWoken(signal);
          continue;
        }
        await sleep(coalesceMs, signal);
        const plan = planner.plan(this.#pending.size, this.#store.size);
        if (plan.via === "list") await sleep(plan.waitMs, signal); // a burst: let more accumulate
        const batch = [...this.#pending.values()];
        if (batch.length === 0) continue;
        planner.record(batch.length, plan.via === "list");
        try {
          if (plan.via === "list") await this.#fetchByList(batch, signal);
          else await this.#fetchByGets(batch, signal);
        } catch (error) {
          if (signal.aborted) return;
          const delayMs = backoff.next();
          this.#opts.onError?.({ error, action: "fetch", delayMs });
          await sleep(delayMs, signal);
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err; // sleep rejects only on abort
    }
  }

  async #fetchByList(batch: PendingFetch[], signal: AbortSignal): Promise<void> {
    const rv = newestResourceVersion(
      batch.flatMap((e) => e.meta.metadata?.resourceVersion ? [e.meta.metadata.resourceVersion] : []),
    );
    const wanted = new Set(batch.map((e) => e.key));
    const dropped = { metadata: {} } as T;
    const { items, requests } = await this.#api.listAll({
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      limit: this.#opts.pageSize,
      resourceVersion: rv,
      resourceVersionMatch: rv === undefined ? undefined : "NotOlderThan",
      // Only the pending objects are kept past their page: the rest of the collection is dropped as it arrives.
      map: (obj) => wanted.has(objectKey(obj)) ? obj : dropped,
      signal,
    });
    this.#opts.onFetch?.({ via: "list", requests, objects: items.length, pending: batch.length });
    const byKey = new Map<string, T>();
    for (const obj of items) if (obj !== dropped) byKey.set(objectKey(obj), obj);
    for (const entry of batch) this.#resolve(entry, byKey.get(entry.key));
  }

  async #fetchByGets(batch: PendingFetch[], signal: AbortSignal): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (next < batch.length) {
        const entry = batch[next++];
        if (this.#pending.get(entry.key) !== entry) continue; // deleted meanwhile: no request
        const { namespace, name = "", resourceVersion } = entry.meta.metadata ?? {};
        const api = namespace && this.#api.namespace === undefined
          ? this.#api.inNamespace(namespace)
          : this.#api;
        try {
          const obj = await api.getOpt(name, { resourceVersion, signal });
          this.#opts.onFetch?.({ via: "get", found: obj !== undefined });
          this.#resolve(entry, obj);
        } catch (error) {
          if (signal.aborted) throw error;
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.getConcurrency ?? 4, batch.length) }, worker));
    if (failure) throw failure.error;
  }

  #wakeFetcher(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves when a fetch becomes pending, or on abort. */
  #fetcherWoken(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** True when `a` is known not to be newer than `b` (equal or older). */
function notNewer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const order = compareResourceVersions(a, b);
  return order === -1 || order === 0;
}

/** Same object (uid) at the same, known generation: a change between them is metadata only. */
function sameGeneration(a: ObjectMeta | undefined, b: ObjectMeta | undefined): boolean {
  return a?.generation !== undefined && a.generation === b?.generation && a.uid === b?.uid;
}

/**
 * Whether two metadata differ in anything but `resourceVersion` and `managedFields` (which change on every
 * write and which nobody reconciles on): decides if a metadata-only change is worth an `update`.
 */
export function metadataDiffers(a: ObjectMeta | undefined, b: ObjectMeta | undefined): boolean {
  const x = (a ?? {}) as Record<string, unknown>;
  const y = (b ?? {}) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (key === "resourceVersion" || key === "managedFields") continue;
    if (!jsonEqual(x[key], y[key])) return true;
  }
  return false;
}

/**
 * Whether two cached states differ in anything but `metadata.resourceVersion`/`managedFields`: what a relist
 * or a fetch must show for handlers to see an `update` (a status write alone shows nothing once `transform`
 * drops status).
 */
function objectDiffers(a: KubeObject, b: KubeObject): boolean {
  const { metadata: ma, ...ra } = a;
  const { metadata: mb, ...rb } = b;
  return metadataDiffers(ma, mb) || !jsonEqual(ra, rb);
}

/** Deep equality of JSON values. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && jsonEqual((a as Record<string, unknown>)[k], rb[k]));
}
