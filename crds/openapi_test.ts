/** Unit tests of the zod-JSON-Schema → Kubernetes structural schema translator. */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { z } from "zod";
import { intOrString, listMap, withRules } from "./extensions.ts";
import {
  celString,
  type JsonSchema,
  type KubeSchema,
  SchemaTranslationError,
  toStructural,
} from "./openapi.ts";

function translate(schema: z.ZodType, requireDescriptions = false): KubeSchema {
  return toStructural(z.toJSONSchema(schema, { io: "input" }) as JsonSchema, { requireDescriptions });
}

Deno.test("int-or-string becomes x-kubernetes-int-or-string with one CEL rule and a cost-bounding maxLength", () => {
  const port = intOrString(z.int().min(1).max(65535), z.string().max(15).regex(/^[a-z-]+$/), "bad port");
  deepStrictEqual(translate(z.strictObject({ p: port })).properties?.p, {
    maxLength: 15,
    "x-kubernetes-int-or-string": true,
    "x-kubernetes-validations": [{
      rule:
        "type(self) == int ? (self >= 1 && self <= 65535) : (self.size() <= 15 && self.matches(r'^[a-z-]+$'))",
      message: "bad port",
    }],
  });
});

Deno.test("several regexes on one string become pattern plus allOf patterns", () => {
  const out = translate(z.string().regex(/^a/).regex(/b$/));
  strictEqual(out.pattern, "^a");
  deepStrictEqual(out.allOf, [{ pattern: "b$" }]);
});

Deno.test("a discriminated union merges into one object guarded by CEL rules", () => {
  const probe = z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("A"), n: z.int().default(1), a: z.strictObject({ x: z.string() }) }),
    z.strictObject({ mode: z.literal("B"), n: z.int().default(1), b: z.strictObject({ y: z.string() }) }),
  ]);
  const out = translate(probe);
  deepStrictEqual(Object.keys(out.properties ?? {}), ["mode", "n", "a", "b"]);
  deepStrictEqual(out.properties?.mode, { type: "string", enum: ["A", "B"] });
  deepStrictEqual(out.required, ["mode"]);
  deepStrictEqual(out["x-kubernetes-validations"], [
    {
      rule: "self.mode != 'A' || has(self.a)",
      message: "a is required when mode is A",
      fieldPath: ".a",
      reason: "FieldValueRequired",
    },
    {
      rule: "!has(self.a) || self.mode == 'A'",
      message: "a may only be set when mode is A",
      fieldPath: ".a",
      reason: "FieldValueForbidden",
    },
    {
      rule: "self.mode != 'B' || has(self.b)",
      message: "b is required when mode is B",
      fieldPath: ".b",
      reason: "FieldValueRequired",
    },
    {
      rule: "!has(self.b) || self.mode == 'B'",
      message: "b may only be set when mode is B",
      fieldPath: ".b",
      reason: "FieldValueForbidden",
    },
  ]);
  ok(!JSON.stringify(out).includes("oneOf") && !JSON.stringify(out).includes("const"));
});

Deno.test("a block shared by several branches is allowed for all of them", () => {
  const u = z.discriminatedUnion("k", [
    z.strictObject({ k: z.literal("A"), s: z.string() }),
    z.strictObject({ k: z.literal("B"), s: z.string() }),
    z.strictObject({ k: z.literal("C") }),
  ]);
  const rules = translate(u)["x-kubernetes-validations"]?.map((r) => r.rule);
  deepStrictEqual(rules, ["!(self.k in ['A', 'B']) || has(self.s)", "!has(self.s) || self.k in ['A', 'B']"]);
});

Deno.test("a property that differs between union branches is refused", () => {
  const u = z.discriminatedUnion("k", [
    z.strictObject({ k: z.literal("A"), n: z.int().max(1) }),
    z.strictObject({ k: z.literal("B"), n: z.int().max(2) }),
  ]);
  throws(() => translate(u), (e: unknown) => e instanceof SchemaTranslationError && e.path === "n");
});

Deno.test("const becomes enum; zod's safe-integer bounds disappear; exclusive bounds are kept", () => {
  deepStrictEqual(translate(z.literal("x")), { type: "string", enum: ["x"] });
  deepStrictEqual(translate(z.int()), { type: "integer" });
  deepStrictEqual(translate(z.number().gt(0).lt(5)), {
    type: "number",
    minimum: 0,
    exclusiveMinimum: true,
    maximum: 5,
    exclusiveMaximum: true,
  });
});

Deno.test("record keys become a CEL rule over the map, worded by metadata", () => {
  const m = z.record(z.string().max(5).regex(/^[a-z]+$/), z.string()).meta({
    "x-swh-rule-message": "short keys",
  });
  deepStrictEqual(translate(m), {
    type: "object",
    additionalProperties: { type: "string" },
    "x-kubernetes-validations": [{
      rule: "self.all(k, k.size() <= 5 && k.matches(r'^[a-z]+$'))",
      message: "short keys",
    }],
  });
});

Deno.test("CEL rules, list types and defaults from zod metadata pass through", () => {
  const items = z.strictObject({ k: z.string(), p: z.string().default("TCP") });
  const list = withRules(listMap(z.array(items).max(3), ["k", "p"]), [{
    rule: "self.size() > 0",
    message: "non-empty",
    holds: (l) => l.length > 0,
  }]);
  const out = translate(list);
  strictEqual(out["x-kubernetes-list-type"], "map");
  deepStrictEqual(out["x-kubernetes-list-map-keys"], ["k", "p"]);
  deepStrictEqual(out["x-kubernetes-validations"], [{ rule: "self.size() > 0", message: "non-empty" }]);
  strictEqual(out.items?.properties?.p.default, "TCP");
  strictEqual(out.maxItems, 3);
});

Deno.test("constructs without a structural equivalent fail loudly with their path", () => {
  const cases: [z.ZodType, string][] = [
    [z.strictObject({ a: z.string().nullable() }), "a"],
    [z.strictObject({ a: z.strictObject({ b: z.email() }) }), "a.b"],
    [z.strictObject({ a: z.looseObject({ b: z.string() }) }), "a"],
    [z.strictObject({ l: z.array(z.union([z.string(), z.boolean()])) }), "l[]"],
    [z.strictObject({ m: listMap(z.array(z.strictObject({ k: z.string().optional() })), ["k"]) }), "m"],
  ];
  for (const [schema, path] of cases) {
    throws(
      () => translate(schema),
      (e: unknown) => e instanceof SchemaTranslationError && e.path === path,
      path,
    );
  }
});

Deno.test("requireDescriptions lists every undocumented property", () => {
  const s = z.strictObject({ a: z.string().describe("documented"), b: z.strictObject({ c: z.int() }) });
  throws(() => translate(s, true), /properties without description: b, b\.c/);
});

Deno.test("celString uses raw literals so regex backslashes survive", () => {
  strictEqual(celString("^a\\.b$"), "r'^a\\.b$'");
  strictEqual(celString("it's"), '"it\'s"');
});

Deno.test("union branches must be strict, or zod and the CRD would disagree about foreign blocks", () => {
  const u = z.discriminatedUnion("k", [
    z.object({ k: z.literal("A") }),
    z.strictObject({ k: z.literal("B") }),
  ]);
  throws(() => translate(u), /must be strict objects/);
});
