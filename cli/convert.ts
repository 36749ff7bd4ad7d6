/**
 * `mod.ts convert`: turns Service manifests into ServiceWithHealthchecks manifests for migration. The
 * result keeps the Service's spec (including a pinned clusterIP), adds a probe per target port, and
 * carries the opt-in annotation that lets the controller adopt the running Service and its ClusterIP
 * instead of refusing it as foreign.
 */
import { parseAllDocuments, stringify } from "yaml";
import { ADOPT_SERVICE_ANNOTATION } from "../crds/conventions.ts";
import { formatSwhErrors, SWH_API_VERSION, SWH_KIND, validateSwh } from "../crds/mod.ts";

/** How the generated probes check each target port. */
export interface ConvertOptions {
  /** `tcp` (default): a TCP connect per target port; `http`: an HTTP GET of `httpPath`. */
  probe?: "tcp" | "http";
  /** Path of the HTTP probe (default `/healthz`). */
  httpPath?: string;
}

/** A manifest could not be converted; names the document and the reason. */
export class ConvertError extends Error {
  /** @param document 0-based index of the YAML document. */
  constructor(readonly document: number, message: string) {
    super(`document ${document}: ${message}`);
    this.name = "ConvertError";
  }
}

type Json = Record<string, unknown>;

/** Annotations and labels that belong to the tool that wrote the Service, not to the Service. */
const BOOKKEEPING = /^(kubectl\.kubernetes\.io\/last-applied-configuration|deployment\.kubernetes\.io\/.*)$/;

/**
 * Drops what the apiserver defaulted on a Service exported from a cluster (`kubectl get -o yaml`), so
 * the SWH states only the user's intent; values that differ from the defaults are intent and stay.
 */
function dropServerDefaults(spec: Json): void {
  const ips = spec.clusterIPs as string[] | undefined;
  if (ips?.length === 1 && ips[0] === spec.clusterIP) delete spec.clusterIPs;
  if (spec.ipFamilyPolicy === "SingleStack") {
    delete spec.ipFamilyPolicy;
    delete spec.ipFamilies;
  }
  if (spec.internalTrafficPolicy === "Cluster") delete spec.internalTrafficPolicy;
  if (spec.sessionAffinity === "None") delete spec.sessionAffinity;
}

function cleanMap(map: unknown): Record<string, string> | undefined {
  if (!map || typeof map !== "object") return undefined;
  const entries = Object.entries(map as Record<string, string>).filter(([k]) => !BOOKKEEPING.test(k));
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** Converts one Service object into a ServiceWithHealthchecks object (validated against our schema). */
export function serviceToSwh(service: Json, options: ConvertOptions = {}, document = 0): Json {
  if (service.apiVersion !== "v1" || service.kind !== "Service") {
    throw new ConvertError(
      document,
      `expected apiVersion v1, kind Service; got ${service.apiVersion} ${service.kind}`,
    );
  }
  const metadata = (service.metadata ?? {}) as Json;
  const spec = { ...(service.spec ?? {}) as Json };
  dropServerDefaults(spec);
  const ports = (spec.ports ?? []) as Json[];
  if (!spec.selector) {
    throw new ConvertError(
      document,
      "the Service has no selector: a ServiceWithHealthchecks needs one to find pods",
    );
  }
  if (ports.length === 0) throw new ConvertError(document, "the Service has no ports to probe");
  const targets = [...new Set(ports.map((p) => (p.targetPort ?? p.port) as number | string))];
  const probes = targets.map((targetPort) =>
    options.probe === "http"
      ? { mode: "HTTP", http: { targetPort, path: options.httpPath ?? "/healthz" } }
      : { mode: "TCP", tcp: { targetPort } }
  );
  const swh: Json = {
    apiVersion: SWH_API_VERSION,
    kind: SWH_KIND,
    metadata: {
      name: metadata.name,
      ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
      ...(cleanMap(metadata.labels) ? { labels: cleanMap(metadata.labels) } : {}),
      annotations: { ...cleanMap(metadata.annotations), [ADOPT_SERVICE_ANNOTATION]: "true" },
    },
    spec: { ...spec, healthcheck: { probes } },
  };
  const result = validateSwh(swh);
  if (!result.ok) {
    throw new ConvertError(document, `the result would be rejected: ${formatSwhErrors(result.errors)}`);
  }
  return swh;
}

/**
 * Converts every Service in a (multi-document) YAML or JSON text — also the items of a `kind: List`, as
 * `kubectl get services -o yaml` prints several — into SWH objects, in order. Anything else is an error naming
 * the document (and item).
 */
export function convertObjects(yamlText: string, options: ConvertOptions = {}): Json[] {
  const documents = parseAllDocuments(yamlText);
  const out: Json[] = [];
  documents.forEach((doc, index) => {
    if (doc.errors.length > 0) throw new ConvertError(index, `invalid YAML: ${doc.errors[0].message}`);
    const value = doc.toJS() as Json | null | undefined;
    if (value === null || value === undefined) return;
    if (value.kind === "List" && typeof value.apiVersion === "string") {
      const items = Array.isArray(value.items) ? value.items as Json[] : [];
      items.forEach((item, i) => {
        try {
          out.push(serviceToSwh(item, options, index));
        } catch (error) {
          if (!(error instanceof ConvertError)) throw error;
          throw new ConvertError(index, `List item ${i}: ${error.message.replace(/^document \d+: /, "")}`);
        }
      });
      return;
    }
    out.push(serviceToSwh(value, options, index));
  });
  if (out.length === 0) throw new ConvertError(0, "no Service found in the input");
  return out;
}

/** {@link convertObjects} as YAML documents separated by `---`. */
export function convertManifests(yamlText: string, options: ConvertOptions = {}): string {
  return convertObjects(yamlText, options).map((swh) => stringify(swh)).join("---\n");
}
