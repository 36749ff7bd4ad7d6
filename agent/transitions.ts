/**
 * Tells people about endpoint transitions: one info log line each, and a Kubernetes Event on the SWH within a
 * rate limit (a node-wide outage flips every endpoint at once; a few Events tell the story, the metric
 * `swh_agent_events_dropped_total` counts the rest). A new endpoint's first publication is logged only.
 *
 * RBAC: create events in the SWHs' namespaces.
 *
 * @module
 */
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/names.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Logger } from "../ops/log.ts";
import { TokenBucket } from "../ops/token_bucket.ts";
import type { ProbeResult } from "../probes/types.ts";
import type { SelectedEndpoint } from "./endpoints.ts";

/** One endpoint's verdict change. */
export interface Transition {
  /** The SWH. */
  readonly swh: ServiceWithHealthchecks;
  /** The endpoint, when still selected (else only its key is known). */
  readonly endpoint: SelectedEndpoint | undefined;
  /** Its key (pod uid/IP). */
  readonly key: string;
  /** The new verdict. */
  readonly healthy: boolean;
  /** The endpoint's first verdict change since it was scheduled (a new pod passing its first probes). */
  readonly first?: boolean;
  /** Indexes of the probes failing now. */
  readonly failingProbes: readonly string[];
  /** The result that caused it, when a probe result did. */
  readonly result?: ProbeResult;
}

/** Logs and records transitions (see the module docs). */
export class TransitionReporter {
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #node: string;
  readonly #bucket: TokenBucket;
  readonly #onDropped: () => void;

  /** Events at most `eventsPerSecond` on average (burst 20); `onDropped` counts the rest. */
  constructor(opts: {
    events: EventRecorder;
    log: Logger;
    node: string;
    eventsPerSecond?: number;
    onDropped: () => void;
  }) {
    this.#events = opts.events;
    this.#log = opts.log;
    this.#node = opts.node;
    this.#bucket = new TokenBucket({ perSecond: opts.eventsPerSecond ?? 2, burst: 20 });
    this.#onDropped = opts.onDropped;
  }

  /** Logs the transition, and records an Event unless the rate limit says no. */
  report(t: Transition): void {
    const { swh, endpoint: ep } = t;
    const object = `${swh.metadata.namespace}/${swh.metadata.name}`;
    const probe = t.failingProbes.join(",");
    this.#log.info(t.healthy ? "endpoint published" : "endpoint withdrawn", {
      object,
      pod: ep?.podName,
      ip: ep?.ip ?? t.key,
      ...(t.healthy ? {} : { probe, reason: t.result?.reason }),
      ...(t.result ? { durationMs: t.result.durationMs } : {}),
    });
    // A new endpoint passing its probes is the normal course, not news: an Event each would cost a 100-node
    // fleet's cold start 10,000 writes (measured) and bury the withdrawals that matter.
    if (t.healthy && t.first) return;
    if (!this.#bucket.take()) {
      this.#onDropped();
      return;
    }
    const who = ep ? `pod ${ep.podName} (${ep.ip})` : t.key;
    const message = t.healthy
      ? `${who} passes all probes on node ${this.#node}: published`
      : `${who} fails probe ${probe} on node ${this.#node}` + (t.result ? ` (${t.result.reason})` : "") +
        ": withdrawn";
    this.#events.record(
      { apiVersion: SWH_API_VERSION, kind: SWH_KIND, metadata: swh.metadata },
      t.healthy ? "Normal" : "Warning",
      t.healthy ? "EndpointHealthy" : "EndpointUnhealthy",
      message,
    );
  }
}
