/** Unit tests of when a held SWH satisfies what a Service's notes ask for. */
import { deepStrictEqual } from "node:assert";
import type { SwhObject } from "./caches.ts";
import { satisfies } from "./swh_specs.ts";

const held = (uid: string, generation: number): SwhObject => ({
  metadata: { namespace: "ns", name: "db", uid, generation },
});

Deno.test("satisfies: the same SWH (uid) at the noted generation or newer", () => {
  deepStrictEqual(satisfies(undefined, { uid: "u1", generation: 1 }), false, "nothing held");
  deepStrictEqual(satisfies(held("u1", 2), { uid: "u1", generation: 2 }), true);
  deepStrictEqual(satisfies(held("u1", 3), { uid: "u1", generation: 2 }), true, "newer than the note");
  deepStrictEqual(satisfies(held("u1", 1), { uid: "u1", generation: 2 }), false, "a spec change to fetch");
  deepStrictEqual(satisfies(held("u0", 5), { uid: "u1", generation: 1 }), false, "recreated under the name");
  // No generation noted (an older controller): any state of that SWH will do.
  deepStrictEqual(satisfies(held("u1", 1), { uid: "u1" }), true);
  deepStrictEqual(satisfies(held("u1", 1), {}), true);
});
