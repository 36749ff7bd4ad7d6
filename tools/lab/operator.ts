/**
 * Runs the operator on the lab the way a cluster would: CRD, namespace and RBAC from deploy/, the
 * controller replicas on the "control plane" (the host namespace) and one agent inside each node's
 * namespace — each program with its own service account's token and the permission flags of
 * deploy/permissions.ts, so RBAC and Deno permissions are exercised for real.
 */
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_FLAGS,
  CONTROLLER_PERMISSIONS,
  withReadablePaths,
} from "../../deploy/permissions.ts";
import { DEFAULT_OPERATOR_NAMESPACE } from "../../crds/conventions.ts";
import { REPORT_CRD_NAME, SWH_CRD_NAME } from "../../crds/crd.ts";
import { run } from "../cluster/exec.ts";
import { freePort } from "../cluster/network.ts";
import { isRunning, type ManagedProcess, stopProcess, waitUntil } from "../cluster/process.ts";
import { LAB_GATEWAY } from "./addresses.ts";
import type { Lab, LabNode } from "./lab.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONTROLLER_MAIN = `${ROOT}controller/main.ts`;
const AGENT_MAIN = `${ROOT}agent/main.ts`;
/** Port of each agent's ops server inside its node namespace (namespaces do not share ports). */
export const AGENT_OPS_PORT = 9090;

/**
 * Whether both CRDs (ServiceWithHealthchecks and the agents' node reports) report `Established=True`, asked
 * through `kubectl`. Polled by callers rather than `kubectl wait`: that fails outright while a fresh CRD has no
 * conditions yet.
 */
export async function swhCrdEstablished(kubectl: (args: string[]) => Promise<string>): Promise<boolean> {
  for (const name of [SWH_CRD_NAME, REPORT_CRD_NAME]) {
    const status = await kubectl([
      "get",
      "crd",
      name,
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ]);
    if (status.trim() !== "True") return false;
  }
  return true;
}

/** The running operator. */
export class LabOperator {
  readonly #controllers: ManagedProcess[] = [];
  readonly #agents = new Map<string, ManagedProcess>();
  #controllerOps: number[] = [];

  private constructor(
    readonly lab: Lab,
    readonly namespace: string,
    readonly controllerKubeconfig: string,
    readonly agentKubeconfig: string,
  ) {}

  /** Installs CRD/namespace/RBAC, writes per-service-account kubeconfigs, starts controllers and agents. */
  static async deploy(lab: Lab, nodes: readonly LabNode[], controllerReplicas = 2): Promise<LabOperator> {
    const namespace = DEFAULT_OPERATOR_NAMESPACE;
    for (const file of ["namespace.yaml", "crd.yaml", "rbac.yaml"]) {
      await lab.kubectl(["apply", "--server-side", "--force-conflicts", "-f", `${ROOT}deploy/${file}`]);
    }
    await waitUntil(
      "the CRD to be established",
      () => swhCrdEstablished((args) => lab.kubectl(args)),
      60_000,
      200,
    );
    // Programs in node namespaces cannot reach the registries: fill Deno's cache from here first.
    await run(Deno.execPath(), ["cache", CONTROLLER_MAIN, AGENT_MAIN]);
    const tokenKubeconfig = (name: string, server: string) =>
      writeTokenKubeconfig({
        kubectl: (args) => lab.kubectl(args),
        namespace,
        name,
        server,
        caCert: lab.cluster.pki.caCert,
        path: `${lab.dir}/${name}.kubeconfig`,
      });
    const operator = new LabOperator(
      lab,
      namespace,
      await tokenKubeconfig("swh-controller", lab.cluster.apiserverUrl),
      await tokenKubeconfig("swh-agent", `https://${LAB_GATEWAY}:${new URL(lab.cluster.apiserverUrl).port}`),
    );
    for (let i = 0; i < controllerReplicas; i++) operator.startController(`swh-controller-${i}`);
    for (const node of nodes) operator.startAgent(node);
    return operator;
  }

  /** Starts one controller replica (identity `podName`) in the host namespace. */
  startController(podName: string): ManagedProcess {
    const opsPort = freePort();
    const proc = this.lab.spawn(undefined, podName, Deno.execPath(), [
      "run",
      "--cached-only",
      ...withReadablePaths(CONTROLLER_PERMISSIONS, [this.controllerKubeconfig]),
      CONTROLLER_MAIN,
    ], {
      KUBECONFIG: this.controllerKubeconfig,
      POD_NAME: podName,
      SWH_NAMESPACE: this.namespace,
      SWH_OPS_PORT: String(opsPort),
    });
    this.#controllers.push(proc);
    this.#controllerOps.push(opsPort);
    return proc;
  }

  /** Starts the agent of `node` inside the node's namespace (replacing a stopped one). */
  startAgent(node: LabNode): ManagedProcess {
    const proc = this.lab.spawn(node.netns, `agent-${node.name}`, Deno.execPath(), [
      "run",
      "--cached-only",
      ...withReadablePaths(AGENT_PERMISSIONS, [this.agentKubeconfig]),
      ...AGENT_RUNTIME_FLAGS,
      AGENT_MAIN,
    ], {
      KUBECONFIG: this.agentKubeconfig,
      NODE_NAME: node.name,
      SWH_NAMESPACE: this.namespace,
      SWH_OPS_PORT: String(AGENT_OPS_PORT),
    });
    this.#agents.set(node.name, proc);
    return proc;
  }

  /** The agent process of `node`. */
  agent(node: string): ManagedProcess {
    const proc = this.#agents.get(node);
    if (!proc) throw new Error(`no agent on node ${node}`);
    return proc;
  }

  /** Controller processes (running or not) in start order. */
  get controllers(): readonly ManagedProcess[] {
    return this.#controllers;
  }

  /** Host-namespace ops ports of the controllers, in start order. */
  get controllerOpsPorts(): readonly number[] {
    return this.#controllerOps;
  }

  /** Names of components that exited although nobody stopped them (for failure messages). */
  crashed(): string[] {
    return [...this.#controllers, ...this.#agents.values()].filter((p) => !isRunning(p)).map((p) => p.name);
  }

  /** Stops agents and controllers (SIGTERM, so they release what they hold). */
  async stop(): Promise<void> {
    for (const proc of [...this.#agents.values(), ...this.#controllers]) await stopProcess(proc, 5_000);
  }
}

/** What {@link writeTokenKubeconfig} needs. */
export interface TokenKubeconfigOptions {
  /** kubectl as the cluster admin (to mint the token); returns stdout. */
  kubectl: (args: string[]) => Promise<string>;
  /** Namespace of the service account. */
  namespace: string;
  /** Name of the service account. */
  name: string;
  /** Apiserver URL as the program will reach it. */
  server: string;
  /** Path of the cluster CA certificate (PEM). */
  caCert: string;
  /** Where to write the kubeconfig. */
  path: string;
}

/**
 * Writes a kubeconfig authenticating as a service account with a real token (valid 24 h), so RBAC and
 * priority-and-fairness treat the program as in a cluster; the CA is embedded, so the file is all it reads.
 */
export async function writeTokenKubeconfig(opts: TokenKubeconfigOptions): Promise<string> {
  const { namespace, name } = opts;
  const token = (await opts.kubectl(["-n", namespace, "create", "token", name, "--duration=24h"])).trim();
  const ca = btoa(Deno.readTextFileSync(opts.caCert));
  Deno.writeTextFileSync(
    opts.path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "lab", cluster: { server: opts.server, "certificate-authority-data": ca } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "lab", user: name, namespace } }],
      "current-context": name,
    }),
  );
  return opts.path;
}
