import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { DECKHOUSE_SECRET_TYPE, parseCredentials } from "./credentials.ts";

function secret(data: Record<string, string>, type = "Opaque"): ISecret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type,
    metadata: { name: "cred" },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
  };
}

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Deno.test("credentials: user and password, as kubectl create secret generic makes them", () => {
  deepStrictEqual(parseCredentials(secret({ user: "u", password: "p" }), "ns/cred"), {
    ok: true,
    credentials: { user: "u", password: "p", tls: { mode: "disable" } },
  });
});

Deno.test("credentials: a client certificate alone authenticates (no password) — for the controller and agents alike", () => {
  const result = parseCredentials(
    secret({ user: "u", "tls.crt": PEM, "tls.key": "KEY", "ca.crt": PEM, sslmode: "verify-full" }),
    "ns/cred",
  );
  strictEqual(result.ok, true);
  if (result.ok) {
    deepStrictEqual(result.credentials, {
      user: "u",
      password: "",
      tls: { mode: "verify-full", caCert: PEM, clientCert: PEM, clientKey: "KEY" },
    });
  }
  const half = parseCredentials(secret({ user: "u", "tls.crt": PEM }), "ns/cred");
  deepStrictEqual(half.ok ? "" : half.reason, "SecretKeyMissing");
});

Deno.test("credentials: Deckhouse's typed Secret is understood (tlsMode, caCert, clientCert, clientKey)", () => {
  const result = parseCredentials(
    secret(
      { user: "u", password: "p", tlsMode: "VerifyCA", caCert: PEM, clientCert: PEM, clientKey: "K" },
      DECKHOUSE_SECRET_TYPE,
    ),
    "ns/cred",
  );
  deepStrictEqual(result, {
    ok: true,
    credentials: {
      user: "u",
      password: "p",
      tls: { mode: "verify-ca", caCert: PEM, clientCert: PEM, clientKey: "K" },
    },
  });
  for (
    const [mode, libpq] of [["Disabled", "disable"], ["SkipVerification", "require"], [
      "VerifyAll",
      "verify-full",
    ]]
  ) {
    const r = parseCredentials(secret({ user: "u", password: "p", tlsMode: mode, caCert: PEM }), "ns/cred");
    strictEqual(r.ok && r.credentials.tls.mode, libpq);
  }
  const bad = parseCredentials(secret({ user: "u", password: "p", tlsMode: "Sometimes" }), "ns/cred");
  deepStrictEqual(bad.ok ? "" : [bad.reason, bad.message], [
    "InvalidCredentials",
    'Secret ns/cred: tlsMode "Sometimes" is not one of Disabled, SkipVerification, VerifyCA, VerifyAll',
  ]);
});

Deno.test("credentials: missing user, unknown sslmode, verify without a CA", () => {
  const noUser = parseCredentials(secret({ password: "p" }), "ns/cred");
  deepStrictEqual(noUser.ok ? "" : noUser.reason, "SecretKeyMissing");
  const mode = parseCredentials(secret({ user: "u", password: "p", sslmode: "x" }), "ns/cred");
  deepStrictEqual(mode.ok ? "" : mode.reason, "InvalidCredentials");
  const noCa = parseCredentials(secret({ user: "u", password: "p", sslmode: "verify-ca" }), "ns/cred");
  deepStrictEqual(noCa.ok ? "" : noCa.reason, "SecretKeyMissing");
});
