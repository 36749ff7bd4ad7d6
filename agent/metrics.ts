/** The agent's Prometheus metrics, registered in one place so names and labels stay consistent. */
import type { Counter, Gauge, Histogram, Registry } from "../ops/metrics.ts";

/** Every metric the agent exposes on /metrics. */
export interface AgentMetrics {
  /** Probe results by SWH (namespace, name), mode and result (`success` | `failure`). */
  readonly probes: Counter;
  /** Probe durations in seconds by mode. */
  readonly probeSeconds: Histogram;
  /** Timeouts not counted against the target because the agent itself was stalled meanwhile, by mode. */
  readonly probesInconclusive: Counter;
  /** How late the agent's event loop ran (CPU starvation, GC pauses), sampled every 250 ms. */
  readonly eventLoopLag: Histogram;
  /** Endpoints on this node passing all probes, by SWH namespace and name. */
  readonly endpointsHealthy: Gauge;
  /** Endpoints on this node selected by each SWH. */
  readonly endpointsTotal: Gauge;
  /** metadata.generation of the spec this node serves each SWH by (a node lagging its controller shows here). */
  readonly specGeneration: Gauge;
  /** API requests that change state, by resource and verb (and `failed`). */
  readonly apiWrites: Counter;
  /** Watch streams restarted (errors, 410 relists), by resource. */
  readonly watchRestarts: Counter;
  /** Watch events received, by resource: what other components' writes cost this agent. */
  readonly watchEvents: Counter;
  /** Bytes of those watch events, by resource. */
  readonly watchBytes: Counter;
  /**
   * ServiceWithHealthchecks objects fetched (GETs, `via="get"`; SWHs are not watched): in a fleet, the SWHs with
   * pods on this node, once each and again per spec change.
   */
  readonly swhFetches: Counter;
  /** ServiceWithHealthchecks the agent holds: those that concern its node. */
  readonly swhsCached: Gauge;
  /** Endpoint verdict changes, by direction (`healthy` | `unhealthy`). */
  readonly transitions: Counter;
  /** Events dropped by the agent's rate limit. */
  readonly eventsDropped: Counter;
  /** Heartbeat Lease renewals, by result (`renewed` | `failed`). */
  readonly heartbeats: Counter;
}

/** The writes an agent makes, by resource: their counters are exposed at zero from the start. */
const WRITES: Readonly<Record<string, readonly string[]>> = {
  endpointslices: ["apply", "delete"],
  servicewithhealthchecksnodereports: ["apply", "delete"],
  leases: ["apply"],
  events: ["create"],
};

/** Registers the agent's metrics in `registry`, every known series present at zero. */
export function agentMetrics(registry: Registry): AgentMetrics {
  const metrics = createMetrics(registry);
  for (const [resource, verbs] of Object.entries(WRITES)) {
    for (const verb of verbs) {
      for (const failed of ["true", "false"]) metrics.apiWrites.init({ resource, verb, failed });
    }
  }
  metrics.eventsDropped.init();
  metrics.swhsCached.set({}, 0);
  for (const result of ["renewed", "failed"]) metrics.heartbeats.init({ result });
  return metrics;
}

function createMetrics(registry: Registry): AgentMetrics {
  return {
    probes: registry.counter("swh_agent_probes_total", "Probe results by mode and result."),
    probeSeconds: registry.histogram("swh_agent_probe_duration_seconds", "Probe durations by mode."),
    probesInconclusive: registry.counter(
      "swh_agent_probes_inconclusive_total",
      "Timed-out probes not counted against the target because the agent itself was stalled meanwhile.",
    ),
    eventLoopLag: registry.histogram(
      "swh_agent_event_loop_lag_seconds",
      "How late the agent's event loop ran (CPU starvation, GC pauses), sampled while probes are in flight.",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ).init(), // exposed from the start: an agent with nothing to probe samples nothing, and says so with zeros
    endpointsHealthy: registry.gauge(
      "swh_agent_endpoints_healthy",
      "Endpoints on this node passing all probes, by SWH namespace and name (only SWHs with endpoints here).",
    ),
    endpointsTotal: registry.gauge(
      "swh_agent_endpoints_total",
      "Endpoints on this node selected by each ServiceWithHealthchecks.",
    ),
    specGeneration: registry.gauge(
      "swh_agent_spec_generation",
      "metadata.generation of the spec this node probes and publishes each ServiceWithHealthchecks by (only " +
        "SWHs with endpoints here): the generation the controller accepted and noted on the Service.",
    ),
    apiWrites: registry.counter("swh_agent_api_writes_total", "API writes by resource, verb and outcome."),
    watchRestarts: registry.counter("swh_agent_watch_restarts_total", "Watch restarts (errors, relists)."),
    watchEvents: registry.counter(
      "swh_agent_watch_events_total",
      "Watch events the agent received, by resource (what other components' writes cost it).",
    ),
    watchBytes: registry.counter(
      "swh_agent_watch_bytes_total",
      "Bytes of the watch events received, by resource.",
    ),
    swhFetches: registry.counter(
      "swh_agent_swh_fetches_total",
      "ServiceWithHealthchecks objects fetched by GET (agents do not watch them), by via.",
    ),
    swhsCached: registry.gauge(
      "swh_agent_swhs_cached",
      "ServiceWithHealthchecks the agent holds (those that concern its node).",
    ),
    transitions: registry.counter("swh_agent_endpoint_transitions_total", "Endpoint verdict changes."),
    eventsDropped: registry.counter("swh_agent_events_dropped_total", "Events dropped by the rate limit."),
    heartbeats: registry.counter("swh_agent_heartbeats_total", "Heartbeat Lease renewals, by result."),
  };
}
