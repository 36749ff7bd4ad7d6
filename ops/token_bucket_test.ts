import { strictEqual } from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("token bucket: a burst, then the average rate", () => {
  let now = 0;
  const bucket = new TokenBucket({ perSecond: 2, burst: 3, now: () => now });
  const taken = () => [1, 2, 3, 4].filter(() => bucket.take()).length;
  strictEqual(taken(), 3, "the burst");
  now += 500; // one token back at 2/s
  strictEqual(taken(), 1);
  now += 10_000; // refills to the burst, never beyond
  strictEqual(taken(), 3);
});
