/** The `local` e2e backend: the lab (nodes and pods as network namespaces, kube-proxy) plus the operator. */
import { readState } from "../../tools/cluster/mod.ts";
import { Lab, type LabNode } from "../../tools/lab/lab.ts";
import { LabOperator } from "../../tools/lab/operator.ts";
import {
  clientRequest,
  createServerPod,
  DatabaseWorkload,
  SERVER_PORTS,
  sqlFromNode,
} from "../../tools/lab/guide.ts";
import { requireTestClusterDir } from "../support/env.ts";
import type { GuideBackend, GuideDatabase, GuideServers } from "./backend.ts";

/** Two lab nodes, the operator (two controllers, an agent per node), clients run on node `a`. */
export class LocalBackend implements GuideBackend {
  readonly name = "local";
  readonly #databases: DatabaseWorkload[] = [];
  readonly #namespaces: string[] = [];

  private constructor(readonly lab: Lab, readonly nodes: LabNode[], readonly operator: LabOperator) {}

  /** Builds the lab on the test cluster and deploys the operator. */
  static async create(): Promise<LocalBackend> {
    const dir = requireTestClusterDir();
    const state = readState(dir);
    if (!state) throw new Error(`no cluster state in ${dir}`);
    const lab = await Lab.create(state);
    try {
      const nodes = [await lab.addNode("node-a"), await lab.addNode("node-b")];
      const operator = await LabOperator.deploy(lab, nodes);
      return new LocalBackend(lab, nodes, operator);
    } catch (error) {
      await lab.destroy();
      throw error;
    }
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return this.lab.kubectl(args, input);
  }

  async createNamespace(ns: string): Promise<void> {
    // A namespace left by an earlier run would carry its objects into this one: start from nothing.
    await this.lab.kubectl([
      "delete",
      "namespace",
      ns,
      "--ignore-not-found",
      "--wait=true",
      "--timeout=120s",
    ]);
    await this.lab.createNamespace(ns);
    this.#namespaces.push(ns);
  }

  async startDatabase(ns: string): Promise<GuideDatabase> {
    const db = await DatabaseWorkload.create(this.lab, this.nodes, ns);
    this.#databases.push(db);
    return {
      address: (pod) => db.pod(pod).address,
      stopServer: (pod) => db.stopServer(pod),
      promote: (pod) => db.promote(pod),
    };
  }

  async startServers(
    ns: string,
    name: string,
    labels: Record<string, string>,
    kinds: ("http" | "smtp")[],
  ): Promise<GuideServers> {
    const servers = await createServerPod(this.lab, {
      name,
      namespace: ns,
      node: this.nodes[1],
      labels,
      servers: Object.fromEntries(kinds.map((k) => [k, SERVER_PORTS[k]])),
    });
    return {
      name,
      address: servers.pod.address,
      stop: (kind) => servers.stop(kind),
      start: (kind) => Promise.resolve(servers.start(kind)),
    };
  }

  sql(host: string, sql: string): Promise<string> {
    return sqlFromNode(this.nodes[0], host, sql);
  }

  client(args: string[]): Promise<string> {
    return clientRequest(this.lab, this.nodes[0], args);
  }

  async close(): Promise<void> {
    for (const db of this.#databases) await db.destroy();
    for (const ns of this.#namespaces) {
      await this.lab.kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => {});
    }
    await this.operator.stop();
    await this.lab.destroy();
  }
}
