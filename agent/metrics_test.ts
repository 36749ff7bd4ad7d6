/** Unit test of the agent's metric set: series a dashboard needs exist before anything happened. */
import { ok } from "node:assert";
import { Registry } from "../ops/metrics.ts";
import { agentMetrics } from "./metrics.ts";

Deno.test("agentMetrics exposes the event-loop lag histogram before any sample (an idle agent says 0, not nothing)", () => {
  const registry = new Registry();
  agentMetrics(registry);
  const text = registry.expose();
  ok(text.includes("swh_agent_event_loop_lag_seconds_count 0"), text);
  ok(text.includes('swh_agent_event_loop_lag_seconds_bucket{le="+Inf"} 0'), text);
});
