import { strictEqual } from "node:assert/strict";
import { describeError } from "./deadline.ts";

Deno.test("describeError: one wording for a socket error, whether Deno or a Node-style driver raised it", () => {
  strictEqual(
    describeError(new Deno.errors.ConnectionRefused("Connection refused (os error 111)")),
    "Connection refused",
  );
  strictEqual(
    describeError(Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" })),
    "Connection refused",
  );
  strictEqual(describeError(new Error("read ECONNRESET")), "Connection reset by peer");
  strictEqual(describeError(new Error("first line\nsecond")), "first line");
});
