/**
 * Names, labels and field managers that the controller and the agents agree on: the contract between the
 * two programs beyond the resource itself.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Default namespace of the operator (controller, agents, mirrored credentials); env `SWH_NAMESPACE`. */
export const DEFAULT_OPERATOR_NAMESPACE = "swh-system";

/** Field manager of the controller (Service, SWH status conditions and counts, mirrored Secrets). */
export const CONTROLLER_FIELD_MANAGER = "swh-controller";

/**
 * Field manager of the agent on `node` (its EndpointSlices, node reports and heartbeat Lease). Field managers
 * stop at 128 characters and node names at 253: a longer one ends in a digest of the node's name instead.
 */
export function agentFieldManager(node: string): string {
  const manager = `swh-agent-${node}`;
  return manager.length <= 128 ? manager : `swh-agent-${node.slice(0, 80)}-${digest(node)}`;
}

/** Label every EndpointSlice carries so kube-proxy ties it to the Service (Kubernetes' own key). */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Kubernetes' label naming the controller that manages an EndpointSlice. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** Our value of {@link MANAGED_BY_LABEL}; the built-in controller ignores slices with another value. */
export const MANAGED_BY_VALUE = "swh-agent.network.deckhouse.io";
/** Kubernetes' value of {@link MANAGED_BY_LABEL} on the slices its EndpointSlice controller keeps for selectors. */
export const BUILT_IN_MANAGED_BY_VALUE = "endpointslice-controller.k8s.io";
/**
 * Label naming the node whose agent owns an EndpointSlice or node report (each agent selects its own by it);
 * its value is {@link nodeLabelValue}.
 */
export const NODE_LABEL = "network.deckhouse.io/swh-node";
/**
 * Annotation on an agent's EndpointSlice whose node name is longer than a label value: the full name (read it
 * with {@link sliceNode}).
 */
export const NODE_ANNOTATION = "network.deckhouse.io/swh-node-name";

/** Longest label value Kubernetes accepts. */
const LABEL_VALUE_MAX = 63;

/**
 * The value of {@link NODE_LABEL} for `node`: the node's name, or for a name longer than a label value (node
 * names may have 253 characters, label values 63) its first 63 characters without trailing `-` and `.`.
 * Chosen so that deploy/admission.yaml can check it in CEL; two long names that share those characters share
 * the label, so agents also compare {@link sliceNode} (a slice) or the report's `node`.
 */
export function nodeLabelValue(node: string): string {
  return node.length <= LABEL_VALUE_MAX ? node : node.slice(0, LABEL_VALUE_MAX).replace(/[-.]+$/, "");
}

/** The node whose agent wrote `slice`: its {@link NODE_ANNOTATION} for a name too long for the label. */
export function sliceNode(
  slice: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } },
): string | undefined {
  return slice.metadata?.annotations?.[NODE_ANNOTATION] ?? slice.metadata?.labels?.[NODE_LABEL];
}

/** Label on each agent's heartbeat Lease in the operator namespace (the controller watches these only). */
export const AGENT_LEASE_LABEL = "network.deckhouse.io/swh-agent-heartbeat";

/** Name of the heartbeat Lease of the agent on `node` (a digest when the node's name is too long for it). */
export function agentLeaseName(node: string): string {
  const name = `swh-agent-${node}`;
  return name.length <= 253 ? name : `swh-agent-${digest(node, 40)}`;
}

/** Label on Secrets mirrored into the operator namespace; agents watch Secrets with this label only. */
export const MIRRORED_SECRET_LABEL = "network.deckhouse.io/swh-credentials";
/** Annotation on a mirrored Secret: `<namespace>/<name>` of the Secret it copies. */
export const MIRRORED_SECRET_SOURCE_ANNOTATION = "network.deckhouse.io/source";

/**
 * Annotation on a ServiceWithHealthchecks: `"true"` lets the controller adopt a pre-existing Service of the
 * same name that it does not own (migration), keeping its ClusterIP; without it such a Service is refused.
 */
export const ADOPT_SERVICE_ANNOTATION = "network.deckhouse.io/adopt-existing-service";

/**
 * Annotation the controller sets on an SWH's Service: the SWH's pod selector as JSON (keys sorted). Agents read
 * Services as metadata anyway; with it, an agent fetches only the SWHs that can select a pod on its node (in a
 * fleet, a tenth or less of them) instead of every one. Without it (a Service of an older controller), agents
 * fetch the SWH. Changing it can only hide the Service's own SWH from agents, never expose other pods.
 */
export const SERVICE_SELECTOR_ANNOTATION = "network.deckhouse.io/swh-selector";

/**
 * Annotation the controller sets on an SWH's Service: the SWH's `metadata.generation` its notes and the Service
 * reflect. Agents do not watch SWHs (their status writes would reach every node): an agent fetches an SWH's spec
 * when this names a newer generation than the one it holds. Without it (an older controller) an agent fetches
 * the SWH once, and again when the note appears.
 */
export const SERVICE_GENERATION_ANNOTATION = "network.deckhouse.io/swh-generation";

/**
 * Annotation the controller sets on an SWH's Service (value `"true"`) when the stored SWH lacks defaults the
 * programs' schema applies — a CRD older than the programs (Helm never upgrades a chart's CRDs). Agents take the
 * spec at the noted generation as stored; with this they validate it themselves, which applies the defaults.
 */
export const SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION = "network.deckhouse.io/swh-spec-defaults-missing";

/**
 * Every note the controller keeps on an SWH's Service for the agents: what agents cache of a Service, what is
 * never copied from the SWH's own annotations, and what goes when the Service is given back.
 */
export const SERVICE_NOTE_ANNOTATIONS: readonly string[] = [
  SERVICE_SELECTOR_ANNOTATION,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
];

/** The value of {@link SERVICE_SELECTOR_ANNOTATION} for `selector`: JSON with sorted keys, stable across writes. */
export function selectorAnnotation(selector: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(selector).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** FNV-1a 32-bit: short, stable, dependency-free; collisions only cost a rename, never data. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(text)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * Hex SHA-256 of `text`, cut to `hexChars` (default 20 = 80 bits): for names derived from several
 * user-chosen parts, where an attacker who controls one part must not be able to collide with another's.
 */
export function digest(text: string, hexChars = 20): string {
  return createHash("sha256").update(text).digest("hex").slice(0, hexChars);
}

/** A readable, DNS-safe fragment of `text` of at most `max` characters (for object names). */
function nameFragment(text: string, max: number): string {
  return text.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, max).replace(/^-+|-+$/g, "");
}

/**
 * Name of the node report (crds/report.ts) of the agent on `node` about SWH `namespace/name`, in the operator
 * namespace. Deterministic, so an agent finds its own reports again after a restart; readable prefixes for
 * `kubectl get`; a digest of all three parts keeps names unique whatever the prefixes.
 */
export function reportName(namespace: string, name: string, node: string): string {
  const readable = [nameFragment(node, 40), nameFragment(name, 40)].filter(Boolean).join("-");
  return `${readable}-${digest(`${namespace}/${name}|${node}`)}`;
}

/**
 * Name of the operator-namespace copy of Secret `name` in `namespace`. Deterministic, so agents compute it
 * without asking; a SHA-256 digest of both parts keeps it within DNS limits and collision-resistant: a tenant
 * cannot pick a namespace/name whose copy is another tenant's (the 32-bit hash of v0.1 allowed exactly that).
 * Agents still use a copy only when its source annotation names the SWH's own Secret.
 */
export function mirroredSecretName(namespace: string, name: string): string {
  return `swh-cred-${nameFragment(`${namespace}-${name}`, 40)}-${digest(`${namespace}/${name}`)}`;
}

/** Stable hash helper exported for names that must be deterministic (EndpointSlice names). */
export function shortHash(text: string): string {
  return fnv1a(text);
}
