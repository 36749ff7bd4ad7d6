/** Unit tests of resourceVersion ordering (KEP-5504 rules: positive integers, no leading zeros). */
import { deepStrictEqual } from "node:assert";
import { compareResourceVersions, isOlder, newestResourceVersion } from "./resource_version.ts";

Deno.test("resourceVersions compare as integers of any length; opaque ones do not compare", () => {
  deepStrictEqual(compareResourceVersions("9", "10"), -1);
  deepStrictEqual(compareResourceVersions("10", "9"), 1);
  deepStrictEqual(compareResourceVersions("123", "123"), 0);
  deepStrictEqual(compareResourceVersions("99999999999999999999", "100000000000000000000"), -1);
  deepStrictEqual(compareResourceVersions("0", "1"), undefined);
  deepStrictEqual(compareResourceVersions("012", "12"), undefined);
  deepStrictEqual(compareResourceVersions("abc", "12"), undefined);
  deepStrictEqual(compareResourceVersions("", "12"), undefined);
  deepStrictEqual([isOlder("9", "10"), isOlder("10", "10"), isOlder("x", "10"), isOlder(undefined, "1")], [
    true,
    false,
    false,
    false,
  ]);
  deepStrictEqual(newestResourceVersion(["7", "12", "9"]), "12");
  deepStrictEqual(newestResourceVersion([]), undefined);
});
