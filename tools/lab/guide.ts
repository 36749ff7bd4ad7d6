/**
 * The user guide's workloads on the lab, with real servers: a PostgreSQL primary with two streaming
 * replicas (pods `db-0..2`, label `app: postgres`), the "virtual machine" pod serving HTTP on :8080 and SMTP
 * on :2525, and clients that reach Services from inside a node (through kube-proxy).
 */
import type { ManagedProcess } from "../cluster/process.ts";
import { stopProcess } from "../cluster/process.ts";
import { run } from "../cluster/exec.ts";
import { PG_BIN, type PgInstance, startPostgres } from "../../tests/support/postgres.ts";
import { LAB_CIDR } from "./addresses.ts";
import type { Lab, LabNode, LabPod } from "./lab.ts";

/** Namespace the guide's manifests use. */
export const GUIDE_NAMESPACE = "my-ns";

const BACKENDS = new URL("./backends/", import.meta.url).pathname;

/** A lab server program (tools/lab/backends/<name>.ts). */
export type ServerKind = "http" | "smtp";

/** The ports of the guide's VM: HTTP on 8080, SMTP on 2525 (the guide's targetPorts). */
export const SERVER_PORTS: Readonly<Record<ServerKind, number>> = { http: 8080, smtp: 2525 };

/** A lab pod running real servers that a test can stop and start again (the pod itself stays). */
export class ServerPod {
  readonly #running = new Map<ServerKind, ManagedProcess>();

  constructor(
    readonly lab: Lab,
    readonly pod: LabPod,
    readonly ports: Readonly<Record<ServerKind, number>>,
  ) {}

  /** Starts server `kind` on its port (HTTP answers `/healthz`; SMTP greets with the pod name). */
  start(kind: ServerKind): void {
    this.#running.set(
      kind,
      this.lab.spawn(this.pod.netns, `${kind}-${this.pod.name}`, Deno.execPath(), [
        "run",
        "--cached-only",
        "--allow-net",
        "--allow-env=POD_NAME,PORT",
        `${BACKENDS}${kind}.ts`,
      ], { POD_NAME: this.pod.name, PORT: String(this.ports[kind]) }),
    );
  }

  /** Stops server `kind` (SIGTERM). */
  async stop(kind: ServerKind): Promise<void> {
    const proc = this.#running.get(kind);
    if (proc) await stopProcess(proc);
    this.#running.delete(kind);
  }
}

/** Options of {@link createServerPod}. */
export interface ServerPodOptions {
  name: string;
  namespace: string;
  node: LabNode;
  labels: Record<string, string>;
  /** Servers to run and their ports (named container ports `http` / `smtp`). */
  servers: Partial<Record<ServerKind, number>>;
}

/** Creates a pod whose container ports name the servers, and starts them. */
export async function createServerPod(lab: Lab, options: ServerPodOptions): Promise<ServerPod> {
  const entries = Object.entries(options.servers) as [ServerKind, number][];
  const pod = await lab.addPod({
    name: options.name,
    namespace: options.namespace,
    node: options.node.name,
    labels: options.labels,
    ports: entries.map(([name, containerPort]) => ({ name, containerPort })),
  });
  const servers = new ServerPod(lab, pod, { http: 0, smtp: 0, ...options.servers });
  for (const [kind] of entries) servers.start(kind);
  return servers;
}

/** The guide's VM: pod `my-vm` (label `vm: my-vm`) serving HTTP on :8080 and SMTP on :2525. */
export function createVm(lab: Lab, node: LabNode, namespace = GUIDE_NAMESPACE): Promise<ServerPod> {
  return createServerPod(lab, {
    name: "my-vm",
    namespace,
    node,
    labels: { vm: "my-vm" },
    servers: SERVER_PORTS,
  });
}

/** The credentials of the guide (its StatefulSet's POSTGRES_USER / POSTGRES_PASSWORD). */
export const GUIDE_DB_USER = "postgres";
/** Password of {@link GUIDE_DB_USER}. */
export const GUIDE_DB_PASSWORD = "example";

/**
 * kubectl arguments of the guide's `create secret generic cred-secret …` in namespace `ns` (the guide's line
 * has a stray trailing argument, left out), plus any `extra` arguments.
 */
export function guideSecretCommand(ns: string, extra: string[] = []): string[] {
  return [
    "-n",
    ns,
    "create",
    "secret",
    "generic",
    "cred-secret",
    `--from-literal=user=${GUIDE_DB_USER}`,
    `--from-literal=password=${GUIDE_DB_PASSWORD}`,
    ...extra,
  ];
}

/** The guide's database: `db-0` primary, `db-1` and `db-2` streaming replicas, spread over the nodes. */
export class DatabaseWorkload {
  private constructor(
    readonly pods: readonly LabPod[],
    readonly servers: Map<string, PgInstance>,
  ) {}

  /** Creates the three pods and their servers; `db-i` runs on `nodes[i % nodes.length]`. */
  static async create(
    lab: Lab,
    nodes: readonly LabNode[],
    namespace = GUIDE_NAMESPACE,
  ): Promise<DatabaseWorkload> {
    const pods: LabPod[] = [];
    const servers = new Map<string, PgInstance>();
    for (let i = 0; i < 3; i++) {
      pods.push(
        await lab.addPod({
          name: `db-${i}`,
          namespace,
          node: nodes[i % nodes.length].name,
          labels: { app: "postgres" },
          ports: [{ containerPort: 5432 }],
        }),
      );
    }
    const placement = (pod: LabPod) => ({
      netns: pod.netns,
      host: pod.address,
      port: 5432,
      clientCidr: LAB_CIDR,
    });
    const primary = await startPostgres({ placement: placement(pods[0]), password: GUIDE_DB_PASSWORD });
    servers.set("db-0", primary);
    for (const pod of pods.slice(1)) servers.set(pod.name, await primary.startReplica(placement(pod)));
    return new DatabaseWorkload(pods, servers);
  }

  /** The pod named `name`. */
  pod(name: string): LabPod {
    const pod = this.pods.find((p) => p.name === name);
    if (!pod) throw new Error(`no database pod ${name}`);
    return pod;
  }

  /** Stops the server of pod `name` (the pod object stays, as when the database process dies). */
  async stopServer(name: string): Promise<void> {
    await this.servers.get(name)?.stop();
    this.servers.delete(name);
  }

  /** Promotes the replica in pod `name` to primary. */
  async promote(name: string): Promise<void> {
    const server = this.servers.get(name);
    if (!server) throw new Error(`no running server in ${name}`);
    await server.promote();
  }

  /** Stops every server. */
  async destroy(): Promise<void> {
    for (const server of this.servers.values()) await server.stop();
    this.servers.clear();
  }
}

/**
 * Runs one SQL statement with psql from inside `node` against `host:5432` as the guide's user; returns the
 * unaligned output, or throws with psql's message (3 s connect timeout).
 */
export async function sqlFromNode(node: LabNode, host: string, sql: string): Promise<string> {
  const { stdout } = await run("ip", [
    "netns",
    "exec",
    node.netns,
    `${PG_BIN}/psql`,
    `host=${host} port=5432 user=${GUIDE_DB_USER} dbname=postgres connect_timeout=3`,
    "-XAtq",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    sql,
  ], { env: { PGPASSWORD: GUIDE_DB_PASSWORD } });
  return stdout.trim();
}

/** Runs the lab client inside `node`'s namespace: `http URL` → body, `smtp HOST PORT` → banner. */
export async function clientRequest(lab: Lab, node: LabNode, args: string[]): Promise<string> {
  return (await lab.exec(node.netns, Deno.execPath(), [
    "run",
    "--cached-only",
    "--allow-net",
    `${BACKENDS}client.ts`,
    ...args,
  ])).trim();
}
