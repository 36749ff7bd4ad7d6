/**
 * Translates the JSON Schema that zod 4 emits into a Kubernetes structural OpenAPI v3 schema: unions become
 * int-or-string or merged objects guarded by CEL rules, `const` becomes `enum`, and keywords Kubernetes
 * rejects are rewritten or refused.
 *
 * Pure: no I/O, deterministic key order, and a loud error (naming the schema path) for anything it cannot
 * translate faithfully, rather than a CRD that silently validates less than zod does.
 *
 * @module
 */
import { type KubeValidation, SYNTHESISED_RULE_MESSAGE } from "./extensions.ts";

/** A JSON Schema node as `z.toJSONSchema` produces it. */
export type JsonSchema = { [keyword: string]: unknown };

/** A node of a Kubernetes structural schema (apiextensions.k8s.io/v1 JSONSchemaProps, the parts we emit). */
export interface KubeSchema {
  description?: string;
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  items?: KubeSchema;
  properties?: Record<string, KubeSchema>;
  additionalProperties?: KubeSchema;
  required?: string[];
  allOf?: { pattern: string }[];
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: KubeValidation[];
}

/** Options of {@link toStructural}. */
export interface TranslateOptions {
  /** Fail when a property has no description (so `kubectl explain` documents every field). */
  requireDescriptions?: boolean;
  /** Schemas used verbatim instead of translating, by dotted path (e.g. `metadata`). */
  overrides?: Record<string, KubeSchema>;
}

/** A schema construct with no faithful structural equivalent; `path` names the offending node. */
export class SchemaTranslationError extends Error {
  /** Dotted path of the node, `[]` marking array items. */
  readonly path: string;

  /** Creates the error for the node at `path`. */
  constructor(path: string, message: string) {
    super(`${path || "<root>"}: ${message}`);
    this.name = "SchemaTranslationError";
    this.path = path;
  }
}

/** Keywords we translate; anything else in zod's output is an error, so no constraint gets lost silently. */
const KNOWN = new Set([
  "$schema",
  "type",
  "description",
  "default",
  "enum",
  "const",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "allOf",
  "minItems",
  "maxItems",
  "items",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
  "anyOf",
  "oneOf",
  SYNTHESISED_RULE_MESSAGE,
]);

/** String formats the apiserver understands and that mean the same as in zod. */
const KUBE_FORMATS = new Set(["date-time", "date", "ipv4", "ipv6", "cidr", "uuid", "byte", "int32", "int64"]);

/** Output key order, so the generated YAML reads top-down and diffs stay small. */
const KEY_ORDER: (keyof KubeSchema)[] = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "allOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "items",
  "properties",
  "additionalProperties",
  "required",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
];

function isObject(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function child(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** A CEL string literal; raw when possible so regular expressions keep their backslashes. */
export function celString(s: string): string {
  if (!s.includes("'") && !s.includes("\n")) return `r'${s}'`;
  return JSON.stringify(s);
}

/** A CEL single-quoted string literal (enum values, never regular expressions). */
function celQuote(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A CEL list literal of strings. */
function celList(values: readonly string[]): string {
  return `[${values.map(celQuote).join(", ")}]`;
}

/** zod writes the safe-integer range as bounds of every z.int(); they say nothing and would only add noise. */
function meaningfulBound(n: unknown): n is number {
  return typeof n === "number" && Math.abs(n) !== Number.MAX_SAFE_INTEGER;
}

/** The patterns of a string node: `pattern` plus the `allOf: [{pattern}]` zod emits for several regexes. */
function patternsOf(node: JsonSchema, path: string): string[] {
  const patterns: string[] = [];
  if (typeof node.pattern === "string") patterns.push(node.pattern);
  for (const part of (node.allOf ?? []) as unknown[]) {
    if (!isObject(part) || Object.keys(part).join() !== "pattern" || typeof part.pattern !== "string") {
      throw new SchemaTranslationError(path, `allOf may only hold patterns, found ${JSON.stringify(part)}`);
    }
    patterns.push(part.pattern);
  }
  return patterns;
}

/** Keywords of a union branch or map key that {@link celConditions} turns into CEL. */
const CEL_EXPRESSIBLE = new Set([
  "type",
  "description",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "allOf",
  "enum",
]);

/** CEL conditions on `v` equivalent to the value constraints of a string or integer node. */
function celConditions(node: JsonSchema, v: string, path: string): string[] {
  const conds: string[] = [];
  if (node.type === "integer") {
    if (meaningfulBound(node.minimum)) conds.push(`${v} >= ${node.minimum}`);
    if (meaningfulBound(node.maximum)) conds.push(`${v} <= ${node.maximum}`);
    if (meaningfulBound(node.exclusiveMinimum)) conds.push(`${v} > ${node.exclusiveMinimum}`);
    if (meaningfulBound(node.exclusiveMaximum)) conds.push(`${v} < ${node.exclusiveMaximum}`);
  } else if (node.type === "string") {
    if (typeof node.minLength === "number") conds.push(`${v}.size() >= ${node.minLength}`);
    if (typeof node.maxLength === "number") conds.push(`${v}.size() <= ${node.maxLength}`);
    for (const p of patternsOf(node, path)) conds.push(`${v}.matches(${celString(p)})`);
    if (Array.isArray(node.enum)) conds.push(`${v} in ${celList(node.enum as string[])}`);
  } else {
    throw new SchemaTranslationError(path, `cannot express a ${String(node.type)} constraint in CEL`);
  }
  const unknown = Object.keys(node).filter((k) => !CEL_EXPRESSIBLE.has(k));
  if (unknown.length) throw new SchemaTranslationError(path, `cannot express ${unknown.join(", ")} in CEL`);
  return conds;
}

/** Joins CEL conditions; an empty list holds. */
function all(conds: string[]): string {
  return conds.length ? conds.join(" && ") : "true";
}

/** Sorts keys into KEY_ORDER (unknown keys last, which should not happen). */
function ordered(node: KubeSchema): KubeSchema {
  const out: Record<string, unknown> = {};
  for (const k of KEY_ORDER) if (node[k] !== undefined) out[k] = node[k];
  for (const [k, v] of Object.entries(node)) if (!(k in out) && v !== undefined) out[k] = v;
  return out as KubeSchema;
}

/** Recursive translator carrying the options and the collected problems. */
class Translator {
  readonly missingDescriptions: string[] = [];

  constructor(private readonly options: TranslateOptions) {}

  node(schema: JsonSchema, path: string): KubeSchema {
    const override = this.options.overrides?.[path];
    if (override) return structuredClone(override);
    for (const key of Object.keys(schema)) {
      if (!KNOWN.has(key) && !key.startsWith("x-kubernetes-")) {
        throw new SchemaTranslationError(path, `unsupported JSON Schema keyword "${key}"`);
      }
    }
    const union = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
    const out = union ? this.union(schema, union, path) : this.plain(schema, path);
    // extensions given as zod metadata pass through (rules on a union are appended to the generated ones)
    for (const [key, value] of Object.entries(schema)) {
      if (!key.startsWith("x-kubernetes-")) continue;
      if (key === "x-kubernetes-validations") {
        out[key] = [...(out[key] ?? []), ...(value as KubeValidation[])];
      } else {
        (out as Record<string, unknown>)[key] = value;
      }
    }
    if (typeof schema.description === "string") out.description = schema.description;
    this.checkListMapKeys(out, path);
    return ordered(out);
  }

  /** A node without a union: copy constraints, translate children. */
  private plain(schema: JsonSchema, path: string): KubeSchema {
    const type = schema.type;
    if (typeof type !== "string") {
      throw new SchemaTranslationError(path, `needs a single type, found ${JSON.stringify(type)}`);
    }
    const out: KubeSchema = { type: type as KubeSchema["type"] };
    if (schema.default !== undefined) out.default = schema.default;
    if (schema.const !== undefined) out.enum = [schema.const];
    if (Array.isArray(schema.enum)) out.enum = [...schema.enum];
    switch (type) {
      case "integer":
      case "number":
        if (meaningfulBound(schema.minimum)) out.minimum = schema.minimum;
        if (meaningfulBound(schema.maximum)) out.maximum = schema.maximum;
        if (meaningfulBound(schema.exclusiveMinimum)) {
          out.minimum = schema.exclusiveMinimum;
          out.exclusiveMinimum = true;
        }
        if (meaningfulBound(schema.exclusiveMaximum)) {
          out.maximum = schema.exclusiveMaximum;
          out.exclusiveMaximum = true;
        }
        break;
      case "string": {
        if (typeof schema.minLength === "number") out.minLength = schema.minLength;
        if (typeof schema.maxLength === "number") out.maxLength = schema.maxLength;
        if (typeof schema.format === "string") {
          if (!KUBE_FORMATS.has(schema.format)) {
            throw new SchemaTranslationError(path, `format "${schema.format}" is unknown to Kubernetes`);
          }
          out.format = schema.format;
        }
        // a formatted string is checked by its format; zod's own regex for it is not RE2-compatible
        const patterns = out.format ? [] : patternsOf(schema, path);
        if (patterns.length) out.pattern = patterns[0];
        if (patterns.length > 1) out.allOf = patterns.slice(1).map((pattern) => ({ pattern }));
        break;
      }
      case "array":
        if (!isObject(schema.items)) throw new SchemaTranslationError(path, "array without items schema");
        out.items = this.node(schema.items, `${path}[]`);
        if (typeof schema.minItems === "number") out.minItems = schema.minItems;
        if (typeof schema.maxItems === "number") out.maxItems = schema.maxItems;
        break;
      case "object":
        this.object(schema, out, path);
        break;
      case "boolean":
        break;
      default:
        throw new SchemaTranslationError(path, `type "${type}" is not supported`);
    }
    return out;
  }

  private object(schema: JsonSchema, out: KubeSchema, path: string): void {
    if (typeof schema.minProperties === "number") out.minProperties = schema.minProperties;
    if (typeof schema.maxProperties === "number") out.maxProperties = schema.maxProperties;
    if (isObject(schema.properties)) {
      out.properties = {};
      for (const [name, prop] of Object.entries(schema.properties)) {
        if (!isObject(prop)) {
          throw new SchemaTranslationError(child(path, name), "property schema is not an object");
        }
        const translated = this.node(prop, child(path, name));
        const overridden = this.options.overrides?.[child(path, name)] !== undefined;
        if (this.options.requireDescriptions && !translated.description && !overridden) {
          this.missingDescriptions.push(child(path, name));
        }
        out.properties[name] = translated;
      }
      if (Array.isArray(schema.required) && schema.required.length) {
        out.required = [...schema.required] as string[];
      }
      // `false` is what structural pruning does anyway; anything else would be a second, unstructured shape
      if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
        throw new SchemaTranslationError(path, "additionalProperties next to properties is not structural");
      }
      return;
    }
    if (isObject(schema.additionalProperties)) {
      out.additionalProperties = this.node(schema.additionalProperties, `${path}{}`);
      if (isObject(schema.propertyNames)) {
        const keySchema = { ...schema.propertyNames };
        const conds = celConditions(keySchema, "k", `${path}{key}`);
        if (conds.length) {
          out["x-kubernetes-validations"] = [{
            rule: `self.all(k, ${all(conds)})`,
            message: String(schema[SYNTHESISED_RULE_MESSAGE] ?? `keys must satisfy ${all(conds)}`),
          }];
        }
      }
      return;
    }
    throw new SchemaTranslationError(path, "object without properties or additionalProperties");
  }

  /** anyOf/oneOf: an int-or-string, or object branches told apart by one constant property. */
  private union(schema: JsonSchema, branches: JsonSchema[], path: string): KubeSchema {
    const types = branches.map((b) => b.type).sort();
    if (branches.length === 2 && types[0] === "integer" && types[1] === "string") {
      return this.intOrString(schema, branches, path);
    }
    if (branches.every((b) => b.type === "object" && isObject(b.properties))) {
      return this.discriminated(branches, path);
    }
    throw new SchemaTranslationError(path, `union of ${JSON.stringify(types)} has no structural equivalent`);
  }

  private intOrString(schema: JsonSchema, branches: JsonSchema[], path: string): KubeSchema {
    const int = branches.find((b) => b.type === "integer")!;
    const str = branches.find((b) => b.type === "string")!;
    const rule = `type(self) == int ? (${all(celConditions(int, "self", path))}) : ` +
      `(${all(celConditions(str, "self", path))})`;
    const message = String(schema[SYNTHESISED_RULE_MESSAGE] ?? "must be an integer or a string in range");
    return {
      "x-kubernetes-int-or-string": true,
      // native maxLength applies to string values only; it bounds the CEL cost estimate, which otherwise
      // assumes a string as long as the whole request and refuses the rule
      ...(typeof str.maxLength === "number" ? { maxLength: str.maxLength } : {}),
      "x-kubernetes-validations": [{ rule, message }],
    };
  }

  /** Merges the branches of a discriminated union into one object and guards each block with CEL rules. */
  private discriminated(branches: JsonSchema[], path: string): KubeSchema {
    if (!branches.every((b) => b.additionalProperties === false)) {
      // zod would strip a foreign block from a non-strict branch while the CEL rules reject it
      throw new SchemaTranslationError(path, "union branches must be strict objects (z.strictObject)");
    }
    const props = branches.map((b) => b.properties as Record<string, JsonSchema>);
    const discriminator = Object.keys(props[0]).find((k) =>
      props.every((p) => typeof p[k]?.const === "string")
    );
    if (!discriminator) {
      throw new SchemaTranslationError(path, "object union without a constant discriminator");
    }
    const values = props.map((p) => p[discriminator].const as string);
    const required = branches.map((b) => new Set((b.required ?? []) as string[]));
    if (!required.every((r) => r.has(discriminator))) {
      throw new SchemaTranslationError(
        path,
        `discriminator ${discriminator} must be required in every branch`,
      );
    }
    const merged: Record<string, KubeSchema> = {};
    const presentIn = new Map<string, string[]>();
    const requiredIn = new Map<string, string[]>();
    props.forEach((p, i) => {
      for (const [name, prop] of Object.entries(p)) {
        presentIn.set(name, [...(presentIn.get(name) ?? []), values[i]]);
        if (required[i].has(name)) requiredIn.set(name, [...(requiredIn.get(name) ?? []), values[i]]);
        if (name === discriminator) continue;
        const translated = this.node(prop, child(path, name));
        if (merged[name] && JSON.stringify(merged[name]) !== JSON.stringify(translated)) {
          throw new SchemaTranslationError(child(path, name), "differs between union branches");
        }
        if (!merged[name] && this.options.requireDescriptions && !translated.description) {
          this.missingDescriptions.push(child(path, name));
        }
        merged[name] = translated;
      }
    });
    const first = props[0][discriminator];
    const properties: Record<string, KubeSchema> = {
      [discriminator]: ordered({ description: first.description as string, type: "string", enum: values }),
      ...merged,
    };
    if (this.options.requireDescriptions && !first.description) {
      this.missingDescriptions.push(child(path, discriminator));
    }
    const rules: KubeValidation[] = [];
    const d = `self.${discriminator}`;
    const when = (vs: string[]) => vs.length === 1 ? `${d} == ${celQuote(vs[0])}` : `${d} in ${celList(vs)}`;
    const unless = (vs: string[]) =>
      vs.length === 1 ? `${d} != ${celQuote(vs[0])}` : `!(${d} in ${celList(vs)})`;
    const words = (vs: string[]) => vs.join(" or ");
    for (const name of Object.keys(merged)) {
      const req = requiredIn.get(name) ?? [];
      const present = presentIn.get(name) ?? [];
      if (req.length && req.length < values.length) {
        rules.push({
          rule: `${unless(req)} || has(self.${name})`,
          message: `${name} is required when ${discriminator} is ${words(req)}`,
          fieldPath: `.${name}`,
          reason: "FieldValueRequired",
        });
      }
      if (present.length < values.length) {
        rules.push({
          rule: `!has(self.${name}) || ${when(present)}`,
          message: `${name} may only be set when ${discriminator} is ${words(present)}`,
          fieldPath: `.${name}`,
          reason: "FieldValueForbidden",
        });
      }
    }
    const alwaysRequired = Object.keys(properties).filter((n) => required.every((r) => r.has(n)));
    return {
      type: "object",
      properties,
      required: alwaysRequired,
      ...(rules.length ? { "x-kubernetes-validations": rules } : {}),
    };
  }

  /** Server-side apply needs every list-map key to be present: required or defaulted. */
  private checkListMapKeys(node: KubeSchema, path: string): void {
    const keys = node["x-kubernetes-list-map-keys"];
    if (!keys) return;
    const items = node.items;
    for (const key of keys) {
      const prop = items?.properties?.[key];
      if (!prop) throw new SchemaTranslationError(path, `list-map key ${key} is not a property of the items`);
      if (!items?.required?.includes(key) && prop.default === undefined) {
        throw new SchemaTranslationError(path, `list-map key ${key} must be required or have a default`);
      }
    }
  }
}

/**
 * Translates zod's JSON Schema (`z.toJSONSchema(schema, { io: "input" })`) into a Kubernetes structural
 * schema. Throws {@link SchemaTranslationError} for constructs without a faithful translation, and (with
 * `requireDescriptions`) when properties lack a description, listing all of them.
 */
export function toStructural(schema: JsonSchema, options: TranslateOptions = {}): KubeSchema {
  const translator = new Translator(options);
  const out = translator.node(schema, "");
  if (translator.missingDescriptions.length) {
    throw new SchemaTranslationError(
      "",
      `properties without description: ${[...new Set(translator.missingDescriptions)].sort().join(", ")}`,
    );
  }
  return out;
}
