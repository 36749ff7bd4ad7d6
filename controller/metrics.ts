/** The controller's Prometheus metrics, registered once per controller instance. */
import { Registry } from "../ops/metrics.ts";
import type { Counter, Gauge, Histogram } from "../ops/metrics.ts";

/** Every metric the controller exposes on /metrics. */
export interface ControllerMetrics {
  registry: Registry;
  /** `swh_controller_reconciles_total{kind,result}`: result ok | error | rejected. */
  reconciles: Counter;
  /** `swh_controller_reconcile_errors_total{kind}`: reconciles that threw and will be retried with backoff. */
  errors: Counter;
  /** `swh_controller_reconcile_duration_seconds{kind}`. */
  duration: Histogram;
  /** `swh_controller_queue_depth`: keys waiting or running. */
  queueDepth: Gauge;
  /** `swh_controller_leader`: 1 while this replica reconciles. */
  leader: Gauge;
  /** `swh_controller_api_writes_total{resource,verb}`: successful API writes (Events included). */
  apiWrites: Counter;
  /** `swh_controller_api_write_failures_total{resource,verb}`. */
  apiWriteFailures: Counter;
  /** `swh_controller_stale_endpoints_withdrawn_total`: endpoints withdrawn from nodes whose agent is silent. */
  staleEndpointsWithdrawn: Counter;
  /** `swh_controller_watch_errors_total{resource}`: watch failures the informers recovered from. */
  watchErrors: Counter;
}

/** The writes the controller makes, by resource: their counters are exposed at zero from the start. */
const WRITES: Readonly<Record<string, readonly string[]>> = {
  services: ["create", "apply", "patch"],
  "servicewithhealthchecks": ["apply", "patch"],
  "servicewithhealthchecks/status": ["apply"],
  secrets: ["apply", "delete"],
  endpointslices: ["apply", "delete"],
  servicewithhealthchecksnodereports: ["delete"],
  events: ["create"],
  leases: ["create", "update"],
};

/** Creates the registry and the controller's metrics, every known series present at zero. */
export function controllerMetrics(): ControllerMetrics {
  const metrics = createMetrics();
  for (const [resource, verbs] of Object.entries(WRITES)) {
    for (const verb of verbs) {
      metrics.apiWrites.init({ resource, verb });
      metrics.apiWriteFailures.init({ resource, verb });
    }
  }
  for (const kind of ["swh", "credentials", "node"]) metrics.errors.init({ kind });
  metrics.staleEndpointsWithdrawn.init();
  return metrics;
}

function createMetrics(): ControllerMetrics {
  const registry = new Registry();
  return {
    registry,
    reconciles: registry.counter("swh_controller_reconciles_total", "Reconciles by kind and result."),
    errors: registry.counter(
      "swh_controller_reconcile_errors_total",
      "Reconciles that failed and are retried.",
    ),
    duration: registry.histogram("swh_controller_reconcile_duration_seconds", "Duration of one reconcile."),
    queueDepth: registry.gauge("swh_controller_queue_depth", "Keys waiting or being reconciled."),
    leader: registry.gauge("swh_controller_leader", "1 while this replica holds the lease and reconciles."),
    apiWrites: registry.counter(
      "swh_controller_api_writes_total",
      "Successful API writes by resource and verb.",
    ),
    apiWriteFailures: registry.counter("swh_controller_api_write_failures_total", "Failed API writes."),
    staleEndpointsWithdrawn: registry.counter(
      "swh_controller_stale_endpoints_withdrawn_total",
      "Endpoints withdrawn from nodes whose agent stopped renewing its heartbeat (their pods were gone).",
    ),
    watchErrors: registry.counter("swh_controller_watch_errors_total", "Watch errors recovered from."),
  };
}
