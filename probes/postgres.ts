/**
 * PostgreSQL probe: log in, run one query, pass when the first column of the first row is true.
 *
 * The npm `postgres` driver speaks the protocol, but this module opens the socket itself (the driver's `socket`
 * option) and does the SSLRequest + TLS handshake on it. Reasons, all measured on Deno 2.9:
 * - letting the driver call tls.connect means any throw there (a malformed PEM, an IP `servername`) happens
 *   inside the driver's socket event handler and kills the process; thrown here, it becomes a failed probe;
 * - libpq's verify-ca (chain only) and verify-full against a pod IP (IP SAN) need `checkServerIdentity`
 *   control that the driver's `ssl` shortcuts do not give;
 * - every socket the probe opened is known, so it can be closed on every path, including timeouts.
 *
 * @module
 */
import crypto from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import postgres from "postgres";
import { checkTarget, failedResult, ProbeConfigError, result, startDeadline } from "./deadline.ts";
import type { PostgresProbeSpec, PostgresTls, ProbeResult, ProbeTarget } from "./types.ts";

/** PostgreSQL SSLRequest message: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);
const TRUE_WORDS = new Set(["t", "true", "y", "yes", "on"]);

/**
 * Environment variables the `postgres` driver still reads although every option is given (it consults them
 * unconditionally while parsing options). A process running with `--allow-env=<list>` must include these:
 * Deno throws on reads of variables outside the list, which would fail every PostgreSQL probe.
 */
export const POSTGRES_ENV_VARS: readonly string[] = ["PGAPPNAME", "PGTARGETSESSIONATTRS"];

const SCRAM_CACHE_SIZE = 256;
let scramCacheInstalled = false;

/**
 * Memoises node:crypto's `pbkdf2Sync`, which the driver calls for every SCRAM login.
 *
 * Why: PBKDF2 with PostgreSQL's 4096 iterations costs ~5.6 ms of the only JS thread per login here, so 200
 * PostgreSQL probes per second would burn a whole core and delay every other probe. The salted password depends
 * only on (password, salt, iterations), which stay fixed until the role's password changes; RFC 5802 §5.1 allows
 * clients to cache it. The function stays pure, so other users of node:crypto see identical results. Keys hold a
 * SHA-256 of the password, not the password. Installed on the first PostgreSQL probe; idempotent.
 */
export function installScramCache(): void {
  if (scramCacheInstalled) return;
  scramCacheInstalled = true;
  const original = crypto.pbkdf2Sync;
  const cache = new Map<string, Buffer>();
  crypto.pbkdf2Sync = function pbkdf2SyncCached(password, salt, iterations, keylen, digest) {
    const key = [
      digest,
      iterations,
      keylen,
      Buffer.from(salt as Uint8Array).toString("base64"),
      crypto.createHash("sha256").update(password as Uint8Array).digest("base64"),
    ].join("|");
    let value = cache.get(key);
    if (value) {
      cache.delete(key); // refresh LRU position
    } else {
      value = original(password, salt, iterations, keylen, digest);
      if (cache.size >= SCRAM_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, value);
    return Buffer.from(value);
  };
}

/**
 * How a first-column value reads as a probe verdict: `true`, non-zero numbers/bigints and the strings
 * `t`/`true`/`yes`/`on`/non-zero numerals pass; `false`, zero, `f`, NULL and everything else fail.
 */
export function isTruthy(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "bigint") return value !== 0n;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (v !== "" && Number.isFinite(Number(v))) return Number(v) !== 0;
    return TRUE_WORDS.has(v);
  }
  return false;
}

/** Runs a PostgreSQL probe against `target`. Never rejects; the connection is closed before it resolves. */
export async function probePostgres(
  target: ProbeTarget,
  spec: PostgresProbeSpec,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const startedAt = performance.now();
  const deadline = startDeadline(spec.timeoutSeconds, signal);
  const progress = { phase: "connect" };
  const sockets = new Set<net.Socket>();
  let sql: postgres.Sql | undefined;
  installScramCache();
  try {
    checkTarget(target);
    const pg = spec.postgreSQL;
    const tlsOptions = pg.credentials.tls?.mode && pg.credentials.tls.mode !== "disable"
      ? tlsConnectOptions(target, pg.credentials.tls)
      : undefined;
    const timeoutMs = Math.max(1, Math.round(spec.timeoutSeconds * 1000));
    // The driver supports array hosts and the `socket` factory (src/index.js parseOptions) but its types omit
    // them, hence the cast.
    const options = {
      // Arrays bypass the driver's "host:port" string parsing, which would mangle IPv6 literals.
      host: [target.ip],
      port: [target.port],
      database: pg.dbName,
      username: pg.credentials.user,
      password: pg.credentials.password,
      max: 1,
      ssl: false, // TLS is done by openSocket below
      // One connection per probe: the driver silently reconnects when a server closes during startup, which
      // would hide the failure behind retries until the timeout.
      socket: () =>
        sockets.size > 0
          ? Promise.reject(new Error("server closed the connection during startup"))
          : openSocket(target, tlsOptions, deadline.signal, sockets, progress),
      // A second later than our deadline, a fallback only: our deadline always fires first, even after a stall
      // of this process, so a timeout is reported as ours (timedOut), never as the driver's CONNECT_TIMEOUT.
      connect_timeout: Math.max(1, Math.ceil(spec.timeoutSeconds)) + 1,
      idle_timeout: undefined,
      max_lifetime: null,
      fetch_types: false, // one round trip less; the verdict only needs the driver's built-in types
      prepare: false,
      // Every option the driver would otherwise look up in PG* environment variables is set explicitly, so the
      // probe behaves the same everywhere and needs env permission only for POSTGRES_ENV_VARS.
      sslnegotiation: null,
      max_pipeline: 1,
      backoff: 0,
      keep_alive: null,
      debug: false,
      publications: "alltables",
      target_session_attrs: undefined,
      onnotice: () => {},
      // The server sends ParameterStatus only after a successful login: from here on, the query is what runs.
      onparameter: () => void (progress.phase = "query"),
      connection: {
        application_name: "swh-probe",
        // The server cancels a query that outlives the probe, so a timed-out probe leaves no backend busy.
        statement_timeout: timeoutMs,
      },
    };
    sql = postgres(options as unknown as postgres.Options<Record<string, postgres.PostgresType>>);
    // values(): rows as arrays, so "first column" is positional even when column names repeat.
    const rows = await untilAborted(sql.unsafe(pg.query).values(), deadline.signal);
    progress.phase = "result";
    if (rows.length === 0) return result(false, "query returned no rows", startedAt);
    if (rows[0].length === 0) return result(false, "query returned no columns", startedAt);
    const value: unknown = rows[0][0];
    if (!isTruthy(value)) return result(false, `query returned ${describeValue(value)}`, startedAt);
    return result(true, `query returned ${describeValue(value)}`, startedAt);
  } catch (error) {
    return failedResult(error, deadline, progress.phase, spec.timeoutSeconds, startedAt);
  } finally {
    await closeAll(sql, sockets, deadline.signal);
    deadline.dispose();
  }
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Resolves/rejects like `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    // Both handlers are attached, so a late rejection of `work` is never unhandled.
    work.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

/** Ends the driver (Terminate message when possible), waits for the sockets to close, then destroys them. */
async function closeAll(
  sql: postgres.Sql | undefined,
  sockets: Set<net.Socket>,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) { for (const s of sockets) s.destroy(); }
  // timeout 0: the driver destroys its connection at once if a graceful end is not immediate.
  await sql?.end({ timeout: 0 }).catch(() => {});
  await Promise.all([...sockets].map((s) => closed(s, signal)));
  for (const s of sockets) s.destroy();
}

function closed(socket: net.Socket, signal: AbortSignal): Promise<void> {
  if (socket.destroyed || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => (signal.removeEventListener("abort", done), resolve());
    socket.once("close", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** node:tls options for a PostgreSQL TLS mode; throws ProbeConfigError for unusable combinations. */
function tlsConnectOptions(target: ProbeTarget, cfg: PostgresTls): tls.ConnectionOptions {
  if (!["require", "verify-ca", "verify-full"].includes(cfg.mode)) {
    throw new ProbeConfigError(`unknown TLS mode ${JSON.stringify(cfg.mode)}`);
  }
  if (Boolean(cfg.clientCert) !== Boolean(cfg.clientKey)) {
    throw new ProbeConfigError("clientCert and clientKey must be given together");
  }
  const verify = cfg.mode !== "require";
  const identity = cfg.serverName || target.ip;
  return {
    ca: verify && cfg.caCert ? [cfg.caCert] : undefined,
    cert: cfg.clientCert || undefined,
    key: cfg.clientKey || undefined,
    rejectUnauthorized: verify,
    // SNI only for names: node:tls throws on an IP servername.
    servername: cfg.serverName && net.isIP(cfg.serverName) === 0 ? cfg.serverName : undefined,
    // verify-ca: chain only. verify-full: the certificate must name the server; for an IP that is an IP SAN,
    // which node's checkServerIdentity matches (rustls' own name check is bypassed by this callback).
    checkServerIdentity: (_host, cert) =>
      cfg.mode === "verify-full" ? tls.checkServerIdentity(identity, cert) : undefined,
  };
}

/**
 * The driver's socket factory: TCP connect, then (if TLS) SSLRequest and handshake. Rejections land in the
 * driver's own try/catch and fail the pending query; nothing here can throw into an event handler.
 */
function openSocket(
  target: ProbeTarget,
  tlsOptions: tls.ConnectionOptions | undefined,
  signal: AbortSignal,
  sockets: Set<net.Socket>,
  progress: { phase: string },
): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    // The driver reconnects on its own after an early close; once the probe is over, refuse.
    if (signal.aborted) return reject(signal.reason);
    const raw = net.connect({ host: target.ip, port: target.port });
    sockets.add(raw);
    // A permanent no-op listener: an 'error' emitted before the driver attaches its own must not become an
    // unhandled 'error' event (which throws).
    raw.on("error", () => {});
    const fail = (error: unknown) => (raw.destroy(), reject(error));
    raw.once("error", fail);
    raw.once("connect", () => {
      if (!tlsOptions) {
        raw.off("error", fail);
        progress.phase = "authentication";
        return resolve(raw);
      }
      progress.phase = "TLS negotiation";
      raw.write(SSL_REQUEST);
      raw.once("data", (answer: Uint8Array) => {
        if (answer[0] !== 0x53 /* 'S' */) return fail(new Error("server does not accept TLS"));
        raw.removeAllListeners();
        raw.on("error", () => {}); // errors surface on the TLS socket wrapping it
        progress.phase = "TLS handshake";
        let secure: tls.TLSSocket;
        try {
          secure = tls.connect({ ...tlsOptions, socket: raw });
        } catch (error) {
          return fail(error instanceof Error ? new ProbeConfigError(error.message) : error);
        }
        sockets.add(secure);
        secure.on("error", () => {}); // see raw above
        const tlsFail = (error: unknown) => (secure.destroy(), fail(error));
        secure.once("error", tlsFail);
        secure.once("secureConnect", () => {
          secure.off("error", tlsFail);
          progress.phase = "authentication";
          resolve(secure);
        });
      });
    });
  });
}
