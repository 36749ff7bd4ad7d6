/**
 * The `spec.healthcheck` section: probe timing and the TCP, HTTP and PostgreSQL probes the agents run
 * against every selected pod.
 *
 * @module
 */
import { z } from "zod";
import { listMap, listSet, withRules } from "./extensions.ts";
import { dnsSubdomain, HTTP_PATH, HTTP_TOKEN } from "./patterns.ts";
import { targetPort } from "./service_spec.ts";

/** Probe kinds, the values of `mode`. */
export const PROBE_MODES = ["TCP", "HTTP", "PostgreSQL"] as const;

/** HTTP methods an HTTP probe may send (no body is sent with any of them). */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/**
 * Defaults applied by the apiserver (and by `validateSwh`) when a field is omitted. Probe timings follow a
 * kubelet probe (period 10 s, timeout 1 s, success 1, failure 3); unlike the anchor implementation there is no
 * initial delay, because a new endpoint is unhealthy until it passes anyway, so a delay only postpones
 * traffic.
 */
export const HEALTHCHECK_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
  httpPath: "/",
  httpMethod: "GET",
  httpScheme: "HTTP",
  postgreSQLDbName: "postgres",
  postgreSQLQuery: "SELECT 1",
} as const;

const MODE_DESCRIPTION =
  'Kind of probe: "TCP", "HTTP" or "PostgreSQL". Exactly the block named after the mode ' +
  "(tcp, http or postgreSQL) must be set, and no other.";

/** Fields every probe has, whatever its mode. */
const probeCommon = {
  timeoutSeconds: z.int().min(1).max(3600).default(HEALTHCHECK_DEFAULTS.timeoutSeconds).describe(
    "Seconds after which one probe attempt counts as failed (1-3600, default 1). It may exceed " +
      "healthcheck.periodSeconds (as for kubelet probes): runs never overlap, a run still going when the next " +
      "is due makes that one skipped.",
  ),
  successThreshold: z.int().min(1).max(100).default(HEALTHCHECK_DEFAULTS.successThreshold).describe(
    "Consecutive successes after which a failing endpoint becomes healthy again (1-100, default 1).",
  ),
  failureThreshold: z.int().min(1).max(100).default(HEALTHCHECK_DEFAULTS.failureThreshold).describe(
    "Consecutive failures after which a healthy endpoint is withdrawn (1-100, default 3).",
  ),
};

/** Where a probe connects: always the pod's own IP, on this port. */
function probeTargetPort(): ReturnType<typeof targetPort> {
  return targetPort().describe(
    "Pod port to probe: a number (1-65535) or the name of a container port of the pod, resolved per pod. " +
      "The probe always connects to the pod IP; it need not be one of spec.ports.",
  );
}

/** `tcp` block. */
export const tcpCheckSchema = z.strictObject({
  targetPort: probeTargetPort(),
}).describe("TCP probe: passes when a TCP connection to targetPort is established within timeoutSeconds.");

/** One extra request header of an HTTP probe. */
const httpHeaderSchema = z.strictObject({
  name: z.string().min(1).max(256).regex(HTTP_TOKEN).describe("Header field name."),
  value: z.string().max(4096).describe("Header field value."),
}).describe("An HTTP header sent with the probe request.");

/** `http` block. */
export const httpCheckSchema = withRules(
  z.strictObject({
    targetPort: probeTargetPort(),
    path: z.string().max(2048).regex(HTTP_PATH).default(HEALTHCHECK_DEFAULTS.httpPath).describe(
      'Request path, optionally with a query string: "/" followed by printable ASCII without spaces ' +
        '(percent-encode anything else; default "/").',
    ),
    method: z.enum(HTTP_METHODS).default(HEALTHCHECK_DEFAULTS.httpMethod).describe(
      "Request method: GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS. No body is sent.",
    ),
    scheme: z.enum(["HTTP", "HTTPS"]).default(HEALTHCHECK_DEFAULTS.httpScheme).describe(
      '"HTTP" (default) or "HTTPS". With HTTPS the server certificate must chain to caCert (or to the ' +
        "system's trusted CAs when caCert is unset) and, when host is set, name it; without host no name is " +
        "checked (pod IPs are ephemeral and rarely in certificates: set host to have the name verified). " +
        "insecureSkipTLSVerify turns verification off.",
    ),
    host: z.string().min(1).max(255).regex(/^[-A-Za-z0-9.:\[\]]+$/).optional().describe(
      "Host header and TLS server name (SNI) of the request, and the name the certificate must carry. Only " +
        "the header changes: the probe still connects to the pod IP. Unset: the Host header is the pod IP and " +
        "port, no SNI is sent and the certificate's name is not checked.",
    ),
    httpHeaders: withRules(listMap(z.array(httpHeaderSchema).max(32), ["name"]), [{
      rule: "self.all(h, h.name.lowerAscii() != 'host')",
      message: "set the Host header with http.host, which also sets the TLS server name",
      reason: "FieldValueForbidden",
      holds: (headers) => headers.every((h) => h.name.toLowerCase() !== "host"),
    }]).optional().describe(
      "Extra request headers (at most 32, unique names). Use host for the Host header.",
    ),
    caCert: z.string().max(65536).regex(/-----BEGIN CERTIFICATE-----/).optional().describe(
      "PEM-encoded CA certificate(s) that must have signed the server certificate; only with scheme HTTPS.",
    ),
    insecureSkipTLSVerify: z.boolean().optional().describe(
      "When true, HTTPS is used without verifying the server certificate; only with scheme HTTPS, and not " +
        "together with caCert.",
    ),
    expectedStatusCodes: listSet(z.array(z.int().min(100).max(599)).min(1).max(32)).optional().describe(
      "Response status codes that mean healthy (100-599, at most 32). When unset, any code from 200 to 399 " +
        "passes, like a kubelet httpGet probe; redirects are not followed.",
    ),
  }),
  [
    {
      rule: "self.scheme == 'HTTPS' || !has(self.caCert)",
      fieldPath: ".caCert",
      reason: "FieldValueForbidden",
      message: "caCert requires scheme HTTPS",
      holds: (h) => h.scheme === "HTTPS" || h.caCert === undefined,
    },
    {
      rule: "self.scheme == 'HTTPS' || !has(self.insecureSkipTLSVerify) || !self.insecureSkipTLSVerify",
      fieldPath: ".insecureSkipTLSVerify",
      reason: "FieldValueForbidden",
      message: "insecureSkipTLSVerify requires scheme HTTPS",
      holds: (h) => h.scheme === "HTTPS" || h.insecureSkipTLSVerify !== true,
    },
    {
      rule: "!has(self.caCert) || !has(self.insecureSkipTLSVerify) || !self.insecureSkipTLSVerify",
      fieldPath: ".insecureSkipTLSVerify",
      reason: "FieldValueForbidden",
      message: "insecureSkipTLSVerify and caCert are mutually exclusive",
      holds: (h) => h.caCert === undefined || h.insecureSkipTLSVerify !== true,
    },
  ],
).describe(
  "HTTP probe: sends one request to the pod IP and passes when the response status is expected (any 2xx or " +
    "3xx by default) within timeoutSeconds. Response bodies are ignored.",
);

/** `postgreSQL` block. */
export const postgreSQLCheckSchema = z.strictObject({
  targetPort: probeTargetPort(),
  dbName: z.string().min(1).max(63).default(HEALTHCHECK_DEFAULTS.postgreSQLDbName).describe(
    'Database to connect to (default "postgres").',
  ),
  authSecretName: dnsSubdomain().describe(
    "Name of a Secret in the same namespace holding the credentials: keys user and password; optionally " +
      "sslmode and TLS material. An Opaque secret as made by kubectl create secret generic works.",
  ),
  query: z.string().min(1).max(4096).default(HEALTHCHECK_DEFAULTS.postgreSQLQuery).describe(
    'SQL query to run (default "SELECT 1"). The probe passes when the query completes and the first column ' +
      "of its first row is true (a boolean true or non-zero number), so SELECT NOT pg_is_in_recovery() " +
      "passes only on a primary.",
  ),
}).describe("PostgreSQL probe: connects to the pod IP, runs query, and checks its first value.");

const BLOCKS = { TCP: "tcp", HTTP: "http", PostgreSQL: "postgreSQL" } as const;

/** The object schema of one mode's probe: the mode, the common fields and that mode's block only. */
function probeOf<M extends keyof typeof BLOCKS, B extends z.ZodType>(mode: M, block: B) {
  const blockName = BLOCKS[mode];
  return z.strictObject(
    {
      mode: z.literal(mode).describe(MODE_DESCRIPTION),
      ...probeCommon,
      [blockName]: block,
    } as { mode: z.ZodLiteral<M> } & typeof probeCommon & { [K in typeof BLOCKS[M]]: B },
    {
      // zod reports a foreign block as an unknown key; say why it is not allowed instead
      error: (issue) =>
        issue.code === "unrecognized_keys" &&
          issue.keys.every((k) => Object.values(BLOCKS).includes(k as never))
          ? `a probe with mode ${mode} takes only the ${blockName} block`
          : undefined,
    },
  );
}

/** One probe; a union discriminated by `mode`, so TypeScript narrows to the block that is present. */
export const probeSchema = z.discriminatedUnion("mode", [
  probeOf("TCP", tcpCheckSchema),
  probeOf("HTTP", httpCheckSchema),
  probeOf("PostgreSQL", postgreSQLCheckSchema),
]).describe(
  "One active check of a pod. An endpoint is healthy while all its probes pass; each probe counts its own " +
    "consecutive successes and failures against its thresholds.",
);

/** `spec.healthcheck`. */
export const healthcheckSchema = withRules(
  z.strictObject({
    initialDelaySeconds: z.int().min(0).max(3600).default(HEALTHCHECK_DEFAULTS.initialDelaySeconds).describe(
      "Seconds to wait after a pod gets its IP before probing it (0-3600, default 0). A new pod receives no " +
        "traffic until its probes pass either way.",
    ),
    periodSeconds: z.int().min(1).max(3600).default(HEALTHCHECK_DEFAULTS.periodSeconds).describe(
      "Seconds between two runs of each probe against each pod (1-3600, default 10).",
    ),
    transitionPeriodSeconds: z.int().min(1).max(3600).optional().describe(
      "Seconds between runs of a probe while its latest result disagrees with the endpoint's verdict: a " +
        "published endpoint whose probe has started failing, or a withdrawn one whose probe has started " +
        "passing. failureThreshold (or successThreshold) results in a row are then confirmed within seconds " +
        "instead of thresholds × periodSeconds, while a stable endpoint is still probed every periodSeconds " +
        "(HAProxy's fastinter). 1 to periodSeconds; unset: periodSeconds throughout.",
    ),
    probes: z.array(probeSchema).min(1).max(16).describe(
      "Probes run against every selected pod (1-16). A pod is published as an endpoint only while all of " +
        "them pass.",
    ),
  }),
  [{
    rule: "!has(self.transitionPeriodSeconds) || self.transitionPeriodSeconds <= self.periodSeconds",
    fieldPath: ".transitionPeriodSeconds",
    message: "transitionPeriodSeconds must not exceed periodSeconds: it is the faster interval",
    holds: (h) => h.transitionPeriodSeconds === undefined || h.transitionPeriodSeconds <= h.periodSeconds,
  }],
).describe(
  "Active health checks that decide which selected pods receive traffic; they replace the readiness of " +
    "the pod for this service only.",
);
