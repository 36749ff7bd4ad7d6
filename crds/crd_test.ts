/** Structural invariants of the generated CRD that the apiserver (or kubectl explain) relies on. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { buildSwhCrd, swhOpenApiSchema } from "./crd.ts";
import { HEALTHCHECK_DEFAULTS } from "./healthcheck.ts";
import type { KubeSchema } from "./openapi.ts";

/** Visits every schema node with its path. */
function walk(node: KubeSchema, path: string, visit: (node: KubeSchema, path: string) => void): void {
  visit(node, path);
  for (const [name, prop] of Object.entries(node.properties ?? {})) walk(prop, `${path}.${name}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (node.additionalProperties) walk(node.additionalProperties, `${path}{}`, visit);
}

function at(path: string): KubeSchema {
  let node = swhOpenApiSchema();
  for (const part of path.split(".")) {
    node = part === "[]" ? node.items! : node.properties![part];
    ok(node, `no schema at ${path}`);
  }
  return node;
}

Deno.test("the schema is structural: a type on every node, no JSON Schema unions or constants", () => {
  walk(swhOpenApiSchema(), "", (node, path) => {
    ok(node.type || node["x-kubernetes-int-or-string"], `${path} has no type`);
    for (const key of ["anyOf", "oneOf", "not", "const", "$schema", "propertyNames", "nullable"]) {
      ok(!(key in node), `${path} has ${key}`);
    }
    if (node.properties) {
      ok(!("additionalProperties" in node), `${path} has properties and additionalProperties`);
    }
  });
});

Deno.test("every field has a description (kubectl explain teaches it), except metadata", () => {
  walk(swhOpenApiSchema(), "", (node, path) => {
    for (const [name, prop] of Object.entries(node.properties ?? {})) {
      if (`${path}.${name}` === ".metadata") continue;
      ok(prop.description && prop.description.length > 10, `${path}.${name} lacks a description`);
    }
  });
});

Deno.test("list-map keys: ports like a Service, headers by name, status entries by pod, conditions by type", () => {
  deepStrictEqual(at("spec.ports")["x-kubernetes-list-map-keys"], ["port", "protocol"]);
  deepStrictEqual(at("spec.healthcheck.probes.[].http.httpHeaders")["x-kubernetes-list-map-keys"], ["name"]);
  deepStrictEqual(at("status.endpoints")["x-kubernetes-list-map-keys"], ["pod"]);
  deepStrictEqual(at("status.conditions")["x-kubernetes-list-map-keys"], ["type"]);
  strictEqual(at("spec.ports.[].protocol").default, "TCP");
});

Deno.test("defaults in the CRD are the documented ones", () => {
  strictEqual(at("spec.healthcheck.initialDelaySeconds").default, HEALTHCHECK_DEFAULTS.initialDelaySeconds);
  strictEqual(at("spec.healthcheck.periodSeconds").default, HEALTHCHECK_DEFAULTS.periodSeconds);
  const probe = "spec.healthcheck.probes.[]";
  strictEqual(at(`${probe}.timeoutSeconds`).default, HEALTHCHECK_DEFAULTS.timeoutSeconds);
  strictEqual(at(`${probe}.successThreshold`).default, HEALTHCHECK_DEFAULTS.successThreshold);
  strictEqual(at(`${probe}.failureThreshold`).default, HEALTHCHECK_DEFAULTS.failureThreshold);
  strictEqual(at(`${probe}.http.method`).default, HEALTHCHECK_DEFAULTS.httpMethod);
  strictEqual(at(`${probe}.postgreSQL.query`).default, HEALTHCHECK_DEFAULTS.postgreSQLQuery);
});

Deno.test("every CEL rule sits where lists, maps and strings it may touch are bounded", () => {
  // the apiserver's cost estimator refuses rules over unbounded collections; keep bounds next to rules
  walk(swhOpenApiSchema(), "", (node, path) => {
    if (!node["x-kubernetes-validations"] || path === "") return;
    if (node.type === "array") ok(node.maxItems !== undefined, `${path}: rule on an unbounded list`);
    if (node.type === "object" && node.additionalProperties) {
      ok(node.maxProperties !== undefined, `${path}: rule on an unbounded map`);
    }
    if (node["x-kubernetes-int-or-string"]) {
      ok(node.maxLength !== undefined, `${path}: unbounded int-or-string`);
    }
  });
});

Deno.test("CRD names, scope, status subresource and printer columns", () => {
  const crd = buildSwhCrd();
  strictEqual(crd.metadata?.name, "servicewithhealthchecks.network.deckhouse.io");
  strictEqual(crd.spec.scope, "Namespaced");
  deepStrictEqual(crd.spec.names.shortNames, ["swh"]);
  const [version] = crd.spec.versions;
  strictEqual(version.name, "v1alpha1");
  deepStrictEqual(version.subresources, { status: {} });
  deepStrictEqual(
    version.additionalPrinterColumns?.filter((c) => !c.priority).map((c) => c.name),
    ["Ready", "Reason", "Endpoints", "Type", "Cluster-IP", "Age"],
  );
  deepStrictEqual(version.schema?.openAPIV3Schema?.required, ["spec"]);
});
