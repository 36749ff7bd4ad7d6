/**
 * The credentials Secret a PostgreSQL probe names (`authSecretName`): which keys are read and when the Secret is
 * usable — one function for the controller (judging the user's Secret) and the agent (reading its mirrored copy),
 * so the two never disagree.
 *
 * Two layouts are understood, whatever the Secret's type: ours (`kubectl create secret generic` with `user`,
 * `password`, optional `sslmode`, `ca.crt`, `tls.crt`, `tls.key`) and Deckhouse's typed Secret
 * `network.deckhouse.io/postgresql-credentials` (`user`, `password`, `tlsMode`, `caCert`, `clientCert`,
 * `clientKey`), so manifests written for Deckhouse's implementation work here unchanged. Where both spell a key,
 * ours wins.
 *
 * @module
 */
import type { ISecret } from "kubernetes-models/v1/Secret";

/** Our keys. */
export const CREDENTIAL_KEYS = {
  user: "user",
  password: "password",
  /** disable | require | verify-ca | verify-full (default disable). */
  sslmode: "sslmode",
  /** PEM CA bundle for verify-ca / verify-full. */
  caCert: "ca.crt",
  /** PEM client certificate and key. */
  clientCert: "tls.crt",
  clientKey: "tls.key",
} as const;

/** Deckhouse's keys (Secret type {@link DECKHOUSE_SECRET_TYPE}). */
export const DECKHOUSE_CREDENTIAL_KEYS = {
  /** Disabled | SkipVerification | VerifyCA | VerifyAll. */
  tlsMode: "tlsMode",
  caCert: "caCert",
  clientCert: "clientCert",
  clientKey: "clientKey",
} as const;

/** The Secret type Deckhouse's implementation defines for PostgreSQL probe credentials. */
export const DECKHOUSE_SECRET_TYPE = "network.deckhouse.io/postgresql-credentials";

/** Every key the probes read: what a mirrored copy holds (nothing else of the user's Secret is copied). */
export const MIRRORED_KEYS: readonly string[] = [
  ...new Set([...Object.values(CREDENTIAL_KEYS), ...Object.values(DECKHOUSE_CREDENTIAL_KEYS)]),
];

/** libpq's TLS modes. */
export type TlsMode = "disable" | "require" | "verify-ca" | "verify-full";

const TLS_MODES: readonly TlsMode[] = ["disable", "require", "verify-ca", "verify-full"];

/** Deckhouse's TLS modes in libpq's words. */
const DECKHOUSE_TLS_MODES: Readonly<Record<string, TlsMode>> = {
  Disabled: "disable",
  SkipVerification: "require",
  VerifyCA: "verify-ca",
  VerifyAll: "verify-full",
};

/** What a probe logs in with (the probes' PostgresCredentials, structurally). */
export interface Credentials {
  readonly user: string;
  /** Empty when a client certificate authenticates. */
  readonly password: string;
  readonly tls: {
    readonly mode: TlsMode;
    readonly caCert?: string;
    readonly clientCert?: string;
    readonly clientKey?: string;
  };
}

/** {@link parseCredentials}' answer. */
export type CredentialsResult =
  | { ok: true; credentials: Credentials }
  | { ok: false; reason: "SecretKeyMissing" | "InvalidCredentials"; message: string };

/** A key's text: base64 `data` decoded as UTF-8, or `stringData`; undefined when absent or undecodable. */
function read(secret: ISecret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 === undefined) return secret.stringData?.[key];
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/**
 * The credentials in `secret` (`name` for messages), or why it cannot be used: a user, and a password or a client
 * certificate with its key; a known TLS mode; verify modes need a CA.
 */
export function parseCredentials(secret: ISecret, name: string): CredentialsResult {
  const get = (...keys: string[]) =>
    keys.map((k) => read(secret, k)).find((v) => v !== undefined && v !== "");
  const user = get(CREDENTIAL_KEYS.user);
  const password = get(CREDENTIAL_KEYS.password);
  const caCert = get(CREDENTIAL_KEYS.caCert, DECKHOUSE_CREDENTIAL_KEYS.caCert);
  const clientCert = get(CREDENTIAL_KEYS.clientCert, DECKHOUSE_CREDENTIAL_KEYS.clientCert);
  const clientKey = get(CREDENTIAL_KEYS.clientKey, DECKHOUSE_CREDENTIAL_KEYS.clientKey);
  const missing = [
    ...(user ? [] : [`"${CREDENTIAL_KEYS.user}"`]),
    ...(password !== undefined || (clientCert && clientKey)
      ? []
      : [`"${CREDENTIAL_KEYS.password}" (or a client certificate and key)`]),
  ];
  if (missing.length > 0) {
    return {
      ok: false,
      reason: "SecretKeyMissing",
      message: `Secret ${name} has no non-empty key ${missing.join(" and no ")}`,
    };
  }
  const ours = get(CREDENTIAL_KEYS.sslmode);
  const theirs = get(DECKHOUSE_CREDENTIAL_KEYS.tlsMode);
  const mode = ours !== undefined
    ? ours.trim() as TlsMode
    : theirs !== undefined
    ? DECKHOUSE_TLS_MODES[theirs.trim()]
    : "disable";
  if (!TLS_MODES.includes(mode)) {
    return {
      ok: false,
      reason: "InvalidCredentials",
      message: ours !== undefined
        ? `Secret ${name}: sslmode ${JSON.stringify(ours)} is not one of ${TLS_MODES.join(", ")}`
        : `Secret ${name}: tlsMode ${JSON.stringify(theirs)} is not one of ${
          Object.keys(DECKHOUSE_TLS_MODES).join(", ")
        }`,
    };
  }
  if ((mode === "verify-ca" || mode === "verify-full") && !caCert) {
    return {
      ok: false,
      reason: "SecretKeyMissing",
      message: `Secret ${name}: TLS mode ${mode} needs a CA certificate ("${CREDENTIAL_KEYS.caCert}")`,
    };
  }
  return {
    ok: true,
    credentials: {
      user: user!,
      password: password ?? "",
      tls: {
        mode,
        ...(caCert ? { caCert } : {}),
        ...(clientCert ? { clientCert } : {}),
        ...(clientKey ? { clientKey } : {}),
      },
    },
  };
}
