/** Unit tests of credential references, verdicts and the mirrored Secrets. */
import { deepStrictEqual } from "node:assert";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { credentialRefs, credentialsVerdict, desiredMirroredSecrets } from "./credentials.ts";
import type { SecretLookup } from "./credentials.ts";
import { makeSwh, postgresProbe } from "./testing.ts";
import {
  MIRRORED_SECRET_LABEL,
  MIRRORED_SECRET_SOURCE_ANNOTATION,
  mirroredSecretName,
} from "../crds/conventions.ts";

const b64 = (s: string) => btoa(s);

function lookupOf(secrets: ISecret[]): SecretLookup {
  return (ns, name) => secrets.find((s) => s.metadata?.namespace === ns && s.metadata?.name === name);
}

function secret(ns: string, name: string, data: Record<string, string>, type = "Opaque"): ISecret {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: ns }, type, data };
}

function pgSwh(name: string, ns: string, ...secrets: string[]) {
  const swh = makeSwh({ name, namespace: ns });
  swh.spec.healthcheck.probes = secrets.map(postgresProbe);
  return swh;
}

Deno.test("credentialRefs lists each referenced Secret once; TCP-only SWHs need none", () => {
  deepStrictEqual(credentialRefs(pgSwh("a", "ns", "s1", "s2", "s1")), ["s1", "s2"]);
  deepStrictEqual(credentialRefs(makeSwh()), []);
  deepStrictEqual(credentialsVerdict(makeSwh(), lookupOf([])).reason, "NotRequired");
});

Deno.test("credentialsVerdict: missing Secret, missing keys, usable", () => {
  const swh = pgSwh("a", "ns", "cred-secret");
  const missing = credentialsVerdict(swh, lookupOf([]));
  deepStrictEqual([missing.status, missing.reason], ["False", "SecretNotFound"]);
  const noPassword = credentialsVerdict(
    swh,
    lookupOf([secret("ns", "cred-secret", { user: b64("postgres") })]),
  );
  deepStrictEqual([noPassword.status, noPassword.reason], ["False", "SecretKeyMissing"]);
  deepStrictEqual(
    noPassword.message,
    'Secret ns/cred-secret has no non-empty key "password" (or a client certificate and key)',
  );
  const ok = credentialsVerdict(
    swh,
    lookupOf([secret("ns", "cred-secret", { user: b64("postgres"), password: b64("example") })]),
  );
  deepStrictEqual([ok.status, ok.reason], ["True", "SecretsMirrored"]);
});

Deno.test("desiredMirroredSecrets copies only the credential keys of usable, referenced Secrets", () => {
  const sources = [
    secret("ns", "cred-secret", {
      user: b64("postgres"),
      password: b64("example"),
      other: b64("x"),
      "ca.crt": "Y2E=",
    }),
    secret("ns", "broken", { user: b64("postgres") }),
    secret("ns", "unused", { user: b64("u"), password: b64("p") }),
    secret("ns2", "tls", { user: b64("u"), password: b64("p") }, "kubernetes.io/basic-auth"),
  ];
  const swhs = [
    pgSwh("a", "ns", "cred-secret", "broken", "missing"),
    pgSwh("b", "ns", "cred-secret"),
    pgSwh("c", "ns2", "tls"),
  ];
  const mirrors = desiredMirroredSecrets(swhs, lookupOf(sources), "swh-system");
  deepStrictEqual(
    [...mirrors.keys()].sort(),
    [mirroredSecretName("ns", "cred-secret"), mirroredSecretName("ns2", "tls")].sort(),
  );
  const copy = mirrors.get(mirroredSecretName("ns", "cred-secret"))!;
  deepStrictEqual(copy.metadata?.namespace, "swh-system");
  deepStrictEqual(copy.metadata?.labels, { [MIRRORED_SECRET_LABEL]: "true" });
  deepStrictEqual(copy.metadata?.annotations, { [MIRRORED_SECRET_SOURCE_ANNOTATION]: "ns/cred-secret" });
  deepStrictEqual(copy.type, "Opaque");
  deepStrictEqual(copy.data, { user: b64("postgres"), password: b64("example"), "ca.crt": "Y2E=" });
});
