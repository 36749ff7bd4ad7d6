/**
 * Builds the ServiceWithHealthchecks CustomResourceDefinition (apiextensions.k8s.io/v1) from the zod schema,
 * and renders it as the YAML committed next to this file.
 *
 * @module
 */
import type { ICustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { stringify } from "yaml";
import { z } from "zod";
import { type KubeSchema, toStructural } from "./openapi.ts";
import { SWH_GROUP, SWH_KIND, SWH_PLURAL, SWH_SHORT_NAME, SWH_VERSION, swhSchema } from "./schema.ts";

/** metadata.name of the CRD. */
export const SWH_CRD_NAME = `${SWH_PLURAL}.${SWH_GROUP}`;

/** Path of the committed CRD manifest, relative to the repository root. */
export const SWH_CRD_FILE = "crds/servicewithhealthchecks.yaml";

/**
 * Root properties Kubernetes manages itself: the apiserver validates them before our schema and only allows
 * plain types there, so zod's literals and metadata shape are replaced.
 */
const ROOT_OVERRIDES: Record<string, KubeSchema> = {
  apiVersion: {
    description: "APIVersion of this object: network.deckhouse.io/v1alpha1.",
    type: "string",
  },
  kind: { description: "Kind of this object: ServiceWithHealthchecks.", type: "string" },
  metadata: { type: "object" },
};

/** The structural OpenAPI v3 schema of the resource. */
export function swhOpenApiSchema(): KubeSchema {
  const json = z.toJSONSchema(swhSchema, { io: "input", unrepresentable: "throw" });
  const schema = toStructural(json as Record<string, unknown>, {
    requireDescriptions: true,
    overrides: ROOT_OVERRIDES,
  });
  // kubectl and the apiserver set apiVersion, kind and metadata; only spec is the user's to supply
  schema.required = ["spec"];
  return schema;
}

/** Columns of `kubectl get swh`: healthy at a glance, details with `-o wide`. */
const PRINTER_COLUMNS = [
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Whether at least one endpoint passes its probes and the Service is in place.",
  },
  {
    name: "Endpoints",
    type: "string",
    jsonPath: ".status.endpointSummary",
    description: "Healthy pods / selected pods.",
  },
  { name: "Type", type: "string", jsonPath: ".spec.type", description: "Service type." },
  {
    name: "Cluster-IP",
    type: "string",
    jsonPath: ".status.clusterIP",
    description: "Cluster IP of the Service.",
  },
  {
    name: "Reason",
    type: "string",
    priority: 1,
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: "Reason of the Ready condition.",
  },
  {
    name: "Selector",
    type: "string",
    priority: 1,
    jsonPath: ".spec.selector",
    description: "Labels of the selected pods.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The whole CustomResourceDefinition object. */
export function buildSwhCrd(): ICustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: SWH_CRD_NAME,
      labels: { "app.kubernetes.io/name": "service-with-healthchecks" },
    },
    spec: {
      group: SWH_GROUP,
      scope: "Namespaced",
      names: {
        kind: SWH_KIND,
        listKind: `${SWH_KIND}List`,
        plural: SWH_PLURAL,
        singular: SWH_PLURAL,
        shortNames: [SWH_SHORT_NAME],
        categories: ["all", "network"],
      },
      versions: [{
        name: SWH_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: PRINTER_COLUMNS,
        schema: {
          openAPIV3Schema: swhOpenApiSchema() as NonNullable<
            ICustomResourceDefinition["spec"]["versions"][number]["schema"]
          >["openAPIV3Schema"],
        },
      }],
    },
  };
}

const HEADER =
  "# ServiceWithHealthchecks CRD. Generated from crds/schema.ts by crds/generate.ts: do not edit,\n" +
  "# run `deno task crds` instead (crds/generate_test.ts fails when this file is stale).\n";

/** The committed YAML text of the CRD. */
export function renderSwhCrdYaml(): string {
  return HEADER + stringify(buildSwhCrd(), { lineWidth: 0, aliasDuplicateObjects: false });
}
