/**
 * Zod combinators that carry Kubernetes OpenAPI extensions (CEL rules, list types, int-or-string), so one
 * zod schema both validates at runtime and generates the CRD.
 *
 * Every combinator does two things at once: it records the Kubernetes extension as zod metadata (which
 * `z.toJSONSchema` copies into its output and `openapi.ts` turns into a structural schema), and it adds the
 * equivalent zod check, so `validateSwh` and the apiserver reject the same objects.
 *
 * @module
 */
import { z } from "zod";

/** How the apiserver classifies a failed CEL rule; decides the wording "Invalid value", "Required value", … */
export type CelReason =
  | "FieldValueInvalid"
  | "FieldValueRequired"
  | "FieldValueForbidden"
  | "FieldValueDuplicate";

/** One entry of `x-kubernetes-validations` as the apiserver reads it. */
export interface KubeValidation {
  /** CEL expression; `self` is the value of the schema node the rule sits on. */
  rule: string;
  /** Message shown to the user when the rule is false. */
  message: string;
  /** Relative path (`.tcp`, `.ports`) the error is reported at, instead of the node itself. */
  fieldPath?: string;
  /** Error classification; the apiserver defaults to FieldValueInvalid. */
  reason?: CelReason;
}

/** A CEL rule together with the same predicate in TypeScript, evaluated on zod's parsed (defaulted) value. */
export interface CelRule<T> extends KubeValidation {
  /** Returns true when `self` satisfies the rule; must agree with `rule` on every input. */
  holds: (self: T) => boolean;
  /**
   * Where zod reports the error when it differs from fieldPath: the apiserver only accepts fieldPaths into
   * declared properties, so a rule about metadata.name has none, yet zod can still name the field.
   */
  zodPath?: readonly string[];
}

/** Metadata key the translator reads to word the CEL rule it synthesises for a node (int-or-string, map keys). */
export const SYNTHESISED_RULE_MESSAGE = "x-swh-rule-message";

/** The metadata zod keeps for a schema, including inherited entries (zod 4 merges a clone's parent metadata). */
function metaOf(schema: z.ZodType): Record<string, unknown> {
  return (z.globalRegistry.get(schema) ?? {}) as Record<string, unknown>;
}

/** Splits a CEL fieldPath like `.healthcheck.probes` into a zod issue path. */
function fieldPathToPath(fieldPath: string | undefined): string[] {
  if (!fieldPath) return [];
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(fieldPath)) {
    throw new Error(`fieldPath ${fieldPath}: only simple paths like .a.b are supported`);
  }
  return fieldPath.slice(1).split(".");
}

/**
 * Attaches CEL rules to a schema: the apiserver evaluates `rule`, zod evaluates `holds`, and both report at
 * `fieldPath`. Rules already attached (by an earlier call) are kept.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: readonly CelRule<z.output<S>>[]): S {
  const previous = (metaOf(schema)["x-kubernetes-validations"] ?? []) as KubeValidation[];
  const kube = rules.map(({ rule, message, fieldPath, reason }): KubeValidation => ({
    rule,
    message,
    ...(fieldPath ? { fieldPath } : {}),
    ...(reason ? { reason } : {}),
  }));
  const checked = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (!r.holds(value as z.output<S>)) {
        const path = r.zodPath ? [...r.zodPath] : fieldPathToPath(r.fieldPath);
        ctx.addIssue({ code: "custom", message: r.message, path, input: value });
      }
    }
  });
  return checked.meta({ "x-kubernetes-validations": [...previous, ...kube] }) as S;
}

/** Renders a list-map key value the way the apiserver names duplicates, for zod's message. */
function keyText(item: Record<string, unknown>, keys: readonly string[]): string {
  return keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(", ");
}

/**
 * Marks an array as `x-kubernetes-list-type: map` keyed by `keys`, so server-side apply merges entries by
 * key (different field managers own different entries). The apiserver rejects duplicate keys; so does zod,
 * at the index of the second occurrence like the apiserver. Every key must be required or defaulted.
 */
export function listMap<T extends z.ZodArray<z.ZodType>>(array: T, keys: readonly string[]): T {
  const checked = array.superRefine((items, ctx) => {
    const seen = new Set<string>();
    (items as Record<string, unknown>[]).forEach((item, index) => {
      const key = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(key)) {
        ctx.addIssue({
          code: "custom",
          message: `Duplicate value: ${keyText(item, keys)}`,
          path: [index],
          input: item,
        });
      }
      seen.add(key);
    });
  });
  return checked.meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [...keys] }) as T;
}

/** Marks an array of scalars as `x-kubernetes-list-type: set`: no duplicates (checked by zod too). */
export function listSet<T extends z.ZodArray<z.ZodType>>(array: T): T {
  const checked = array.superRefine((items, ctx) => {
    const seen = new Set<unknown>();
    (items as unknown[]).forEach((item, index) => {
      if (seen.has(item)) {
        ctx.addIssue({
          code: "custom",
          message: `Duplicate value: ${JSON.stringify(item)}`,
          path: [index],
          input: item,
        });
      }
      seen.add(item);
    });
  });
  return checked.meta({ "x-kubernetes-list-type": "set" }) as T;
}

/** Marks an array as `x-kubernetes-list-type: atomic`: server-side apply replaces it as a whole. */
export function listAtomic<T extends z.ZodArray<z.ZodType>>(array: T): T {
  return array.meta({ "x-kubernetes-list-type": "atomic" }) as T;
}

/**
 * A Kubernetes IntOrString: the translator turns the zod union into `x-kubernetes-int-or-string: true` plus
 * one CEL rule built from both branches' constraints, worded by `message`.
 */
export function intOrString(
  int: z.ZodInt,
  str: z.ZodString,
  message: string,
): z.ZodUnion<readonly [z.ZodInt, z.ZodString]> {
  return z.union([int, str], { error: (issue) => issue.input === undefined ? "Required value" : message })
    .meta({ [SYNTHESISED_RULE_MESSAGE]: message });
}
