import { strictEqual } from "node:assert/strict";
import { ago, humanDuration } from "./time.ts";

Deno.test("humanDuration prints ages like kubectl", () => {
  const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
  const cases: [number, string][] = [
    [-5 * s, "<invalid>"],
    [-500, "0s"],
    [0, "0s"],
    [12 * s, "12s"],
    [119 * s, "119s"],
    [2 * m, "2m"],
    [5 * m + 30 * s, "5m30s"],
    [42 * m, "42m"],
    [3 * h + 15 * m, "3h15m"],
    [20 * h, "20h"],
    [3 * d + 4 * h, "3d4h"],
    [40 * d, "40d"],
    [3 * 365 * d, "3y"],
    [9 * 365 * d, "9y"],
  ];
  for (const [ms, text] of cases) strictEqual(humanDuration(ms), text, `${ms} ms`);
});

Deno.test("ago is relative to now and says '-' for nothing", () => {
  const now = Date.parse("2026-11-26T09:30:00Z");
  strictEqual(ago("2026-11-26T09:29:48Z", now), "12s ago");
  strictEqual(ago(undefined, now), "-");
  strictEqual(ago("not a time", now), "-");
});
