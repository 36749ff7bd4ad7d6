/** A transport wrapper that reports every request (resource, verb, outcome): API-write metrics and tests. */
import type { KubeTransport, RequestOptions } from "./transport.ts";

/** Kubernetes verbs as RBAC and audit logs name them. */
export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete";

/** One finished request. */
export interface RequestInfo {
  /** RBAC verb. */
  verb: KubeVerb;
  /** Resource plural, with `/subresource` when one was addressed (e.g. `servicewithhealthchecks/status`). */
  resource: string;
  /** Whether the verb changes state (create, update, patch, apply, delete). */
  write: boolean;
  /** The request failed (any error, including API errors). */
  failed: boolean;
  /** Namespace the path addresses; undefined for cluster-scoped and all-namespace requests. */
  namespace?: string;
}

/** Splits an API path into resource (plural[/subresource]), whether it names one object, and its namespace. */
export function describePath(path: string): { resource: string; named: boolean; namespace?: string } {
  const parts = path.split("?")[0].split("/").filter((p) => p !== "");
  // /api/v1/... or /apis/group/version/...
  let rest = parts[0] === "api" ? parts.slice(2) : parts.slice(3);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural = "", name, sub] = rest;
  return { resource: sub ? `${plural}/${sub}` : plural, named: name !== undefined, namespace };
}

function verbOf(opts: RequestOptions & { expect?: string }, named: boolean): KubeVerb {
  switch (opts.method) {
    case "GET":
      return opts.query?.watch ? "watch" : named ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return opts.contentType === "application/apply-patch+yaml" ? "apply" : "patch";
    case "DELETE":
      return "delete";
  }
}

/**
 * Wraps `inner`, calling `onRequest` once per request after it settled (for streams: once the response
 * started). Adds no behaviour of its own.
 */
export function instrumentedTransport(
  inner: KubeTransport,
  onRequest: (info: RequestInfo) => void,
): KubeTransport {
  const request = async (opts: RequestOptions & { expect?: "json" | "stream" }): Promise<unknown> => {
    const { resource, named, namespace } = describePath(opts.path);
    const verb = verbOf(opts, named);
    const write = verb !== "get" && verb !== "list" && verb !== "watch";
    try {
      const result = await (inner.request as (o: typeof opts) => Promise<unknown>)(opts);
      onRequest({ verb, resource, write, failed: false, namespace });
      return result;
    } catch (err) {
      onRequest({ verb, resource, write, failed: true, namespace });
      throw err;
    }
  };
  return { namespace: inner.namespace, request } as KubeTransport;
}
