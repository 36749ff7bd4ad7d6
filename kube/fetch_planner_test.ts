/** Unit tests of the GET-or-LIST policy: trickles are GETs, bursts are one LIST per interval. */
import { deepStrictEqual } from "node:assert";
import { FetchPlanner } from "./fetch_planner.ts";

Deno.test("fetch planner: a few fetches are GETs; a burst in one window lists at once", () => {
  const planner = new FetchPlanner({}, () => 0);
  deepStrictEqual(planner.plan(1, 100), { via: "get" });
  deepStrictEqual(planner.plan(19, 0), { via: "get" });
  deepStrictEqual(planner.plan(20, 0), { via: "list", waitMs: 0 });
  // 20 fetches against a collection of 1,000: one LIST would serialise 50 objects per fetch.
  deepStrictEqual(planner.plan(20, 1_000), { via: "get" });
  deepStrictEqual(planner.plan(50, 1_000), { via: "list", waitMs: 0 });
});

Deno.test("fetch planner: a burst of 50 creations a second (5 per window): 15 GETs, then one LIST per second", () => {
  // Simulates the informer's rounds: 100 ms coalescing window, arrivals at 50/s, served objects cached.
  let now = 0;
  const planner = new FetchPlanner({ listIntervalMs: 1_000 }, () => now);
  let arrived = 0;
  let served = 0;
  let gets = 0;
  const lists: number[] = [];
  const arrivals = () => Math.min(250, Math.floor(now / 20)); // 50 per second, 250 in 5 s
  while (served < 250) {
    now += 100;
    arrived = arrivals();
    const plan = planner.plan(arrived - served, served);
    if (plan.via === "list") {
      now += plan.waitMs;
      arrived = arrivals();
      lists.push(now);
    } else gets += arrived - served;
    planner.record(arrived - served, plan.via === "list");
    served = arrived;
  }
  deepStrictEqual(gets, 15);
  // The first LIST as soon as 20 were wanted within a second; then one per second until the burst ends.
  deepStrictEqual(lists, [400, 1_400, 2_400, 3_400, 4_400, 5_400]);
});

Deno.test("fetch planner: demand older than the interval is forgotten", () => {
  let now = 0;
  const planner = new FetchPlanner({ listIntervalMs: 1_000 }, () => now);
  planner.record(30, true);
  now = 500;
  deepStrictEqual(planner.plan(1, 40), { via: "list", waitMs: 500 });
  now = 1_001;
  deepStrictEqual(planner.plan(1, 40), { via: "get" });
});
