/** Fails when crds/servicewithhealthchecks.yaml no longer matches the zod schema. */
import { strictEqual } from "node:assert/strict";
import { generate } from "./generate.ts";

Deno.test("the committed CRD YAML is current (run `deno task crds` when this fails)", async () => {
  strictEqual(
    await generate(true),
    "current",
    "crds/servicewithhealthchecks.yaml or deploy/crd.yaml is stale: run `deno task crds` and commit both",
  );
});
