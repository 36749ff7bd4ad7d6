/**
 * The `kind` e2e backend: the same scenarios on a kind cluster with real kubelets. The guide's database runs
 * PostgreSQL 15, its "VM" the lab's HTTP/SMTP servers under Deno, and the clients run in a pod of their own:
 * all from the e2e workload image tools/kind builds (Debian's PostgreSQL 15 + Deno), loaded into the nodes.
 * The operator is deployed by tools/kind/main.ts (`kubectl apply -k deploy/`) before the suite runs.
 */
import { run } from "../../tools/cluster/exec.ts";
import { waitFor } from "../support/wait.ts";
import type { GuideBackend, GuideDatabase, GuideServers } from "./backend.ts";
import { SERVER_PORTS } from "../../tools/lab/guide.ts";
import { WORKLOAD_IMAGE } from "../../tools/kind/images.ts";

const BACKENDS = new URL("../../tools/lab/backends/", import.meta.url).pathname;
const KIND_SCRIPTS = new URL("./kind/", import.meta.url).pathname;
const CLIENT_NS = "swh-e2e-client";
/** The guide's password for the `postgres` user (what its Secret holds). */
const PASSWORD = "example";

/** kubectl from PATH with the caller's KUBECONFIG (tools/kind/main.ts points both at the kind cluster). */
async function kubectl(args: string[], input?: string): Promise<string> {
  return (await run("kubectl", args, { stdin: input })).stdout;
}

async function applyJson(objects: unknown[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

async function podIP(ns: string, name: string): Promise<string> {
  return await waitFor(async () => {
    const phase =
      (await kubectl(["-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase} {.status.podIP}"]))
        .trim().split(" ");
    return phase[0] === "Running" && phase[1] ? phase[1] : undefined;
  }, { timeoutMs: 120_000, intervalMs: 500, what: `pod ${ns}/${name} to run` });
}

/** A namespace's ConfigMap holding the lab's server scripts and the kind helper scripts. */
async function scriptsConfigMap(ns: string): Promise<void> {
  await kubectl([
    "-n",
    ns,
    "create",
    "configmap",
    "swh-e2e-scripts",
    `--from-file=${BACKENDS}http.ts`,
    `--from-file=${BACKENDS}smtp.ts`,
    `--from-file=${BACKENDS}client.ts`,
    `--from-file=${KIND_SCRIPTS}serve.sh`,
    `--from-file=${KIND_SCRIPTS}postgres.sh`,
  ]);
}

/** Runs `command` in the client pod; returns its trimmed stdout. */
async function inClientPod(command: string[]): Promise<string> {
  return (await kubectl(["-n", CLIENT_NS, "exec", "client", "--", ...command])).trim();
}

const scriptsVolume = { name: "scripts", configMap: { name: "swh-e2e-scripts", defaultMode: 0o755 } };

/** A container of the workload image (never pulled: it exists only where tools/kind loaded it). */
function workload(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { name, image: WORKLOAD_IMAGE, imagePullPolicy: "Never", ...spec };
}

/** Pods on a kind cluster with the operator installed. */
export class KindBackend implements GuideBackend {
  readonly name = "kind";
  readonly #namespaces: string[] = [];

  /** Checks the operator is deployed and starts the client pod. */
  static async create(): Promise<KindBackend> {
    await kubectl(["-n", "swh-system", "rollout", "status", "deployment/swh-controller", "--timeout=300s"]);
    await kubectl(["-n", "swh-system", "rollout", "status", "daemonset/swh-agent", "--timeout=300s"]);
    const backend = new KindBackend();
    await backend.createNamespace(CLIENT_NS);
    await applyJson([{
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "client", namespace: CLIENT_NS },
      spec: {
        containers: [
          workload("client", {
            command: ["sleep", "infinity"],
            volumeMounts: [{ name: "scripts", mountPath: "/backends" }],
          }),
        ],
        volumes: [scriptsVolume],
      },
    }]);
    await podIP(CLIENT_NS, "client");
    return backend;
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return kubectl(args, input);
  }

  async createNamespace(ns: string): Promise<void> {
    await kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
    await kubectl(["create", "namespace", ns]);
    await scriptsConfigMap(ns);
    this.#namespaces.push(ns);
  }

  async startDatabase(ns: string): Promise<GuideDatabase> {
    const pod = (name: string, args: string[]) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, labels: { app: "postgres" } },
      // Never restart: a stopped server must stay stopped (a restarted db-0 would come back as a second primary).
      spec: {
        restartPolicy: "Never",
        containers: [workload("postgres", {
          command: ["/backends/postgres.sh", ...args],
          env: [{ name: "POSTGRES_PASSWORD", value: PASSWORD }],
          ports: [{ containerPort: 5432 }],
          volumeMounts: [{ name: "scripts", mountPath: "/backends" }],
        })],
        volumes: [scriptsVolume],
      },
    });
    await applyJson([pod("db-0", ["primary"])]);
    const addresses = new Map([["db-0", await podIP(ns, "db-0")]]);
    await applyJson([
      pod("db-1", ["replica", addresses.get("db-0")!]),
      pod("db-2", ["replica", addresses.get("db-0")!]),
    ]);
    for (const name of ["db-1", "db-2"]) addresses.set(name, await podIP(ns, name));
    const pgCtl = (name: string, command: "stop" | "promote") =>
      kubectl(["-n", ns, "exec", name, "--", "/backends/postgres.sh", command]);
    return {
      address: (name) => addresses.get(name)!,
      // The server is the container's main process: the exec session may die with it, which is the point.
      stopServer: async (name) => void await pgCtl(name, "stop").catch(() => {}),
      promote: async (name) => void await pgCtl(name, "promote"),
    };
  }

  async startServers(
    ns: string,
    name: string,
    labels: Record<string, string>,
    kinds: ("http" | "smtp")[],
  ): Promise<GuideServers> {
    await applyJson([{
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, labels },
      spec: {
        containers: kinds.map((kind) =>
          workload(kind, {
            command: ["/backends/serve.sh", kind, String(SERVER_PORTS[kind])],
            env: [{ name: "POD_NAME", value: name }],
            ports: [{ name: kind, containerPort: SERVER_PORTS[kind] }],
            volumeMounts: [{ name: "scripts", mountPath: "/backends" }, {
              name: "control",
              mountPath: "/control",
            }],
          })
        ),
        volumes: [scriptsVolume, { name: "control", emptyDir: {} }],
      },
    }]);
    const address = await podIP(ns, name);
    const exec = (kind: string, script: string) =>
      kubectl(["-n", ns, "exec", name, "-c", kind, "--", "sh", "-c", script]);
    return {
      name,
      address,
      stop: async (kind) =>
        void await exec(kind, `touch /control/stop-${kind}; kill "$(cat /control/${kind}.pid)"`),
      start: async (kind) => void await exec(kind, `rm -f /control/stop-${kind}`),
    };
  }

  async sql(host: string, sql: string): Promise<string> {
    return await inClientPod([
      "env",
      `PGPASSWORD=${PASSWORD}`,
      "psql",
      `host=${host} port=5432 user=postgres dbname=postgres connect_timeout=3`,
      "-XAtq",
      "-c",
      sql,
    ]);
  }

  async client(args: string[]): Promise<string> {
    return await inClientPod(["deno", "run", "--allow-net", "/backends/client.ts", ...args]);
  }

  async close(): Promise<void> {
    for (const ns of this.#namespaces) {
      await kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => {});
    }
  }
}
