/**
 * Runtime validation of ServiceWithHealthchecks objects with the same schema the CRD is generated from,
 * reporting errors with Kubernetes-style field paths (`spec.healthcheck.probes[0].tcp`).
 *
 * @module
 */
import type { z } from "zod";
import { type ServiceWithHealthchecks, swhSchema } from "./schema.ts";

/** One validation problem: the offending field and what is wrong with it. */
export interface SwhFieldError {
  /** Field path as the apiserver writes it, e.g. `spec.ports[1].port`; empty for the object itself. */
  path: string;
  /** What is wrong, e.g. "Too small: expected number to be >=1". */
  message: string;
}

/** Result of {@link validateSwh}: the defaulted object, or every problem found. */
export type SwhValidationResult =
  | { ok: true; value: ServiceWithHealthchecks }
  | { ok: false; errors: SwhFieldError[] };

/** Thrown by {@link parseSwh}; `errors` lists every problem. */
export class SwhValidationError extends Error {
  /** The problems, each naming its field. */
  readonly errors: SwhFieldError[];

  /** Creates the error for `object` (`namespace/name` when known) from its problems. */
  constructor(object: string, errors: SwhFieldError[]) {
    super(`invalid ServiceWithHealthchecks ${object}: ${formatSwhErrors(errors)}`);
    this.name = "SwhValidationError";
    this.errors = errors;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Formats a zod issue path like a Kubernetes field path: `spec.ports[0].name`, map keys in brackets. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && IDENTIFIER.test(part)) out += out ? `.${part}` : part;
    else out += `[${String(part)}]`;
  }
  return out;
}

/** Turns zod issues into field errors, splitting multi-key issues so each error names one field. */
function toFieldErrors(issues: readonly z.core.$ZodIssue[]): SwhFieldError[] {
  const errors: SwhFieldError[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const generic = issue.message.startsWith("Unrecognized key");
      for (const key of issue.keys) {
        errors.push({
          path: formatFieldPath([...issue.path, key]),
          message: generic ? "unknown field" : issue.message,
        });
      }
    } else if (issue.code === "invalid_key") {
      const why = issue.issues.map((i) => i.message).join("; ");
      errors.push({ path: formatFieldPath(issue.path), message: `invalid key: ${why}` });
    } else if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
      errors.push({ path: formatFieldPath(issue.path), message: "Required value" });
    } else {
      errors.push({ path: formatFieldPath(issue.path), message: issue.message });
    }
  }
  return errors;
}

/**
 * Validates an object (e.g. parsed YAML or an object read from the apiserver) against the
 * ServiceWithHealthchecks schema, CEL rules included. On success `value` has every default applied, exactly
 * as the apiserver would store it.
 */
export function validateSwh(obj: unknown): SwhValidationResult {
  const result = swhSchema.safeParse(obj);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: toFieldErrors(result.error.issues) };
}

/** Like {@link validateSwh}, but returns the object or throws {@link SwhValidationError}. */
export function parseSwh(obj: unknown): ServiceWithHealthchecks {
  const result = validateSwh(obj);
  if (result.ok) return result.value;
  const meta = (obj as { metadata?: { name?: string; namespace?: string } } | null)?.metadata;
  const name = meta?.name ? `${meta.namespace ? `${meta.namespace}/` : ""}${meta.name}` : "(unnamed)";
  throw new SwhValidationError(name, result.errors);
}

/** One line per error, `path: message`; for logs, events and status messages. */
export function formatSwhErrors(errors: readonly SwhFieldError[]): string {
  return errors.map((e) => `${e.path || "<object>"}: ${e.message}`).join("; ");
}

/**
 * Whether `stored` holds exactly what `parsed` does — the same members and values, in any order, members set to
 * undefined counting as absent. An SWH whose stored spec equals its parse carries every default the schema
 * applies (the apiserver defaulted it from the same schema); one that does not was stored under an older CRD.
 */
export function sameAsParsed(stored: unknown, parsed: unknown): boolean {
  if (stored === parsed) return true;
  if (typeof stored !== "object" || typeof parsed !== "object" || stored === null || parsed === null) {
    return false;
  }
  if (Array.isArray(stored) !== Array.isArray(parsed)) return false;
  if (Array.isArray(stored)) {
    const other = parsed as unknown[];
    return stored.length === other.length && stored.every((item, i) => sameAsParsed(item, other[i]));
  }
  const defined = (o: object) => Object.entries(o).filter(([, v]) => v !== undefined);
  const a = defined(stored);
  const b = new Map(defined(parsed));
  return a.length === b.size && a.every(([k, v]) => b.has(k) && sameAsParsed(v, b.get(k)));
}
