/**
 * Builds the CustomResourceDefinitions (apiextensions.k8s.io/v1) of ServiceWithHealthchecks and of the
 * agents' node reports from their zod schemas, and renders them as the YAML committed next to this file.
 *
 * @module
 */
import type { ICustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { stringify } from "yaml";
import { z } from "zod";
import { type KubeSchema, toStructural } from "./openapi.ts";
import { REPORT_KIND, REPORT_PLURAL, REPORT_SHORT_NAMES, reportSchema } from "./report.ts";
import { SWH_GROUP, SWH_KIND, SWH_PLURAL, SWH_SHORT_NAME, SWH_VERSION, swhSchema } from "./schema.ts";

/** metadata.name of the CRD. */
export const SWH_CRD_NAME = `${SWH_PLURAL}.${SWH_GROUP}`;

/** Path of the committed CRD manifest, relative to the repository root. */
export const SWH_CRD_FILE = "crds/servicewithhealthchecks.yaml";

/** metadata.name of the node-report CRD. */
export const REPORT_CRD_NAME = `${REPORT_PLURAL}.${SWH_GROUP}`;

/** Path of the committed node-report CRD manifest, relative to the repository root. */
export const REPORT_CRD_FILE = `crds/${REPORT_PLURAL}.yaml`;

/**
 * Root properties Kubernetes manages itself: the apiserver validates them before our schema and only allows
 * plain types there, so zod's literals and metadata shape are replaced.
 */
function rootOverrides(kind: string): Record<string, KubeSchema> {
  return {
    apiVersion: { description: `APIVersion of this object: ${SWH_GROUP}/${SWH_VERSION}.`, type: "string" },
    kind: { description: `Kind of this object: ${kind}.`, type: "string" },
    metadata: { type: "object" },
  };
}

/** The structural OpenAPI v3 schema of a zod schema; `required` lists the root fields users must supply. */
function openApiSchema(schema: z.ZodType, kind: string, required: string[]): KubeSchema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" });
  const out = toStructural(json as Record<string, unknown>, {
    requireDescriptions: true,
    overrides: rootOverrides(kind),
  });
  // kubectl and the apiserver set apiVersion, kind and metadata
  out.required = required;
  return out;
}

/** The structural OpenAPI v3 schema of the resource. */
export function swhOpenApiSchema(): KubeSchema {
  return openApiSchema(swhSchema, SWH_KIND, ["spec"]);
}

/** The structural OpenAPI v3 schema of the node report. */
export function reportOpenApiSchema(): KubeSchema {
  return openApiSchema(reportSchema, REPORT_KIND, ["swh", "node", "endpoints"]);
}

type PrinterColumn = NonNullable<
  ICustomResourceDefinition["spec"]["versions"][number]["additionalPrinterColumns"]
>[number];

/** Columns of `kubectl get swh`: healthy at a glance, details with `-o wide`. */
const PRINTER_COLUMNS: PrinterColumn[] = [
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Whether at least one endpoint passes its probes and the Service is in place.",
  },
  {
    name: "Reason",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: "Why it is (not) ready: the root cause, e.g. EndpointsReady, ProbesFailing, SecretNotFound.",
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
    name: "Selector",
    type: "string",
    priority: 1,
    jsonPath: ".spec.selector",
    description: "Labels of the selected pods.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** What differs between our two CRDs. */
interface CrdShape {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories?: string[];
  statusSubresource: boolean;
  columns: PrinterColumn[];
  schema: KubeSchema;
}

function buildCrd(shape: CrdShape): ICustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${shape.plural}.${SWH_GROUP}`,
      labels: { "app.kubernetes.io/name": "service-with-healthchecks" },
    },
    spec: {
      group: SWH_GROUP,
      scope: "Namespaced",
      names: {
        kind: shape.kind,
        listKind: `${shape.kind}List`,
        plural: shape.plural,
        singular: shape.singular,
        shortNames: shape.shortNames,
        ...(shape.categories ? { categories: shape.categories } : {}),
      },
      versions: [{
        name: SWH_VERSION,
        served: true,
        storage: true,
        ...(shape.statusSubresource ? { subresources: { status: {} } } : {}),
        additionalPrinterColumns: shape.columns,
        schema: {
          openAPIV3Schema: shape.schema as NonNullable<
            ICustomResourceDefinition["spec"]["versions"][number]["schema"]
          >["openAPIV3Schema"],
        },
      }],
    },
  };
}

/** The ServiceWithHealthchecks CustomResourceDefinition. */
export function buildSwhCrd(): ICustomResourceDefinition {
  return buildCrd({
    kind: SWH_KIND,
    plural: SWH_PLURAL,
    singular: SWH_PLURAL,
    shortNames: [SWH_SHORT_NAME],
    categories: ["all", "network"],
    statusSubresource: true,
    columns: PRINTER_COLUMNS,
    schema: swhOpenApiSchema(),
  });
}

/** Columns of `kubectl -n swh-system get swhreport`: which SWH, which node, which pods. */
const REPORT_COLUMNS: PrinterColumn[] = [
  { name: "Namespace-Of-SWH", type: "string", jsonPath: ".swh.namespace", description: "SWH namespace." },
  { name: "SWH", type: "string", jsonPath: ".swh.name", description: "ServiceWithHealthchecks name." },
  { name: "Node", type: "string", jsonPath: ".node", description: "Node whose agent wrote the report." },
  { name: "Pods", type: "string", jsonPath: ".endpoints[*].pod", description: "Pods listed." },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The node-report CustomResourceDefinition (crds/report.ts). Not in the `all` category: not for users. */
export function buildReportCrd(): ICustomResourceDefinition {
  return buildCrd({
    kind: REPORT_KIND,
    plural: REPORT_PLURAL,
    singular: REPORT_KIND.toLowerCase(),
    shortNames: [...REPORT_SHORT_NAMES],
    statusSubresource: false,
    columns: REPORT_COLUMNS,
    schema: reportOpenApiSchema(),
  });
}

function header(what: string, source: string): string {
  return `# ${what} CRD. Generated from ${source} by crds/generate.ts: do not edit,\n` +
    "# run `deno task crds` instead (crds/generate_test.ts fails when this file is stale).\n";
}

function yamlOf(crd: ICustomResourceDefinition): string {
  return stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The committed YAML text of the ServiceWithHealthchecks CRD. */
export function renderSwhCrdYaml(): string {
  return header("ServiceWithHealthchecks", "crds/schema.ts") + yamlOf(buildSwhCrd());
}

/** The committed YAML text of the node-report CRD. */
export function renderReportCrdYaml(): string {
  return header(REPORT_KIND, "crds/report.ts") + yamlOf(buildReportCrd());
}
