/**
 * Informer: a reflector that keeps an in-memory store of one resource current and emits typed changes.
 *
 * @module
 */
import type { Api } from "./api.ts";
import type { KubeObject } from "./resources.ts";
import { watcher } from "./watch.ts";
import type { WatcherBackoff, WatcherErrorInfo, WatcherEvent } from "./watch.ts";

/** A change to the store. `update` carries the previous state too. */
export type InformerEvent<T> =
  | { type: "add"; object: T }
  | { type: "update"; object: T; old: T }
  | { type: "delete"; object: T };

/** Key of an object in the store: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

/** Drops `metadata.managedFields` (often half of an object's size); for {@link InformerOptions.transform}. */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** Read-only view of the cached objects. Returned objects are shared: do not mutate them. */
export interface Store<T> {
  /** The object `namespace/name` (omit namespace for cluster-scoped), if cached. */
  get(namespace: string | undefined, name: string): T | undefined;
  /** All cached objects (a fresh array). */
  list(): T[];
  /** Number of cached objects. */
  readonly size: number;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubeObject = KubeObject> {
  /** Label selector: only matching objects are cached. */
  labelSelector?: string;
  /** Field selector: only matching objects are cached. */
  fieldSelector?: string;
  /** List page size (default 500). */
  pageSize?: number;
  /** Backoff of the underlying watcher. */
  backoff?: Partial<WatcherBackoff>;
  /**
   * Applied to every object before it is cached, e.g. {@link stripManagedFields} to save memory. Must keep
   * `metadata.name`, `metadata.namespace` and `metadata.resourceVersion`.
   */
  transform?: (obj: T) => T;
  /** Recovered watch errors and handler exceptions (for logs and metrics). */
  onError?: (info: WatcherErrorInfo | { error: unknown; action: "handler" }) => void;
}

/**
 * Mirrors a resource (optionally filtered by selectors) into memory with list+watch, via {@link watcher}:
 * relists after 410 and diffs the new list against the store, so handlers always see a consistent
 * add/update/delete sequence and never miss the net effect of a change. `synced` resolves once the initial
 * list is in the store (nothing should reconcile before); it rejects if stopped first. Handlers run
 * synchronously in event order; an exception in a handler is reported to `onError`, not fatal.
 *
 * RBAC: `list` and `watch` on the resource (in the Api's namespace, or cluster-wide for `Api.all`).
 */
export class Informer<T extends KubeObject> implements Store<T> {
  readonly #api: Api<T>;
  readonly #opts: InformerOptions<T>;
  readonly #items = new Map<string, T>();
  readonly #handlers = new Set<(event: InformerEvent<T>) => void>();
  #synced = false;
  #resolveSynced!: () => void;
  #rejectSynced!: (reason: unknown) => void;
  #running: Promise<void> | undefined;
  /** Resolves once the initial list has been stored; rejects if the informer stops before that. */
  readonly synced: Promise<void>;

  /** Creates a stopped informer; call {@link Informer.start}. */
  constructor(api: Api<T>, opts: InformerOptions<T> = {}) {
    this.#api = api;
    this.#opts = opts;
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    this.synced.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /** True once the initial list is in. */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Number of cached objects. */
  get size(): number {
    return this.#items.size;
  }

  /** A cached object by namespace and name. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#items.get(namespace ? `${namespace}/${name}` : name);
  }

  /** All cached objects. */
  list(): T[] {
    return [...this.#items.values()];
  }

  /** Registers a handler for changes; returns the function that unregisters it. */
  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /**
   * Starts list+watch in the background until `signal` aborts. Returns a promise that resolves when the
   * informer has stopped (it does not reject: errors are retried and reported to `onError`).
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("informer already started");
    this.#running = this.#run(signal);
    return this.#running;
  }

  async #run(signal: AbortSignal): Promise<void> {
    try {
      const events = watcher(this.#api, {
        signal,
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        pageSize: this.#opts.pageSize,
        backoff: this.#opts.backoff,
        onError: this.#opts.onError,
      });
      for await (const event of events) {
        this.#apply(event);
        if (event.type === "Restarted" && !this.#synced) {
          this.#synced = true;
          this.#resolveSynced();
        }
      }
    } finally {
      if (!this.#synced) this.#rejectSynced(signal.reason ?? new Error("informer stopped before sync"));
    }
  }

  #apply(event: WatcherEvent<T>): void {
    const transform = this.#opts.transform;
    if (transform) {
      event = event.type === "Restarted"
        ? { ...event, objects: event.objects.map(transform) }
        : { ...event, object: transform(event.object) };
    }
    switch (event.type) {
      case "Restarted": {
        const fresh = new Map<string, T>();
        for (const obj of event.objects) fresh.set(objectKey(obj), obj);
        for (const [key, old] of this.#items) {
          if (!fresh.has(key)) {
            this.#items.delete(key);
            this.#emit({ type: "delete", object: old });
          }
        }
        for (const [key, obj] of fresh) {
          const old = this.#items.get(key);
          this.#items.set(key, obj);
          if (!old) this.#emit({ type: "add", object: obj });
          else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
            this.#emit({ type: "update", object: obj, old });
          }
        }
        return;
      }
      case "Added":
      case "Modified": {
        const key = objectKey(event.object);
        const old = this.#items.get(key);
        this.#items.set(key, event.object);
        this.#emit(
          old ? { type: "update", object: event.object, old } : { type: "add", object: event.object },
        );
        return;
      }
      case "Deleted": {
        const key = objectKey(event.object);
        this.#items.delete(key);
        this.#emit({ type: "delete", object: event.object });
        return;
      }
    }
  }

  #emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#opts.onError?.({ error, action: "handler" });
      }
    }
  }
}
