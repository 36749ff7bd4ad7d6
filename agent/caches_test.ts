/** Unit tests of when the agent needs an SWH's spec (swhTarget), from its Service's metadata. */
import { deepStrictEqual } from "node:assert";
import type { IPod } from "kubernetes-models/v1/Pod";
import {
  selectorAnnotation,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SELECTOR_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
} from "../crds/conventions.ts";
import type { PartialObjectMetadata } from "../kube/mod.ts";
import { serviceNote, serviceOwners, swhTarget } from "./caches.ts";

function service(
  annotations?: Record<string, string>,
  ownerUid = "u1",
  ownerName = "db",
): PartialObjectMetadata {
  return serviceOwners({
    metadata: {
      namespace: "ns",
      name: "db",
      ownerReferences: [{
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        name: ownerName,
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

Deno.test("swhTarget: the selector noted on the Service decides; anything unclear fetches", () => {
  const note = {
    [SERVICE_SELECTOR_ANNOTATION]: selectorAnnotation({ role: "primary", app: "db" }),
    [SERVICE_GENERATION_ANNOTATION]: "3",
  };
  const primary = pod({ app: "db", role: "primary" });
  const replica = pod({ app: "db", role: "replica" });
  const wanted = { uid: "u1", generation: 3 };
  // No Service yet, or one that is not its SWH's: nothing to publish through (its creation asks again).
  deepStrictEqual(swhTarget(undefined, [primary], "n1", () => false), undefined);
  deepStrictEqual(swhTarget(service(note, "u1", "other"), [primary], "n1", () => true), undefined);
  // The note selects a pod here, or none (other labels, another namespace, another node).
  deepStrictEqual(swhTarget(service(note), [replica, primary], "n1", () => false), wanted);
  deepStrictEqual(swhTarget(service(note), [replica], "n1", () => false), undefined);
  deepStrictEqual(
    swhTarget(service(note), [pod({ app: "db", role: "primary" }, "other")], "n1", () => false),
    undefined,
  );
  deepStrictEqual(swhTarget(service(note), [primary], "n2", () => false), undefined);
  deepStrictEqual(swhTarget(service(note), [], "n1", () => false), undefined);
  // Holding a slice or report of it: the spec decides whether they stay.
  deepStrictEqual(swhTarget(service(note), [], "n1", () => true), wanted);
  // Without a usable note the spec decides: an older controller (no generation either), a garbled note.
  deepStrictEqual(swhTarget(service(), [], "n1", () => false), { uid: "u1" });
  deepStrictEqual(
    swhTarget(service({ ...note, [SERVICE_GENERATION_ANNOTATION]: "x" }), [primary], "n1", () => false),
    { uid: "u1" },
  );
  deepStrictEqual(swhTarget(service({ [SERVICE_SELECTOR_ANNOTATION]: "{" }), [], "n1", () => false), {
    uid: "u1",
  });
  deepStrictEqual(swhTarget(service({ [SERVICE_SELECTOR_ANNOTATION]: '{"a":1}' }), [], "n1", () => false), {
    uid: "u1",
  });
  deepStrictEqual(swhTarget(service({ [SERVICE_SELECTOR_ANNOTATION]: "[]" }), [], "n1", () => false), {
    uid: "u1",
  });
});

Deno.test("serviceOwners keeps the SWH owners and the controller's notes, nothing else", () => {
  const note = {
    [SERVICE_SELECTOR_ANNOTATION]: '{"app":"db"}',
    [SERVICE_GENERATION_ANNOTATION]: "2",
    [SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION]: "true",
  };
  deepStrictEqual(service(note).metadata?.annotations, note);
  deepStrictEqual(serviceNote(service(note)), { uid: "u1", generation: 2, defaultsMissing: true });
  deepStrictEqual(serviceNote(service({ ...note, [SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION]: "no" })), {
    uid: "u1",
    generation: 2,
  });
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
