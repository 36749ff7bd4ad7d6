import { strictEqual } from "node:assert/strict";
import { metaTime, microTime } from "./time.ts";

Deno.test("time: metav1.Time to the second, MicroTime with six digits", () => {
  const d = new Date("2026-01-02T03:04:05.678Z");
  strictEqual(metaTime(d), "2026-01-02T03:04:05Z");
  strictEqual(microTime(d), "2026-01-02T03:04:05.678000Z");
});
