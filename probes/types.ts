/**
 * Probe vocabulary shared by the probe runners, the state machine and the scheduler; knows nothing of Kubernetes.
 *
 * The agent maps CRD fields onto these types after resolving named ports and reading credentials, so every
 * value here is concrete: an IP literal, a numeric port, PEM text.
 *
 * @module
 */

/** Where a probe connects: always the endpoint's own address, never a name that needs resolving. */
export interface ProbeTarget {
  /** IPv4 or IPv6 literal (IPv6 without brackets, e.g. `fd00::5`). */
  readonly ip: string;
  /** TCP port, 1–65535, already resolved from a container port name if the spec used one. */
  readonly port: number;
}

/** Fields every probe mode has. */
export interface ProbeCommon {
  /** Upper bound for one probe end to end (connect, TLS, request, response, authentication, query). */
  readonly timeoutSeconds: number;
  /** Consecutive successes needed to turn an unhealthy probe healthy (>= 1). */
  readonly successThreshold: number;
  /** Consecutive failures needed to turn a healthy probe unhealthy (>= 1). */
  readonly failureThreshold: number;
}

/** Success means a TCP connection was established; it is closed straight away. */
export interface TcpProbeSpec extends ProbeCommon {
  /** Discriminator. */
  readonly mode: "TCP";
}

/** One request header sent by an HTTP probe. */
export interface HttpHeader {
  /** Header name (a token: no spaces, colons or line breaks). */
  readonly name: string;
  /** Header value (no line breaks). */
  readonly value: string;
}

/** An inclusive range of HTTP status codes, e.g. `{ from: 200, to: 299 }`. */
export interface StatusCodeRange {
  /** Lowest accepted code. */
  readonly from: number;
  /** Highest accepted code. */
  readonly to: number;
}

/** HTTP methods a probe may use. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/** HTTP(S) request parameters. */
export interface HttpProbeOptions {
  /** Request target, starting with `/` (query string allowed). */
  readonly path: string;
  /** Request method; HEAD reads no body. */
  readonly method: HttpMethod;
  /** Plain HTTP or HTTP over TLS. */
  readonly scheme: "HTTP" | "HTTPS";
  /**
   * Host header value and TLS server name (SNI and certificate name check). Never used to pick the destination:
   * the probe always connects to the target IP. A `host:port` form sets the Host header verbatim and uses the
   * part before the port as server name. Default: the target `ip:port`, and no SNI.
   */
  readonly host?: string;
  /** Extra request headers; a `Host` entry here is used only when `host` is not set. */
  readonly httpHeaders?: readonly HttpHeader[];
  /**
   * PEM CA bundle the server certificate must chain to (HTTPS). Without it the system roots are used. The
   * certificate name is checked against `host` when `host` is set; without `host` only the chain is verified,
   * because pod IPs are ephemeral and rarely appear in certificates.
   */
  readonly caCert?: string;
  /** Accept any server certificate (HTTPS). The connection is still encrypted. */
  readonly insecureSkipTLSVerify?: boolean;
  /** Status codes counted as success; single codes and ranges may be mixed. Default: 200–399. */
  readonly expectedStatusCodes?: readonly (number | StatusCodeRange)[];
}

/** Success means a response arrived in time with an expected status code. Redirects are not followed. */
export interface HttpProbeSpec extends ProbeCommon {
  /** Discriminator. */
  readonly mode: "HTTP";
  /** Request parameters. */
  readonly http: HttpProbeOptions;
}

/**
 * PostgreSQL TLS modes with libpq's meaning: `disable` plain text; `require` encrypted without verification;
 * `verify-ca` certificate must chain to `caCert`; `verify-full` additionally the certificate must name the server
 * (`serverName`, default the target IP, matched against IP subject alternative names).
 */
export type PostgresTlsMode = "disable" | "require" | "verify-ca" | "verify-full";

/** TLS settings of a PostgreSQL probe. */
export interface PostgresTls {
  /** See {@link PostgresTlsMode}. */
  readonly mode: PostgresTlsMode;
  /** PEM CA bundle for `verify-ca` / `verify-full` (required by those modes). */
  readonly caCert?: string;
  /** PEM client certificate, sent when the server asks for one (needs `clientKey`). */
  readonly clientCert?: string;
  /** PEM private key of `clientCert`. */
  readonly clientKey?: string;
  /** Name the server certificate must carry in `verify-full`; default the target IP. */
  readonly serverName?: string;
}

/** Who the PostgreSQL probe logs in as. */
export interface PostgresCredentials {
  /** Role name. */
  readonly user: string;
  /** Password (used for password, md5 or SCRAM authentication as the server asks). */
  readonly password: string;
  /** TLS settings; default `{ mode: "disable" }`. */
  readonly tls?: PostgresTls;
}

/** PostgreSQL probe parameters. */
export interface PostgresProbeOptions {
  /** Database to connect to. */
  readonly dbName: string;
  /** One SQL statement; success when its first column of the first row is true (see `truthiness` in postgres.ts). */
  readonly query: string;
  /** Login and TLS. */
  readonly credentials: PostgresCredentials;
}

/** Success means the query completed and returned a true value in the first column of the first row. */
export interface PostgresProbeSpec extends ProbeCommon {
  /** Discriminator. */
  readonly mode: "PostgreSQL";
  /** Connection and query. */
  readonly postgreSQL: PostgresProbeOptions;
}

/** Any probe, discriminated by `mode`. */
export type ProbeSpec = TcpProbeSpec | HttpProbeSpec | PostgresProbeSpec;

/** Outcome of one probe run. Probes never throw; every error becomes `ok: false` with a reason. */
export interface ProbeResult {
  /** Whether the probe passed. */
  readonly ok: boolean;
  /** Short human-readable explanation, e.g. `HTTP 503` or `connect: connection refused`. */
  readonly reason: string;
  /** Wall time the probe took, in milliseconds. */
  readonly durationMs: number;
  /**
   * Set (always with `ok: false`) when the probe's own deadline ended it: the target did not finish within
   * `timeoutSeconds` *as this process measured it*, which is weaker evidence than an answer (refused, reset, a
   * status code, a false query) because a stalled prober misses answers that did arrive. `reason` still reads
   * `timeout after Ns (phase)`.
   */
  readonly timedOut?: true;
  /** With `timedOut`: how late (ms) the deadline's timer fired, i.e. how long this process was stalled then. */
  readonly deadlineLateMs?: number;
}

/** Runs one probe; implementations must resolve (never reject) and must honour `signal` promptly. */
export type ProbeRunner = (
  target: ProbeTarget,
  spec: ProbeSpec,
  signal?: AbortSignal,
) => Promise<ProbeResult>;
