/**
 * A resilient list+watch stream (kube-rs `watcher` style): list, watch, resume, relist on 410, back off.
 *
 * @module
 */
import type { ListAllOptions, WatchEvent, WatchOptions, WatchReceived } from "./api.ts";
import type { KubeObject } from "./resources.ts";
import { WatchExpiredError } from "./errors.ts";
import { backoffDelay, sleep } from "./transport.ts";

/** What the watcher yields. */
export type WatcherEvent<T> =
  /** A (re)list completed: `objects` is the complete current state; forget everything seen before. */
  | { type: "Restarted"; objects: T[]; resourceVersion: string }
  /** An object appeared. */
  | { type: "Added"; object: T }
  /** An object changed. */
  | { type: "Modified"; object: T }
  /** An object is gone (its last known state). */
  | { type: "Deleted"; object: T };

/** The two calls a watcher makes: a paged list and one watch connection. An `Api<T>` is a `ListWatch<T>`. */
export interface ListWatch<T extends KubeObject> {
  /** Lists every page of one snapshot (see `Api.listAll`). */
  listAll(opts: ListAllOptions<T>): Promise<{ items: T[]; resourceVersion: string }>;
  /** One watch connection (see `Api.watch`). */
  watch(opts: WatchOptions): AsyncGenerator<WatchEvent<T>, void, undefined>;
}

/** The watcher's explicit state: it either needs a (re)list or watches from a resourceVersion. */
export type WatcherState = { phase: "Empty" } | { phase: "Watching"; resourceVersion: string };

/** A failure the watcher recovered from (for logs and metrics). */
export interface WatcherErrorInfo {
  /** The error. */
  error: unknown;
  /** State in which it happened. */
  state: WatcherState;
  /** What the watcher does next. */
  action: "relist" | "retry";
  /** Delay before the retry (0 for relists). */
  delayMs: number;
}

/** Backoff of the watcher: jittered exponential, reset after a quiet period without errors. */
export interface WatcherBackoff {
  /** First delay (default 800 ms). */
  initialMs: number;
  /** Cap (default 30 s). */
  maxMs: number;
  /** Forget past failures after this long without one (default 120 s). */
  resetAfterMs: number;
}

/** Options of {@link watcher} over objects of type `T`. */
export interface WatcherOptions<T extends KubeObject = KubeObject> {
  /** Stops the watcher: the iteration ends without an error. Required. */
  signal: AbortSignal;
  /** Label selector for list and watch. */
  labelSelector?: string;
  /** Field selector for list and watch. */
  fieldSelector?: string;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** Applied to each listed object as its page arrives (see `Api.listAll`); watch events are left alone. */
  mapListed?: (obj: T) => T;
  /** Start watching from this resourceVersion instead of listing first (a 410 then triggers a list). */
  resourceVersion?: string;
  /** Backoff overrides. */
  backoff?: Partial<WatcherBackoff>;
  /** Server-side watch timeout range in seconds (default 300–600, randomised so clients spread out). */
  watchTimeoutSeconds?: [number, number];
  /** Called for every error the watcher recovers from. */
  onError?: (info: WatcherErrorInfo) => void;
  /** Called for every watch event received, with its size (see `WatchOptions.onReceive`). */
  onReceive?: (received: WatchReceived) => void;
}

/** Exponential backoff that starts over after `resetAfterMs` without failures (kube-rs `ResetTimerBackoff`). */
export class ResettingBackoff {
  #attempt = 0;
  #lastFailure = -Infinity;
  readonly #opts: WatcherBackoff;
  readonly #now: () => number;

  /** Creates the backoff; `now` is injectable for tests. */
  constructor(opts: Partial<WatcherBackoff> = {}, now: () => number = Date.now) {
    this.#opts = { initialMs: 800, maxMs: 30_000, resetAfterMs: 120_000, ...opts };
    this.#now = now;
  }

  /** Delay before the next retry; counts a failure. */
  next(): number {
    const now = this.#now();
    if (now - this.#lastFailure > this.#opts.resetAfterMs) this.#attempt = 0;
    this.#attempt++;
    this.#lastFailure = now;
    return backoffDelay(this.#attempt, this.#opts.initialMs, this.#opts.maxMs);
  }
}

/**
 * Streams the state of a resource as events, forever, until `signal` aborts:
 * `Empty` → paged list → `Restarted` → `Watching(rv)` → `Added/Modified/Deleted`…
 * - the server closing the watch (timeout) or a dropped connection → reconnect from the last
 *   resourceVersion (bookmarks keep it fresh), so no event is lost or repeated;
 * - 410 Gone (HTTP or ERROR event) → back to `Empty`: relist and emit `Restarted` (consumers diff);
 * - any other error → retry from the same state after jittered exponential backoff (reset after a quiet
 *   period); it never gives up.
 * The source is usually an `Api` (or its metadata view); see {@link ListWatch}.
 * Permissions/RBAC: `list` and `watch` on the resource.
 */
export async function* watcher<T extends KubeObject>(
  api: ListWatch<T>,
  opts: WatcherOptions<T>,
): AsyncGenerator<WatcherEvent<T>, void, undefined> {
  const { signal } = opts;
  const backoff = new ResettingBackoff(opts.backoff);
  const [minTimeout, maxTimeout] = opts.watchTimeoutSeconds ?? [300, 600];
  let state: WatcherState = opts.resourceVersion
    ? { phase: "Watching", resourceVersion: opts.resourceVersion }
    : { phase: "Empty" };
  let expiredSinceList = false;
  while (!signal.aborted) {
    try {
      if (state.phase === "Empty") {
        const { items, resourceVersion } = await api.listAll({
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.pageSize,
          map: opts.mapListed,
          signal,
        });
        state = { phase: "Watching", resourceVersion };
        yield { type: "Restarted", objects: items, resourceVersion };
        continue;
      }
      const watching: { phase: "Watching"; resourceVersion: string } = state;
      const stream = api.watch({
        resourceVersion: watching.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(minTimeout + Math.random() * (maxTimeout - minTimeout)),
        onReceive: opts.onReceive,
        signal,
      });
      for await (const event of stream) {
        const rv = event.object?.metadata?.resourceVersion;
        if (rv) watching.resourceVersion = rv;
        expiredSinceList = false;
        if (event.type === "BOOKMARK") continue;
        yield {
          type: event.type === "ADDED" ? "Added" : event.type === "MODIFIED" ? "Modified" : "Deleted",
          object: event.object,
        };
      }
      // The server ended the watch (timeoutSeconds) or the connection closed cleanly: resume at once.
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof WatchExpiredError && !expiredSinceList) {
        // Relist at once; a second 410 before any event arrives is treated as a failure (backoff).
        expiredSinceList = true;
        opts.onError?.({ error, state, action: "relist", delayMs: 0 });
        state = { phase: "Empty" };
        continue;
      }
      if (error instanceof WatchExpiredError) state = { phase: "Empty" };
      const delayMs = backoff.next();
      opts.onError?.({ error, state, action: state.phase === "Empty" ? "relist" : "retry", delayMs });
      try {
        await sleep(delayMs, signal);
      } catch {
        return;
      }
    }
  }
}
