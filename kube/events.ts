/** Kubernetes Events (core/v1) for the objects a program acts on, de-duplicated so retries cannot flood. */
import { metaTime } from "./time.ts";
import { Api } from "./api.ts";
import type { KubeTransport } from "./transport.ts";
import { Events } from "./resources.ts";

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; uid?: string };
}

/** Options of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** `source.component` / `reportingComponent`, e.g. `swh-controller`. */
  component: string;
  /** `reportingInstance`, e.g. the pod name. */
  instance: string;
  /** The same (object, type, reason, message) is not recorded again within this window (default 10 min). */
  dedupeWindowMs?: number;
  /** Failures to record (Events are best effort: they never fail the caller). */
  onError?: (error: unknown) => void;
  /** Called for each Event actually sent (metrics). */
  onRecorded?: () => void;
}

/**
 * Records Events in the subject's namespace (`default` for cluster-scoped subjects). Best effort and
 * asynchronous: `record` never throws or blocks; `flush()` awaits the Events in flight. Identical Events
 * within the de-duplication window are dropped, so a reconcile retried with backoff reports once.
 * RBAC: `create` on `events`.
 */
export class EventRecorder {
  readonly #transport: KubeTransport;
  readonly #opts: EventRecorderOptions;
  readonly #recent = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();

  /** Creates the recorder. */
  constructor(transport: KubeTransport, opts: EventRecorderOptions) {
    this.#transport = transport;
    this.#opts = opts;
  }

  /** Records one Event about `subject` (reason in CamelCase, message for humans). */
  record(subject: EventSubject, type: "Normal" | "Warning", reason: string, message: string): void {
    const meta = subject.metadata ?? {};
    const key = `${meta.uid ?? `${meta.namespace}/${meta.name}`}\n${type}\n${reason}\n${message}`;
    const now = Date.now();
    const window = this.#opts.dedupeWindowMs ?? 600_000;
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < window) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 10_000) {
      for (const [k, at] of this.#recent) if (now - at >= window) this.#recent.delete(k);
    }
    const namespace = meta.namespace || "default";
    const time = metaTime(new Date(now));
    const task = Api.namespaced(this.#transport, Events, namespace).create({
      metadata: {
        name: `${meta.name ?? "object"}.${now.toString(16)}${
          Math.floor(Math.random() * 0xffff).toString(16)
        }`,
        namespace,
      },
      involvedObject: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.#opts.component },
      reportingComponent: this.#opts.component,
      reportingInstance: this.#opts.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    }).then(() => this.#opts.onRecorded?.(), (err) => this.#opts.onError?.(err));
    this.#inFlight.add(task);
    task.finally(() => this.#inFlight.delete(task));
  }

  /** Waits for the Events in flight. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }
}
