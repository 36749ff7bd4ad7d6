/**
 * Informer: a reflector that keeps an in-memory store of one resource current and emits typed changes.
 *
 * @module
 */
import type { Api, WatchReceived } from "./api.ts";
import type { KubeObject } from "./resources.ts";
import { watcher } from "./watch.ts";
import type { WatcherBackoff, WatcherErrorInfo, WatcherEvent } from "./watch.ts";
import { objectKey, StoreBackedInformer } from "./store.ts";

export { objectKey } from "./store.ts";
export type { InformerEvent, SharedInformer, Store } from "./store.ts";

/** Drops `metadata.managedFields` (often half of an object's size); for {@link InformerOptions.transform}. */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
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
  /**
   * Which objects (after `transform`) to cache, for what selectors cannot say: the others are treated as absent
   * (one that stops being accepted is deleted from the cache, with a `delete` event).
   */
  accept?: (obj: T) => boolean;
  /** Recovered watch errors and handler exceptions (for logs and metrics). */
  onError?: (info: WatcherErrorInfo | { error: unknown; action: "handler" }) => void;
  /** Every watch event received, with its size on the wire (see `WatchOptions.onReceive`). */
  onReceive?: (received: WatchReceived) => void;
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
export class Informer<T extends KubeObject> extends StoreBackedInformer<T> {
  readonly #api: Api<T>;
  readonly #opts: InformerOptions<T>;
  #running: Promise<void> | undefined;

  /** Creates a stopped informer; call {@link Informer.start}. */
  constructor(api: Api<T>, opts: InformerOptions<T> = {}) {
    super((error) => opts.onError?.({ error, action: "handler" }));
    this.#api = api;
    this.#opts = opts;
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
        // Listed objects are transformed page by page (a big list never sits in memory raw), events below.
        mapListed: this.#opts.transform,
        backoff: this.#opts.backoff,
        onError: this.#opts.onError,
        onReceive: this.#opts.onReceive,
      });
      for await (const event of events) {
        this.#apply(event);
        if (event.type === "Restarted") this.store.markSynced();
      }
    } finally {
      this.store.failSync(signal.reason ?? new Error("informer stopped before sync"));
    }
  }

  #apply(event: WatcherEvent<T>): void {
    const { transform, accept } = this.#opts;
    if (transform && event.type !== "Restarted") event = { ...event, object: transform(event.object) };
    switch (event.type) {
      case "Restarted":
        this.store.replace(accept ? event.objects.filter(accept) : event.objects);
        return;
      case "Added":
      case "Modified": {
        if (accept && !accept(event.object)) {
          const gone = this.store.delete(objectKey(event.object));
          if (gone) this.store.emit({ type: "delete", object: gone });
          return;
        }
        const old = this.store.set(event.object);
        this.store.emit(
          old ? { type: "update", object: event.object, old } : { type: "add", object: event.object },
        );
        return;
      }
      case "Deleted": {
        const gone = this.store.delete(objectKey(event.object));
        // An object never accepted was never seen by handlers.
        if (gone || !accept) this.store.emit({ type: "delete", object: event.object });
        return;
      }
    }
  }
}
