/**
 * Unit test of what counts as a metadata change worth an update (the informer itself is tested against a
 * real apiserver in tests/kube/metadata_informer_test.ts).
 */
import { deepStrictEqual } from "node:assert";
import { metadataDiffers } from "./metadata_informer.ts";

Deno.test("metadataDiffers ignores resourceVersion and managedFields, sees everything else", () => {
  const base = {
    name: "a",
    resourceVersion: "5",
    labels: { app: "web" },
    managedFields: [{ manager: "x", operation: "Update" }],
    finalizers: ["f"],
  };
  deepStrictEqual(metadataDiffers(base, { ...base, resourceVersion: "6", managedFields: [] }), false);
  deepStrictEqual(metadataDiffers(base, { ...base, labels: { app: "db" } }), true);
  deepStrictEqual(metadataDiffers(base, { ...base, finalizers: [] }), true);
  deepStrictEqual(metadataDiffers(base, { ...base, deletionTimestamp: "2026-11-30T00:00:00Z" }), true);
  deepStrictEqual(metadataDiffers(base, { ...base, annotations: { a: "b" } }), true);
  deepStrictEqual(metadataDiffers(undefined, {}), false);
});
