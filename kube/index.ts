/**
 * A secondary index over an informer's store (client-go's Indexer): objects by a computed key, kept current by
 * the informer's events, so "the slices of this Service" costs a map lookup instead of a scan of the cache.
 *
 * @module
 */
import { objectKey } from "./informer.ts";
import type { InformerEvent } from "./informer.ts";
import type { KubeObject } from "./resources.ts";

/** Objects of one informer grouped by `keysOf(object)` (an object may sit under several keys, or none). */
export class Index<T extends KubeObject> {
  readonly #byKey = new Map<string, Map<string, T>>();
  readonly #keysOf: (obj: T) => readonly string[];

  /** Subscribes to `informer`; create it before the informer starts so the initial list is indexed too. */
  constructor(
    informer: { subscribe(handler: (event: InformerEvent<T>) => void): unknown },
    keysOf: (obj: T) => readonly string[],
  ) {
    this.#keysOf = keysOf;
    informer.subscribe((e) => {
      if (e.type !== "add") this.#remove(e.type === "update" ? e.old : e.object);
      if (e.type !== "delete") this.#add(e.object);
    });
  }

  /** The objects under `key` (a fresh array; the objects are the cache's: do not mutate). */
  get(key: string): T[] {
    return [...(this.#byKey.get(key)?.values() ?? [])];
  }

  /** Every key that has objects. */
  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  #add(obj: T): void {
    const id = objectKey(obj);
    for (const key of this.#keysOf(obj)) {
      let bucket = this.#byKey.get(key);
      if (!bucket) this.#byKey.set(key, bucket = new Map());
      bucket.set(id, obj);
    }
  }

  #remove(obj: T): void {
    const id = objectKey(obj);
    for (const key of this.#keysOf(obj)) {
      const bucket = this.#byKey.get(key);
      if (!bucket) continue;
      bucket.delete(id);
      if (bucket.size === 0) this.#byKey.delete(key);
    }
  }
}
