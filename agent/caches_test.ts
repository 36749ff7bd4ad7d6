/** Unit tests of when the agent fetches an SWH's spec (worthFetching), from its Service's metadata. */
import { deepStrictEqual } from "node:assert";
import type { IPod } from "kubernetes-models/v1/Pod";
import { selectorAnnotation, SERVICE_SELECTOR_ANNOTATION } from "../crds/conventions.ts";
import type { PartialObjectMetadata } from "../kube/mod.ts";
import { serviceOwners, worthFetching } from "./caches.ts";

const swh = { metadata: { namespace: "ns", name: "db", uid: "u1" } } as PartialObjectMetadata;

function service(annotations?: Record<string, string>, ownerUid = "u1"): PartialObjectMetadata {
  return serviceOwners({
    metadata: {
      namespace: "ns",
      name: "db",
      ownerReferences: [{
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        name: "db",
        uid: ownerUid,
      }],
      annotations: { "other/annotation": "x", ...annotations },
    },
  } as PartialObjectMetadata);
}

function pod(labels: Record<string, string>, namespace = "ns", node = "n1"): IPod {
  return {
    metadata: { namespace, name: "p", uid: "p1", labels },
    spec: { nodeName: node, containers: [] },
    status: { phase: "Running", podIP: "10.0.0.1" },
  } as unknown as IPod;
}

Deno.test("worthFetching: the selector noted on the Service decides; anything unclear fetches", () => {
  const note = { [SERVICE_SELECTOR_ANNOTATION]: selectorAnnotation({ role: "primary", app: "db" }) };
  const primary = pod({ app: "db", role: "primary" });
  const replica = pod({ app: "db", role: "replica" });
  // No Service yet: nothing to publish through; its creation asks again.
  deepStrictEqual(worthFetching(swh, undefined, [primary], "n1"), false);
  // The note selects a pod here, or none (other labels, another namespace, another node).
  deepStrictEqual(worthFetching(swh, service(note), [replica, primary], "n1"), true);
  deepStrictEqual(worthFetching(swh, service(note), [replica], "n1"), false);
  deepStrictEqual(
    worthFetching(swh, service(note), [pod({ app: "db", role: "primary" }, "other")], "n1"),
    false,
  );
  deepStrictEqual(worthFetching(swh, service(note), [primary], "n2"), false);
  deepStrictEqual(worthFetching(swh, service(note), [], "n1"), false);
  // Without a usable note the spec decides: an older controller, a Service of someone else, a garbled note.
  deepStrictEqual(worthFetching(swh, service(), [], "n1"), true);
  deepStrictEqual(worthFetching(swh, service(note, "u2"), [], "n1"), true);
  deepStrictEqual(worthFetching(swh, service({ [SERVICE_SELECTOR_ANNOTATION]: "{" }), [], "n1"), true);
  deepStrictEqual(worthFetching(swh, service({ [SERVICE_SELECTOR_ANNOTATION]: '{"a":1}' }), [], "n1"), true);
  deepStrictEqual(worthFetching(swh, service({ [SERVICE_SELECTOR_ANNOTATION]: "[]" }), [], "n1"), true);
});

Deno.test("serviceOwners keeps the SWH owners and the selector note, nothing else", () => {
  const note = { [SERVICE_SELECTOR_ANNOTATION]: '{"app":"db"}' };
  deepStrictEqual(service(note).metadata?.annotations, note);
  deepStrictEqual(
    serviceOwners({ metadata: { name: "x", annotations: note } } as PartialObjectMetadata).metadata
      ?.annotations,
    undefined,
  );
});

Deno.test("selectorAnnotation sorts keys: one selector, one note", () => {
  deepStrictEqual(selectorAnnotation({ b: "2", a: "1" }), '{"a":"1","b":"2"}');
  deepStrictEqual(selectorAnnotation({}), "{}");
});
