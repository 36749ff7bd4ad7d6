/**
 * What each module graph the agent loads costs in resident memory: one child process per module set imports the
 * set, exercises it once (so lazily compiled code is compiled), collects garbage and reports its memory.
 *
 * Run as a child: `deno run -A --v8-flags=<agent flags>,--expose-gc bench/memory/modules.ts --set NAME`; the
 * parent is bench/memory.ts. This file imports nothing at load time but proc.ts, so the "bare" row is the floor
 * every other row pays too.
 *
 * @module
 */
import { procMemory, sleep } from "./proc.ts";
import type { ProcMemory } from "./proc.ts";

/** One row of the table: modules to import and what to do with them once. */
export interface ModuleSet {
  /** Row name. */
  readonly name: string;
  /** Specifiers relative to the repository root (`./…`) or import-map names (`hono`). */
  readonly imports: readonly string[];
  /** Uses the modules as the agent would (one probe, one request served…); gets them in `imports` order. */
  readonly exercise?: (modules: Record<string, unknown>[]) => Promise<void>;
}

/** What a child reports. */
export interface ModuleSetReport extends ProcMemory {
  /** Set name. */
  name: string;
  /** V8 heap in use after GC, MiB. */
  heapUsed: number;
  /** V8 heap reserved (all spaces), MiB. */
  heapTotal: number;
  /** Memory outside the V8 heap that V8 knows of (array buffers, Deno resources), MiB. */
  external: number;
}

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => any;
const fn = (module: Record<string, unknown>, name: string) => module[name] as Fn;

const HTTP_RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
);

/** A loopback listener answering every connection with one HTTP response (serves TCP and HTTP probes). */
function localServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      conn.write(HTTP_RESPONSE).catch(() => {}).finally(() => conn.close());
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

/** Sends one raw HTTP/1.1 GET (no fetch(): that would load the client side of HTTP and count it here). */
async function rawGet(port: number, path: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  for await (const _ of conn.readable) { /* until the server closes */ }
}

const COMMON = { timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };

const SAMPLE_SWH = {
  apiVersion: "network.deckhouse.io/v1alpha1",
  kind: "ServiceWithHealthchecks",
  metadata: { name: "web", namespace: "ns", uid: "u1" },
  spec: {
    selector: { app: "web" },
    ports: [{ port: 80, targetPort: 8080 }],
    healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: 8080 } }] },
  },
};

const SAMPLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: c
  context: {cluster: c, user: u, namespace: default}
current-context: c
users:
- name: u
  user: {token: abc}
`;

/**
 * What the agent loads apart from crds/ (whose schema modules all import zod): the kube client, the ops
 * server, logging, metrics and the probe engine. The difference between the two rows that use it is what zod
 * and the schema cost inside the agent, where the Node layer and npm loading are already paid for.
 */
const AGENT_GRAPH_WITHOUT_CRDS = [
  "./ops/server.ts",
  "./ops/metrics.ts",
  "./ops/log.ts",
  "./kube/mod.ts",
  "./kube/events.ts",
  "./kube/instrumented.ts",
  "./probes/run.ts",
  "./probes/scheduler.ts",
];

/** Serves the ops app, GETs `paths` (the first two modules of {@link AGENT_GRAPH_WITHOUT_CRDS}). */
async function serveOnce(
  [server, metrics]: Record<string, unknown>[],
  paths: readonly string[] = ["/metrics"],
): Promise<void> {
  const abort = new AbortController();
  const Registry = metrics.Registry as new () => unknown;
  const port = fn(server, "serveOps")({
    registry: new Registry(),
    port: 0,
    hostname: "127.0.0.1",
    signal: abort.signal,
  });
  for (const path of paths) await rawGet(port, path);
  abort.abort();
}

/** The rows, in the order printed. */
export const MODULE_SETS: readonly ModuleSet[] = [
  { name: "bare deno run", imports: [] },
  {
    name: "node:net + node:tls (Deno's Node layer)",
    imports: ["node:net", "node:tls"],
  },
  {
    name: "probes: scheduler + TCP probe (1 probe)",
    imports: ["./probes/scheduler.ts", "./probes/tcp.ts"],
    async exercise([, tcp]) {
      const server = localServer();
      await fn(tcp, "probeTcp")({ ip: "127.0.0.1", port: server.port }, { mode: "TCP", ...COMMON });
      server.close();
    },
  },
  {
    name: "probes: HTTP probe (node:net/tls, 1 probe)",
    imports: ["./probes/http.ts"],
    async exercise([http]) {
      const server = localServer();
      await fn(http, "probeHttp")({ ip: "127.0.0.1", port: server.port }, {
        mode: "HTTP",
        ...COMMON,
        http: { path: "/", method: "GET", scheme: "HTTP" },
      });
      server.close();
    },
  },
  {
    name: "probes: PostgreSQL probe (npm postgres, 1 refused probe)",
    imports: ["./probes/postgres.ts"],
    async exercise([pg]) {
      await fn(pg, "probePostgres")({ ip: "127.0.0.1", port: 1 }, {
        mode: "PostgreSQL",
        ...COMMON,
        postgreSQL: { dbName: "postgres", query: "SELECT 1", credentials: { user: "u", password: "p" } },
      });
    },
  },
  {
    name: "probes/run.ts (HTTP, PostgreSQL loaded on first use; 1 TCP probe)",
    imports: ["./probes/run.ts"],
    async exercise([run]) {
      const server = localServer();
      await fn(run, "runProbe")({ ip: "127.0.0.1", port: server.port }, { mode: "TCP", ...COMMON });
      server.close();
    },
  },
  { name: "zod alone", imports: ["zod"] },
  {
    name: "zod + crds schema (validate 1 SWH)",
    imports: ["./crds/validate.ts"],
    async exercise([validate]) {
      const result = fn(validate, "validateSwh")(SAMPLE_SWH);
      if (!result.ok) throw new Error(`sample SWH invalid: ${JSON.stringify(result.errors)}`);
      await Promise.resolve();
    },
  },
  { name: "hono alone (import)", imports: ["hono"] },
  {
    name: "ops/server.ts: hono app listening, /metrics served once",
    imports: ["./ops/server.ts", "./ops/metrics.ts"],
    exercise: (modules) => serveOnce(modules, ["/metrics", "/readyz"]),
  },
  {
    name: "Deno.serve alone listening (no hono), 2 requests served",
    imports: [],
    async exercise() {
      const abort = new AbortController();
      const server = Deno.serve(
        { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen: () => {} },
        (req) => new Response(new URL(req.url).pathname),
      );
      await rawGet(server.addr.port, "/metrics");
      await rawGet(server.addr.port, "/readyz");
      abort.abort();
    },
  },
  {
    name: "npm yaml (parse a kubeconfig)",
    imports: ["yaml"],
    async exercise([yaml]) {
      fn(yaml, "parse")(SAMPLE_KUBECONFIG);
      await Promise.resolve();
    },
  },
  {
    name: "kube client core (transport, api, informer; TLS client made)",
    imports: ["./kube/transport.ts", "./kube/api.ts", "./kube/informer.ts", "./kube/workqueue.ts"],
    async exercise([transport]) {
      const HttpTransport = transport.HttpTransport as new (conn: unknown) => { close(): void };
      new HttpTransport({
        server: "https://127.0.0.1:6443",
        caCerts: [],
        namespace: "default",
        source: "bench",
      });
      await Promise.resolve();
    },
  },
  {
    name: "kube/mod.ts (config.ts imports yaml only to parse YAML)",
    imports: ["./kube/mod.ts"],
  },
  {
    name: "agent's graph without crds/ and zod (approx.), ops server listening",
    imports: [...AGENT_GRAPH_WITHOUT_CRDS],
    exercise: serveOnce,
  },
  {
    name: "the same + crds/validate.ts (zod + schema, validate 1 SWH)",
    imports: [...AGENT_GRAPH_WITHOUT_CRDS, "./crds/validate.ts"],
    async exercise(modules) {
      await serveOnce(modules);
      const result = fn(modules.at(-1)!, "validateSwh")(SAMPLE_SWH);
      if (!result.ok) throw new Error(`sample SWH invalid: ${JSON.stringify(result.errors)}`);
    },
  },
  {
    name: "node:crypto createHash (crds/conventions.ts names)",
    imports: ["./crds/conventions.ts"],
    async exercise([conventions]) {
      fn(conventions, "reportName")("ns", "web", "node-a");
      await Promise.resolve();
    },
  },
  {
    name: "agent/mod.ts: the agent's whole graph, not started",
    imports: ["./agent/mod.ts", "./ops/log.ts"],
  },
];

/** Child: imports and exercises one set, then reports memory after three full GCs. */
async function child(name: string): Promise<void> {
  const set = MODULE_SETS.find((s) => s.name === name);
  if (!set) throw new Error(`no module set ${JSON.stringify(name)}`);
  const root = new URL("../../", import.meta.url);
  const modules: Record<string, unknown>[] = [];
  for (const spec of set.imports) {
    modules.push(await import(spec.startsWith("./") ? new URL(spec, root).href : spec));
  }
  await set.exercise?.(modules);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  // Let timers and sockets settle, then collect several times (finalizers free Deno resources in between).
  await sleep(300);
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(100);
  }
  const heap = Deno.memoryUsage();
  const mib = (bytes: number) => bytes / 1048576;
  const report: ModuleSetReport = {
    name,
    ...procMemory(),
    heapUsed: mib(heap.heapUsed),
    heapTotal: mib(heap.heapTotal),
    external: mib(heap.external),
  };
  console.log(JSON.stringify(report));
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--set");
  await child(Deno.args[i + 1]);
  Deno.exit(0);
}
