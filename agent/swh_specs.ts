/**
 * The ServiceWithHealthchecks specs this node's agent needs, fetched by GET when the controller's notes on
 * their Services ask for them — never watched.
 *
 * Why not a watch: every write to an SWH reaches every watcher, and most writes are the controller's status
 * summaries of *other* agents' reports. Watched by every agent (even as metadata), one endpoint transition
 * anywhere cost every agent a watch event, and made each status write fan out to every node — measured on a
 * 100-node fleet: half of each agent's watch events in a cold start, and priority-and-fairness charging each
 * status write ten seats for its hundred watchers. The controller instead notes the SWH's generation on its
 * Service (which agents watch as metadata anyway); an agent fetches the spec when a note that concerns its node
 * names a generation newer than the one it holds, and forgets the SWH when its Service goes or stops
 * concerning the node. Status writes reach no agent.
 *
 * @module
 */
import type { Api } from "../kube/api.ts";
import { objectKey, StoreBackedInformer } from "../kube/store.ts";
import { ResettingBackoff } from "../kube/watch.ts";
import type { WatcherBackoff } from "../kube/watch.ts";
import { sleep } from "../kube/transport.ts";
import type { SwhObject } from "./caches.ts";

/** Which state of an SWH the agent needs: the object of this uid (any, if unset) at this generation or newer. */
export interface SwhTarget {
  uid?: string;
  /** The generation the controller noted on the Service; unset (an older controller): any state will do. */
  generation?: number;
}

/** One fetch the agent owes itself. */
interface PendingFetch {
  key: string;
  namespace: string;
  name: string;
  target: SwhTarget;
}

/** Options of {@link SwhSpecs}. */
export interface SwhSpecsOptions {
  /** Applied to each fetched object before it is stored (drop what the agent never reads). */
  transform?: (obj: SwhObject) => SwhObject;
  /** GETs in flight at once (default 4). */
  getConcurrency?: number;
  /** Called for every GET answered (metrics): found, or gone. */
  onFetch?: (info: { found: boolean }) => void;
  /** Called for a failed round, before its retry after `delayMs`. */
  onError?: (info: { error: unknown; delayMs: number }) => void;
  /** Retry delays after failures. */
  backoff?: Partial<WatcherBackoff>;
}

/** Whether `cached` already satisfies `target`. */
export function satisfies(cached: SwhObject | undefined, target: SwhTarget): boolean {
  if (!cached) return false;
  if (target.uid !== undefined && cached.metadata?.uid !== target.uid) return false;
  return target.generation === undefined || (cached.metadata?.generation ?? 0) >= target.generation;
}

/**
 * A store of SWHs filled by {@link SwhSpecs.want} and emptied by {@link SwhSpecs.forget}: the fetches run in the
 * background (a bounded number of GETs at once, failures retried with backoff), and handlers see an add, update
 * or delete as the stored state changes. `synced` resolves once the fetches wanted before {@link SwhSpecs.start}
 * (an agent's start-up) are done.
 */
export class SwhSpecs extends StoreBackedInformer<SwhObject> {
  readonly #api: Api<SwhObject>;
  readonly #opts: SwhSpecsOptions;
  readonly #pending = new Map<string, PendingFetch>();
  #wake?: () => void;

  /** `api` reads SWHs in every namespace; `onHandlerError` receives what a change handler throws. */
  constructor(
    api: Api<SwhObject>,
    opts: SwhSpecsOptions = {},
    onHandlerError: (e: unknown) => void = () => {},
  ) {
    super(onHandlerError);
    this.#api = api;
    this.#opts = opts;
  }

  /** The agent needs SWH `namespace/name` as `target` says: fetched unless what is held already satisfies it. */
  want(namespace: string, name: string, target: SwhTarget): void {
    const key = `${namespace}/${name}`;
    if (satisfies(this.store.getByKey(key), target)) {
      this.#pending.delete(key);
      return;
    }
    const current = this.#pending.get(key);
    if (current && current.target.uid === target.uid && current.target.generation === target.generation) {
      return;
    }
    this.#pending.set(key, { key, namespace, name, target });
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The agent no longer needs SWH `namespace/name`: dropped (handlers see a delete), any fetch cancelled. */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.#pending.delete(key);
    this.#drop(key);
  }

  /** Removes `key` from the store; handlers see a delete if it was held. */
  #drop(key: string): void {
    const old = this.store.delete(key);
    if (old) this.store.emit({ type: "delete", object: old });
  }

  /** Fetches what is wanted until `signal` aborts; never throws (failed rounds are retried). */
  async start(signal: AbortSignal): Promise<void> {
    const backoff = new ResettingBackoff(this.#opts.backoff);
    try {
      while (!signal.aborted) {
        if (this.#pending.size === 0) {
          this.store.markSynced();
          await this.#woken(signal);
          continue;
        }
        try {
          await this.#fetchRound([...this.#pending.values()], signal);
        } catch (error) {
          if (signal.aborted) return;
          const delayMs = backoff.next();
          this.#opts.onError?.({ error, delayMs });
          await sleep(delayMs, signal);
        }
      }
    } catch (error) {
      if (!signal.aborted) throw error; // sleep rejects only on abort
    } finally {
      this.store.failSync(new DOMException("stopped before synced", "AbortError"));
    }
  }

  /** GETs every entry of `batch`, a bounded number at once; throws the first failure once all are done. */
  async #fetchRound(batch: PendingFetch[], signal: AbortSignal): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (next < batch.length) {
        const entry = batch[next++];
        if (this.#pending.get(entry.key) !== entry) continue; // forgotten or superseded meanwhile
        try {
          // From the apiserver's watch cache first (no etcd read); a consistent read only when the cache is
          // behind the note (a new SWH not in it yet, an older generation, another uid).
          const api = this.#api.inNamespace(entry.namespace);
          let found = await api.getOpt(entry.name, { resourceVersion: "0", signal });
          if (!satisfies(found, entry.target)) found = await api.getOpt(entry.name, { signal });
          this.#opts.onFetch?.({ found: found !== undefined });
          this.#resolve(entry, found);
        } catch (error) {
          if (signal.aborted) throw error;
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.getConcurrency ?? 4, batch.length) }, worker));
    if (failure) throw failure.error;
  }

  /** Stores what a GET returned for `entry` (what the note asks for, or the newest state), or drops a gone SWH. */
  #resolve(entry: PendingFetch, fetched: SwhObject | undefined): void {
    const superseded = this.#pending.get(entry.key) !== entry;
    if (!superseded) this.#pending.delete(entry.key);
    else if (!this.#pending.has(entry.key)) return; // forgotten while the GET was in flight
    if (fetched === undefined) {
      // Gone: its Service goes too (garbage collection), and a newer note would bring it back.
      this.#drop(entry.key);
      return;
    }
    const obj = this.#opts.transform ? this.#opts.transform(fetched) : fetched;
    const old = this.store.getByKey(objectKey(obj));
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) return;
    this.store.set(obj);
    this.store.emit(old ? { type: "update", object: obj, old } : { type: "add", object: obj });
    // A newer note arrived while this GET was in flight: fetched again unless this answer already satisfies it.
    const pending = this.#pending.get(entry.key);
    if (pending && satisfies(obj, pending.target)) this.#pending.delete(entry.key);
  }

  /** Resolves when a fetch is wanted, or on abort. */
  #woken(signal: AbortSignal): Promise<void> {
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
