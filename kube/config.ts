/**
 * Loads connection settings for kube-apiserver from kubeconfig files (merged like kubectl) or in-cluster.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { KubeConfigError } from "./errors.ts";

/** A source of bearer tokens that may rotate (files are re-read). */
export interface TokenSource {
  /** The current token; re-reads its file when the cached value is older than the refresh interval. */
  token(): Promise<string>;
  /** Forgets the cached token so the next `token()` re-reads it (called by the transport on HTTP 401). */
  invalidate(): void;
}

/** Everything the transport needs to reach and authenticate to one apiserver. */
export interface ClusterConnection {
  /** Base URL of the apiserver, e.g. `https://10.0.0.1:6443` (no trailing slash). */
  server: string;
  /** PEM certificates trusted for the server (in addition to the system roots); empty = system roots only. */
  caCerts: string[];
  /** Client certificate and key (PEM; RSA, EC (SEC1) or PKCS#8 keys) for mutual TLS. */
  clientCert?: { cert: string; key: string };
  /** Bearer token source, if the user authenticates with a token. */
  token?: TokenSource;
  /** Default namespace (context namespace, in-cluster namespace file, or `default`). */
  namespace: string;
  /** Human-readable origin for logs and errors, e.g. `kubeconfig /x/config context admin`. */
  source: string;
}

/** A fixed token that never rotates. */
export function staticToken(value: string): TokenSource {
  return { token: () => Promise.resolve(value), invalidate: () => {} };
}

/** Options of {@link fileToken}. */
export interface FileTokenOptions {
  /** Re-read the file when the cached token is older than this (default 60 s, like client-go). */
  refreshMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A token read from a file (projected service-account tokens rotate in place). The file is re-read when
 * the cached value is older than `refreshMs` or after `invalidate()`. Needs `--allow-read=<path>`.
 * Throws {@link KubeConfigError} naming the file when it cannot be read or is empty.
 */
export function fileToken(path: string, opts: FileTokenOptions = {}): TokenSource {
  const refreshMs = opts.refreshMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let cached: { value: string; at: number } | undefined;
  return {
    async token(): Promise<string> {
      if (cached && now() - cached.at < refreshMs) return cached.value;
      const value = (await readText(path, "token")).trim();
      if (!value) throw new KubeConfigError("token file is empty", { file: path });
      cached = { value, at: now() };
      return value;
    },
    invalidate(): void {
      cached = undefined;
    },
  };
}

/** Options of {@link loadKubeconfig}. */
export interface KubeconfigOptions {
  /** Files to merge, first occurrence wins; default: `$KUBECONFIG` split on `:`, else `~/.kube/config`. */
  paths?: string[];
  /** Context to use instead of `current-context`. */
  context?: string;
  /** Environment lookup, for tests (default: `Deno.env.get` when permitted). */
  env?: (name: string) => string | undefined;
}

interface Located<T> {
  name: string;
  value: T;
  file: string;
  index: number;
}

interface MergedConfig {
  clusters: Map<string, Located<Record<string, unknown>>>;
  users: Map<string, Located<Record<string, unknown>>>;
  contexts: Map<string, Located<Record<string, unknown>>>;
  currentContext?: { name: string; file: string };
  files: string[];
}

/**
 * Loads a kubeconfig the way kubectl does: several files (colon-separated in `KUBECONFIG`) are merged, the
 * first file to define a cluster, user, context or `current-context` wins; paths inside a file are relative
 * to that file. Supports `certificate-authority(-data)`, `client-certificate(-data)`/`client-key(-data)`,
 * `token` and `tokenFile` (re-read when it rotates). Unsupported auth (`exec`, `auth-provider`,
 * `username`/`password`) and `insecure-skip-tls-verify` fail with a {@link KubeConfigError} naming file and
 * field rather than silently connecting without credentials.
 *
 * Permissions: `--allow-env=KUBECONFIG,HOME` (queried; an ungranted variable counts as unset), plus
 * `LOG_TOKENS,LOG_STREAM` for YAML (not JSON) kubeconfigs because the `yaml` package reads them, and
 * `--allow-read` on the kubeconfig files and the files they reference.
 */
export async function loadKubeconfig(opts: KubeconfigOptions = {}): Promise<ClusterConnection> {
  const env = opts.env ?? permittedEnv;
  let paths = opts.paths;
  let explicit = true;
  if (!paths) {
    const fromEnv = env("KUBECONFIG");
    if (fromEnv) {
      paths = fromEnv.split(":").filter((p) => p !== "");
    } else {
      const home = env("HOME");
      if (!home) throw new KubeConfigError("no KUBECONFIG and no HOME: cannot locate a kubeconfig");
      paths = [join(home, ".kube", "config")];
      explicit = false;
    }
  }
  const merged = await mergeFiles(paths, explicit);
  return resolveContext(merged, opts.context);
}

async function mergeFiles(paths: string[], explicit: boolean): Promise<MergedConfig> {
  const merged: MergedConfig = { clusters: new Map(), users: new Map(), contexts: new Map(), files: [] };
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      // kubectl skips missing files of a KUBECONFIG list; it fails only when none exists.
      if (err instanceof Deno.errors.NotFound) continue;
      throw fileError(path, undefined, err);
    }
    merged.files.push(path);
    const doc = await parseConfigText(text, path);
    if (doc === null || doc === undefined) continue;
    if (!isRecord(doc)) throw new KubeConfigError("top level is not a mapping", { file: path });
    for (
      const [key, target, inner] of [
        ["clusters", merged.clusters, "cluster"],
        ["users", merged.users, "user"],
        ["contexts", merged.contexts, "context"],
      ] as const
    ) {
      const list = doc[key];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw new KubeConfigError("must be a list", { file: path, field: key });
      list.forEach((entry, index) => {
        if (!isRecord(entry) || typeof entry.name !== "string" || entry.name === "") {
          throw new KubeConfigError("entry needs a string `name`", { file: path, field: `${key}[${index}]` });
        }
        const value = entry[inner] ?? {};
        if (!isRecord(value)) {
          throw new KubeConfigError("must be a mapping", {
            file: path,
            field: `${key}[${entry.name}].${inner}`,
          });
        }
        if (!target.has(entry.name)) target.set(entry.name, { name: entry.name, value, file: path, index });
      });
    }
    const current = doc["current-context"];
    if (typeof current === "string" && current !== "" && !merged.currentContext) {
      merged.currentContext = { name: current, file: path };
    }
  }
  if (merged.files.length === 0) {
    throw new KubeConfigError(
      explicit ? `no kubeconfig file found among: ${paths.join(", ")}` : `no kubeconfig at ${paths[0]}`,
    );
  }
  return merged;
}

async function resolveContext(merged: MergedConfig, explicitContext?: string): Promise<ClusterConnection> {
  const files = merged.files.join(":");
  const contextName = explicitContext ?? merged.currentContext?.name;
  if (!contextName) {
    throw new KubeConfigError("no current-context set and no context given", {
      file: files,
      field: "current-context",
    });
  }
  const ctx = merged.contexts.get(contextName);
  if (!ctx) {
    throw new KubeConfigError(`context "${contextName}" is not defined`, {
      file: explicitContext ? files : merged.currentContext?.file,
      field: explicitContext ? "contexts" : "current-context",
    });
  }
  const ctxField = `contexts[${contextName}].context`;
  const clusterName = ctx.value.cluster;
  if (typeof clusterName !== "string" || !clusterName) {
    throw new KubeConfigError("missing cluster name", { file: ctx.file, field: `${ctxField}.cluster` });
  }
  const cluster = merged.clusters.get(clusterName);
  if (!cluster) {
    throw new KubeConfigError(`cluster "${clusterName}" is not defined`, {
      file: ctx.file,
      field: `${ctxField}.cluster`,
    });
  }
  const cf = (k: string) => `clusters[${clusterName}].cluster.${k}`;
  const server = cluster.value.server;
  if (typeof server !== "string" || !/^https?:\/\/[^/]/.test(server)) {
    throw new KubeConfigError(`server must be an http(s) URL, got ${JSON.stringify(server)}`, {
      file: cluster.file,
      field: cf("server"),
    });
  }
  if (cluster.value["insecure-skip-tls-verify"] === true) {
    throw new KubeConfigError("is not supported (Deno's TLS client always verifies); provide the CA", {
      file: cluster.file,
      field: cf("insecure-skip-tls-verify"),
    });
  }
  if (typeof cluster.value["tls-server-name"] === "string") {
    throw new KubeConfigError("is not supported by Deno's HTTP client", {
      file: cluster.file,
      field: cf("tls-server-name"),
    });
  }
  const ca = await pemFromFields(cluster, "certificate-authority", cf);

  const userName = ctx.value.user;
  let clientCert: ClusterConnection["clientCert"];
  let token: TokenSource | undefined;
  if (typeof userName === "string" && userName !== "") {
    const user = merged.users.get(userName);
    if (!user) {
      throw new KubeConfigError(`user "${userName}" is not defined`, {
        file: ctx.file,
        field: `${ctxField}.user`,
      });
    }
    const uf = (k: string) => `users[${userName}].user.${k}`;
    for (const unsupported of ["exec", "auth-provider", "username", "password"]) {
      if (user.value[unsupported] !== undefined) {
        throw new KubeConfigError("is not supported by this client (use a client certificate or a token)", {
          file: user.file,
          field: uf(unsupported),
        });
      }
    }
    const cert = await pemFromFields(user, "client-certificate", uf);
    const key = await pemFromFields(user, "client-key", uf);
    if (cert && !key) {
      throw new KubeConfigError("client-certificate given without client-key", {
        file: user.file,
        field: uf("client-key"),
      });
    }
    if (key && !cert) {
      throw new KubeConfigError("client-key given without client-certificate", {
        file: user.file,
        field: uf("client-certificate"),
      });
    }
    if (cert && key) {
      if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
        throw new KubeConfigError("is not a PEM certificate", {
          file: user.file,
          field: uf("client-certificate"),
        });
      }
      if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(key)) {
        throw new KubeConfigError("is not a PEM private key (RSA, EC or PKCS#8)", {
          file: user.file,
          field: uf("client-key"),
        });
      }
      clientCert = { cert, key };
    }
    const tokenValue = user.value.token;
    const tokenFile = user.value.tokenFile;
    if (tokenValue !== undefined) {
      if (typeof tokenValue !== "string" || tokenValue === "") {
        throw new KubeConfigError("must be a non-empty string", { file: user.file, field: uf("token") });
      }
      token = staticToken(tokenValue);
    } else if (tokenFile !== undefined) {
      if (typeof tokenFile !== "string" || tokenFile === "") {
        throw new KubeConfigError("must be a file path", { file: user.file, field: uf("tokenFile") });
      }
      const path = relativeTo(user.file, tokenFile);
      // Fail fast on an unreadable file, then keep re-reading it as it rotates.
      await readText(path, uf("tokenFile"), user.file);
      token = fileToken(path);
    }
  }
  const namespace = typeof ctx.value.namespace === "string" && ctx.value.namespace
    ? ctx.value.namespace
    : "default";
  return {
    server: server.replace(/\/+$/, ""),
    caCerts: ca ? [ca] : [],
    clientCert,
    token,
    namespace,
    source: `kubeconfig ${files} context ${contextName}`,
  };
}

/** Reads `<base>` (a file path) or `<base>-data` (base64) of a kubeconfig entry as PEM text. */
async function pemFromFields(
  entry: Located<Record<string, unknown>>,
  base: string,
  field: (k: string) => string,
): Promise<string | undefined> {
  const data = entry.value[`${base}-data`];
  if (data !== undefined) {
    if (typeof data !== "string" || data === "") {
      throw new KubeConfigError("must be non-empty base64", {
        file: entry.file,
        field: field(`${base}-data`),
      });
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
      );
    } catch (err) {
      throw new KubeConfigError(`is not valid base64 PEM: ${(err as Error).message}`, {
        file: entry.file,
        field: field(`${base}-data`),
        cause: err,
      });
    }
    if (!text.includes("-----BEGIN ")) {
      throw new KubeConfigError("does not decode to PEM", { file: entry.file, field: field(`${base}-data`) });
    }
    return text;
  }
  const path = entry.value[base];
  if (path === undefined) return undefined;
  if (typeof path !== "string" || path === "") {
    throw new KubeConfigError("must be a file path", { file: entry.file, field: field(base) });
  }
  const text = await readText(relativeTo(entry.file, path), field(base), entry.file);
  if (!text.includes("-----BEGIN ")) {
    throw new KubeConfigError(`${relativeTo(entry.file, path)} is not PEM`, {
      file: entry.file,
      field: field(base),
    });
  }
  return text;
}

/** Options of {@link loadInCluster}. */
export interface InClusterOptions {
  /** Service-account directory (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  dir?: string;
  /** Environment lookup, for tests (default: `Deno.env.get` when permitted). */
  env?: (name: string) => string | undefined;
  /** How often the projected token is re-read (default 60 s). */
  tokenRefreshMs?: number;
}

/** Default directory of the mounted service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * In-cluster configuration: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the service
 * account's `ca.crt`, its `token` (re-read every `tokenRefreshMs` and after a 401, since projected tokens
 * rotate) and `namespace`. Throws {@link KubeConfigError} naming the variable or file that is missing.
 *
 * Permissions: `--allow-env=KUBERNETES_SERVICE_HOST,KUBERNETES_SERVICE_PORT`, `--allow-read=<dir>`.
 */
export async function loadInCluster(opts: InClusterOptions = {}): Promise<ClusterConnection> {
  const env = opts.env ?? permittedEnv;
  const dir = opts.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  if (!host) {
    throw new KubeConfigError("not set (not running in a pod?)", { field: "KUBERNETES_SERVICE_HOST" });
  }
  if (!port) {
    throw new KubeConfigError("not set (not running in a pod?)", { field: "KUBERNETES_SERVICE_PORT" });
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const ca = await readText(join(dir, "ca.crt"), "ca.crt");
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new KubeConfigError("is not a PEM certificate", { file: join(dir, "ca.crt") });
  }
  const token = fileToken(join(dir, "token"), { refreshMs: opts.tokenRefreshMs });
  await token.token();
  let namespace = "default";
  try {
    namespace = (await Deno.readTextFile(join(dir, "namespace"))).trim() || "default";
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw fileError(join(dir, "namespace"), undefined, err);
  }
  return {
    server: `https://${hostPart}:${port}`,
    caCerts: [ca],
    token,
    namespace,
    source: `in-cluster ${dir}`,
  };
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions extends KubeconfigOptions {
  /** Options used when falling back to in-cluster configuration. */
  inCluster?: InClusterOptions;
}

/**
 * The configuration a program should use: explicit `paths` or `$KUBECONFIG` → kubeconfig; otherwise, when
 * `KUBERNETES_SERVICE_HOST` is set → in-cluster; otherwise `~/.kube/config`. Permissions: those of
 * {@link loadKubeconfig} or {@link loadInCluster}, whichever applies.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Promise<ClusterConnection> {
  const env = opts.env ?? permittedEnv;
  if (!opts.paths && !env("KUBECONFIG") && env("KUBERNETES_SERVICE_HOST")) {
    return loadInCluster({ env, ...opts.inCluster });
  }
  return loadKubeconfig(opts);
}

/**
 * Parses kubeconfig text: JSON directly, otherwise YAML. The `yaml` package reads the environment
 * variables LOG_TOKENS and LOG_STREAM while parsing; without that permission the error says so.
 *
 * The package is imported here, on the first YAML kubeconfig, not with this module: in a cluster the agent and
 * the controller configure themselves from the service account and never parse YAML, and loading the parser
 * costs ~4–9 MiB of resident memory (bench/memory.ts). A literal specifier keeps it in `deno compile` output.
 */
async function parseConfigText(text: string, file: string): Promise<unknown> {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON after all: YAML is a superset, let the YAML parser report the problem
    }
  }
  const { parse: parseYaml } = await import("yaml");
  try {
    return parseYaml(text);
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new KubeConfigError(
        "parsing YAML needs --allow-env=LOG_TOKENS,LOG_STREAM (read by the yaml package)",
        { file, cause: err },
      );
    }
    throw new KubeConfigError(`not valid YAML: ${(err as Error).message}`, { file, cause: err });
  }
}

/** Reads an environment variable only if permission is already granted (never prompts). */
function permittedEnv(name: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  return state === "granted" ? Deno.env.get(name) : undefined;
}

function relativeTo(file: string, path: string): string {
  return isAbsolute(path) ? path : join(dirname(file), path);
}

async function readText(path: string, field: string, file?: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw fileError(file ?? path, field, err, file ? path : undefined);
  }
}

function fileError(
  file: string,
  field: string | undefined,
  err: unknown,
  referenced?: string,
): KubeConfigError {
  const what = referenced ? `${referenced}: ` : "";
  let reason = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.NotFound) reason = "file not found";
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    reason = `cannot read (grant --allow-read=${referenced ?? file}): ${reason}`;
  }
  return new KubeConfigError(`${what}${reason}`, { file, field, cause: err });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
