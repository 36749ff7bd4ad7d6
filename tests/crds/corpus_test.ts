/** The admission corpus against `validateSwh` (no cluster): zod accepts and rejects what the CRD must. */
import { ok } from "node:assert/strict";
import { formatSwhErrors, validateSwh } from "../../crds/validate.ts";
import { loadCorpus } from "./corpus.ts";

const corpus = await loadCorpus();

Deno.test("corpus has at least 10 valid and 30 invalid manifests, each invalid one with an expectation", () => {
  const valid = corpus.filter((c) => c.valid);
  const invalid = corpus.filter((c) => !c.valid);
  ok(valid.length >= 10, `only ${valid.length} valid manifests`);
  ok(invalid.length >= 30, `only ${invalid.length} invalid manifests`);
  for (const c of invalid) ok(c.expect.length > 0, `${c.file} has no "# expect:" line`);
  for (const c of valid) ok(c.expect.length === 0, `${c.file} is valid but has an expectation`);
});

Deno.test("the user guide's four examples are in the valid corpus", () => {
  const names = corpus.filter((c) => c.valid).map((c) => (c.object.metadata as { name: string }).name);
  for (const name of ["postgres-read", "postgres-write", "web", "smtp"]) ok(names.includes(name), name);
});

for (const c of corpus) {
  Deno.test(`validateSwh: ${c.file}`, () => {
    const result = validateSwh(c.object);
    if (c.valid) {
      ok(result.ok, `rejected: ${result.ok ? "" : formatSwhErrors(result.errors)}`);
      return;
    }
    ok(!result.ok, "accepted an invalid manifest");
    const text = formatSwhErrors(result.errors);
    for (const fragment of c.expect) ok(text.includes(fragment), `expected "${fragment}" in: ${text}`);
  });
}
