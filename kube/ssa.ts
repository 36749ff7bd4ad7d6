/**
 * Server-side-apply change detection: would applying a body as a field manager change the stored object?
 *
 * Applying an unchanged body is already a no-op on the server, but it still costs a request; controllers that
 * must make zero writes in steady state compare first. Two things can make an apply a change:
 * 1. a value we send differs from the stored one ({@link containsDesired}), and
 * 2. a field we applied before is no longer in the body, so the apply would remove it — visible only in
 *    `metadata.managedFields` ({@link managedFieldPaths} vs {@link appliedFieldPaths}).
 * Checking both against the *observed* object (not a memory of the last apply) also catches drift made by
 * others and survives restarts and leader changes.
 *
 * @module
 */
import type { KubeObject } from "./resources.ts";

/**
 * Keys of the list-maps (`x-kubernetes-list-type: map`) in a body, by dotted path without indices, e.g.
 * `{ "spec.ports": ["port", "protocol"] }`. Lists not named here are compared as atomic.
 */
export type ListMapKeys = Readonly<Record<string, readonly string[]>>;

type Json = unknown;

/** Separator of path segments; never part of a field name or a list-map key. */
const SEP = "\u0001";

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Canonical text of a list-map key, as managedFields' `k:{...}` after sorting its fields. */
function canonicalKey(fields: Record<string, Json>): string {
  const sorted: Record<string, Json> = {};
  for (const name of Object.keys(fields).sort()) sorted[name] = fields[name];
  return `k:${JSON.stringify(sorted)}`;
}

/** Leaf field paths a body sets (what the field manager will own after applying it). */
export function appliedFieldPaths(body: Json, listKeys: ListMapKeys = {}): Set<string> {
  const out = new Set<string>();
  const walk = (value: Json, path: string[], schemaPath: string): void => {
    if (isObject(value)) {
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      if (entries.length === 0 && path.length > 0) out.add(path.join(SEP));
      for (const [key, child] of entries) {
        walk(child, [...path, `f:${key}`], schemaPath ? `${schemaPath}.${key}` : key);
      }
      return;
    }
    const keys = listKeys[schemaPath];
    if (Array.isArray(value) && keys) {
      for (const item of value) {
        if (!isObject(item)) continue;
        const keyFields: Record<string, Json> = {};
        for (const k of keys) if (item[k] !== undefined) keyFields[k] = item[k];
        walk(item, [...path, canonicalKey(keyFields)], schemaPath);
      }
      return;
    }
    out.add(path.join(SEP));
  };
  walk(body, [], "");
  // apiVersion/kind/name/namespace identify the object; the server does not record them as owned.
  for (const id of ["f:apiVersion", "f:kind", "f:metadata\u0001f:name", "f:metadata\u0001f:namespace"]) {
    out.delete(id);
  }
  return out;
}

/**
 * Leaf field paths `manager` owns through `Apply` operations (of `subresource`, or of the main resource when
 * undefined), from the object's managedFields; an empty set when it owns nothing.
 */
export function managedFieldPaths(observed: KubeObject, manager: string, subresource?: string): Set<string> {
  const out = new Set<string>();
  for (const entry of observed.metadata?.managedFields ?? []) {
    if (entry.manager !== manager || entry.operation !== "Apply") continue;
    if ((entry.subresource ?? "") !== (subresource ?? "")) continue;
    const walk = (node: Json, path: string[]): void => {
      if (!isObject(node)) return;
      const children = Object.entries(node).filter(([k]) => k !== ".");
      if (children.length === 0) {
        if (path.length > 0) out.add(path.join(SEP));
        return;
      }
      for (const [key, child] of children) {
        const segment = key.startsWith("k:") ? canonicalKey(JSON.parse(key.slice(2))) : key;
        walk(child, [...path, segment]);
      }
    };
    walk(entry.fieldsV1, []);
  }
  return out;
}

/** True when every value in `desired` is present and equal in `observed` (list-maps matched by key). */
export function containsDesired(observed: Json, desired: Json, listKeys: ListMapKeys = {}): boolean {
  const walk = (obs: Json, want: Json, schemaPath: string): boolean => {
    if (want === undefined) return true;
    if (isObject(want)) {
      if (!isObject(obs)) return false;
      return Object.entries(want).every(([k, v]) => walk(obs[k], v, schemaPath ? `${schemaPath}.${k}` : k));
    }
    if (Array.isArray(want)) {
      if (!Array.isArray(obs)) return false;
      const keys = listKeys[schemaPath];
      if (keys) {
        return want.every((item) =>
          obs.some((candidate) =>
            isObject(item) && isObject(candidate) && keys.every((k) => candidate[k] === item[k]) &&
            walk(candidate, item, schemaPath)
          )
        );
      }
      return want.length === obs.length && want.every((item, i) => walk(obs[i], item, schemaPath));
    }
    return obs === want;
  };
  return walk(observed, desired, "");
}

/** Options of {@link applyWouldChange}. */
export interface ApplyComparison {
  /** The field manager that would apply. */
  manager: string;
  /** `status` for applies to the status subresource. */
  subresource?: string;
  /** List-map keys of the body. */
  listKeys?: ListMapKeys;
}

/**
 * True when server-side applying `desired` as `manager` onto `observed` would change it: some value differs,
 * or the manager owns a field that `desired` no longer sets (which the apply would remove), or the object
 * does not exist. Conservative: unknown shapes answer true, costing one idempotent apply.
 */
export function applyWouldChange(
  observed: KubeObject | undefined,
  desired: KubeObject,
  opts: ApplyComparison,
): boolean {
  if (!observed) return true;
  const listKeys = opts.listKeys ?? {};
  const { apiVersion: _a, kind: _k, ...body } = desired;
  if (!containsDesired(observed, body, listKeys)) return true;
  return !sameFieldSets(
    managedFieldPaths(observed, opts.manager, opts.subresource),
    appliedFieldPaths(desired, listKeys),
  );
}

/**
 * Whether owned and applied leaf paths describe the same fields. Atomic structs (ownerReferences entries)
 * are recorded by the server as one leaf while the body has their members, so a leaf that is a prefix of
 * the other side's paths counts as the same field.
 */
export function sameFieldSets(owned: ReadonlySet<string>, applied: ReadonlySet<string>): boolean {
  const covered = (path: string, other: ReadonlySet<string>): boolean => {
    if (other.has(path)) return true;
    const parts = path.split(SEP);
    for (let i = parts.length - 1; i > 0; i--) if (other.has(parts.slice(0, i).join(SEP))) return true;
    return false;
  };
  const ownedAsPrefix = (path: string): boolean => {
    for (const a of applied) if (a.startsWith(path + SEP)) return true;
    return false;
  };
  for (const path of owned) if (!applied.has(path) && !ownedAsPrefix(path)) return false;
  for (const path of applied) if (!covered(path, owned)) return false;
  return true;
}

/**
 * The resourceVersion of etcd's empty start: every write gets a later revision, so no stored object ever has it.
 * As the precondition of an apply it fails on any existing object.
 */
const NEVER_STORED_RESOURCE_VERSION = "1";

/**
 * `obj` as a create-only apply body: applied, it creates the object if absent — owned by the manager exactly as
 * an apply owns it, in one request — and is refused with 409 Conflict (even with `force`) if an object of that
 * name exists, because its resourceVersion precondition can match no stored object. For "create if absent,
 * never touch someone else's" where a POST would record the creator as an `Update` manager of every field,
 * defaulted ones included.
 */
export function createOnly<T extends KubeObject>(obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: NEVER_STORED_RESOURCE_VERSION } };
}
