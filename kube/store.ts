/**
 * The in-memory side every informer shares: objects by key, change handlers, and the `synced` promise.
 *
 * @module
 */
import type { KubeObject } from "./resources.ts";

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

/** Read-only view of the cached objects. Returned objects are shared: do not mutate them. */
export interface Store<T> {
  /** The object `namespace/name` (omit namespace for cluster-scoped), if cached. */
  get(namespace: string | undefined, name: string): T | undefined;
  /** All cached objects (a fresh array). */
  list(): T[];
  /** Number of cached objects. */
  readonly size: number;
}

/**
 * What consumers of any informer use: the store, change handlers, readiness and start. Implemented by
 * `Informer` (watches objects, or their metadata through a metadata view) and the agent's `SwhSpecs` (fetches by GET).
 */
export interface SharedInformer<T> extends Store<T> {
  /** Resolves once the initial list is in the store; rejects if the informer stops before that. */
  readonly synced: Promise<void>;
  /** True once the initial list is in. */
  readonly hasSynced: boolean;
  /** Registers a handler for changes; returns the function that unregisters it. */
  subscribe(handler: (event: InformerEvent<T>) => void): () => void;
  /** Runs until `signal` aborts; the promise resolves once stopped (errors are retried, never thrown). */
  start(signal: AbortSignal): Promise<void>;
}

/**
 * Objects by key plus synchronous change handlers and the `synced` promise, for informer implementations.
 * Mutations do not notify by themselves: the informer decides what its handlers see and calls
 * {@link ObjectStore.emit}. A throwing handler goes to `onHandlerError`, and the other handlers still run.
 */
export class ObjectStore<T extends KubeObject> implements Store<T> {
  readonly #items = new Map<string, T>();
  readonly #handlers = new Set<(event: InformerEvent<T>) => void>();
  readonly #onHandlerError: (error: unknown) => void;
  #synced = false;
  #resolveSynced!: () => void;
  #rejectSynced!: (reason: unknown) => void;
  /** Resolves on {@link ObjectStore.markSynced}; rejects on {@link ObjectStore.failSync} before that. */
  readonly synced: Promise<void>;

  /** Creates an empty, unsynced store. */
  constructor(onHandlerError: (error: unknown) => void) {
    this.#onHandlerError = onHandlerError;
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    this.synced.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /** True once synced. */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Number of objects. */
  get size(): number {
    return this.#items.size;
  }

  /** An object by namespace and name. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#items.get(namespace ? `${namespace}/${name}` : name);
  }

  /** An object by {@link objectKey}. */
  getByKey(key: string): T | undefined {
    return this.#items.get(key);
  }

  /** All objects. */
  list(): T[] {
    return [...this.#items.values()];
  }

  /** Registers a handler; returns its unregistration. */
  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Stores `obj` under its key; returns the object it replaced. */
  set(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.#items.get(key);
    this.#items.set(key, obj);
    return old;
  }

  /** Removes the object under `key`; returns it. */
  delete(key: string): T | undefined {
    const old = this.#items.get(key);
    this.#items.delete(key);
    return old;
  }

  /**
   * Replaces the whole content by a fresh list and tells handlers the net difference: deletes for objects
   * gone, adds for new ones, updates for those that `changed` (default: the resourceVersion differs).
   */
  replace(
    objects: T[],
    changed: (old: T, obj: T) => boolean = (old, obj) =>
      old.metadata?.resourceVersion !== obj.metadata?.resourceVersion,
  ): void {
    const fresh = new Map<string, T>();
    for (const obj of objects) fresh.set(objectKey(obj), obj);
    for (const [key, old] of this.#items) {
      if (!fresh.has(key)) {
        this.#items.delete(key);
        this.emit({ type: "delete", object: old });
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.#items.get(key);
      this.#items.set(key, obj);
      if (!old) this.emit({ type: "add", object: obj });
      else if (changed(old, obj)) this.emit({ type: "update", object: obj, old });
    }
  }

  /** Runs every handler on `event`, in registration order. */
  emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#onHandlerError(error);
      }
    }
  }

  /** Marks the store synced (idempotent). */
  markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.#resolveSynced();
  }

  /** Rejects `synced` with `reason` unless already synced. */
  failSync(reason: unknown): void {
    if (!this.#synced) this.#rejectSynced(reason);
  }
}

/**
 * The read side every {@link SharedInformer} over an {@link ObjectStore} shares — store, readiness, handlers —
 * so an implementation only says how objects get into `store` ({@link SharedInformer.start}).
 */
export abstract class StoreBackedInformer<T extends KubeObject> implements SharedInformer<T> {
  /** The objects; the implementation fills it and decides what handlers see. */
  protected readonly store: ObjectStore<T>;

  /** `onHandlerError` receives what a change handler throws. */
  constructor(onHandlerError: (error: unknown) => void) {
    this.store = new ObjectStore<T>(onHandlerError);
  }

  /** Resolves once synced; rejects if the informer stops before that. */
  get synced(): Promise<void> {
    return this.store.synced;
  }

  /** True once synced. */
  get hasSynced(): boolean {
    return this.store.hasSynced;
  }

  /** Number of objects held. */
  get size(): number {
    return this.store.size;
  }

  /** An object by namespace and name. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace, name);
  }

  /** Every object held. */
  list(): T[] {
    return this.store.list();
  }

  /** Registers a handler for changes; returns the function that unregisters it. */
  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    return this.store.subscribe(handler);
  }

  /** Runs until `signal` aborts; the promise resolves once stopped (errors are retried, never thrown). */
  abstract start(signal: AbortSignal): Promise<void>;
}
