/** Probe credentials: which Secrets SWHs reference, whether they are usable, and their operator-namespace copies. */
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import {
  MIRRORED_SECRET_LABEL,
  MIRRORED_SECRET_SOURCE_ANNOTATION,
  mirroredSecretName,
} from "../crds/conventions.ts";
import { MIRRORED_KEYS, parseCredentials } from "../crds/credentials.ts";
import type { ConditionVerdict } from "./status.ts";

/** Looks a Secret up by namespace and name (e.g. an informer's store). */
export type SecretLookup = (namespace: string, name: string) => ISecret | undefined;

/** Value of {@link MIRRORED_SECRET_LABEL} on every mirrored Secret. */
export const MIRRORED_SECRET_LABEL_VALUE = "true";

/** Names of the Secrets (in the SWH's namespace) its PostgreSQL probes authenticate with, without repeats. */
export function credentialRefs(swh: ServiceWithHealthchecks): string[] {
  const names = new Set<string>();
  for (const probe of swh.spec.healthcheck?.probes ?? []) {
    if (probe.mode === "PostgreSQL" && probe.postgreSQL?.authSecretName) {
      names.add(probe.postgreSQL.authSecretName);
    }
  }
  return [...names];
}

/** The Credentials condition of one SWH: every referenced Secret exists and is usable. */
export function credentialsVerdict(swh: ServiceWithHealthchecks, lookup: SecretLookup): ConditionVerdict {
  const refs = credentialRefs(swh);
  if (refs.length === 0) {
    return { status: "True", reason: "NotRequired", message: "no probe needs credentials" };
  }
  const ns = swh.metadata.namespace ?? "";
  const missing = refs.filter((name) => !lookup(ns, name));
  if (missing.length > 0) {
    return {
      status: "False",
      reason: "SecretNotFound",
      message: `Secret ${missing.map((n) => `${ns}/${n}`).join(", ")} not found`,
    };
  }
  const problems = refs.flatMap((name) => {
    const parsed = parseCredentials(lookup(ns, name)!, `${ns}/${name}`);
    return parsed.ok ? [] : [parsed];
  });
  if (problems.length > 0) {
    return {
      status: "False",
      reason: problems[0].reason,
      message: problems.map((p) => p.message).join("; "),
    };
  }
  return {
    status: "True",
    reason: "SecretsMirrored",
    message: `credentials of ${refs.map((n) => `${ns}/${n}`).join(", ")} are available to the agents`,
  };
}

/**
 * The Secrets that should exist in the operator namespace: one copy per usable Secret that some SWH
 * references, holding only the keys probes read ({@link MIRRORED_KEYS}), labelled for the agents' watch and annotated with its
 * source. Keyed by the copy's name. Secrets nobody references, missing or unusable ones have no copy.
 */
export function desiredMirroredSecrets(
  swhs: Iterable<ServiceWithHealthchecks>,
  lookup: SecretLookup,
  operatorNamespace: string,
): Map<string, ISecret> {
  const out = new Map<string, ISecret>();
  for (const swh of swhs) {
    if (swh.metadata.deletionTimestamp) continue;
    const ns = swh.metadata.namespace ?? "";
    for (const name of credentialRefs(swh)) {
      const mirrorName = mirroredSecretName(ns, name);
      if (out.has(mirrorName)) continue;
      const source = lookup(ns, name);
      if (!source || !parseCredentials(source, `${ns}/${name}`).ok) continue;
      const data: Record<string, string> = {};
      for (const key of MIRRORED_KEYS) {
        const value = source.data?.[key];
        if (value !== undefined) data[key] = value;
      }
      out.set(mirrorName, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: mirrorName,
          namespace: operatorNamespace,
          labels: { [MIRRORED_SECRET_LABEL]: MIRRORED_SECRET_LABEL_VALUE },
          annotations: { [MIRRORED_SECRET_SOURCE_ANNOTATION]: `${ns}/${name}` },
        },
        type: "Opaque",
        data,
      });
    }
  }
  return out;
}
