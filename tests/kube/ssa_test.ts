/** Unit tests of server-side-apply change detection against managedFields as the apiserver writes them. */
import { deepStrictEqual } from "node:assert";
import { appliedFieldPaths, applyWouldChange, managedFieldPaths } from "../../kube/ssa.ts";
import type { KubeObject } from "../../kube/mod.ts";

const LIST_KEYS = { "spec.ports": ["port", "protocol"] };

const desired: KubeObject & { spec: unknown } = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "ns", labels: { app: "web" } },
  spec: {
    type: "ClusterIP",
    ports: [{ name: "http", port: 80, protocol: "TCP" }],
    externalIPs: ["192.0.2.1"],
  },
};

const observed = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: "web",
    namespace: "ns",
    labels: { app: "web" },
    managedFields: [{
      manager: "me",
      operation: "Apply",
      apiVersion: "v1",
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:labels": { "f:app": {} } },
        "f:spec": {
          "f:externalIPs": {},
          "f:ports": {
            'k:{"protocol":"TCP","port":80}': { ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {} },
          },
          "f:type": {},
        },
      },
    }, { manager: "other", operation: "Update", fieldsV1: { "f:spec": { "f:clusterIP": {} } } }],
  },
  spec: {
    type: "ClusterIP",
    clusterIP: "10.96.0.1",
    ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 80 }],
    externalIPs: ["192.0.2.1"],
  },
} as KubeObject;

Deno.test("owned and applied field paths agree for an unchanged body (key order in k: ignored)", () => {
  deepStrictEqual(
    [...managedFieldPaths(observed, "me")].sort(),
    [...appliedFieldPaths(desired, LIST_KEYS)].sort(),
  );
  deepStrictEqual(applyWouldChange(observed, desired, { manager: "me", listKeys: LIST_KEYS }), false);
});

Deno.test("a changed value, a removed field or a missing object means the apply would change", () => {
  const changed = structuredClone(desired);
  (changed.spec as { externalIPs: string[] }).externalIPs = ["192.0.2.2"];
  deepStrictEqual(applyWouldChange(observed, changed, { manager: "me", listKeys: LIST_KEYS }), true);
  const removed = structuredClone(desired);
  delete removed.metadata!.labels;
  deepStrictEqual(applyWouldChange(observed, removed, { manager: "me", listKeys: LIST_KEYS }), true);
  deepStrictEqual(applyWouldChange(undefined, desired, { manager: "me" }), true);
  deepStrictEqual(
    applyWouldChange(observed, desired, { manager: "someone-else", listKeys: LIST_KEYS }),
    true,
  );
});

Deno.test("an atomic struct recorded as one leaf (ownerReferences entry) matches its members in the body", () => {
  const body = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", ownerReferences: [{ apiVersion: "x/v1", kind: "X", name: "web", uid: "u1" }] },
  };
  const stored = {
    ...body,
    metadata: {
      ...body.metadata,
      managedFields: [{
        manager: "me",
        operation: "Apply",
        fieldsV1: { "f:metadata": { "f:ownerReferences": { 'k:{"uid":"u1"}': {} } } },
      }],
    },
  };
  deepStrictEqual(
    applyWouldChange(stored, body, { manager: "me", listKeys: { "metadata.ownerReferences": ["uid"] } }),
    false,
  );
});
