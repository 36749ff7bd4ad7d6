/**
 * Runs the operator on the lab the way a cluster would: CRD, namespace, RBAC, flow control and admission
 * policies from deploy/, the controller replicas on the "control plane" (the host namespace) and one agent
 * inside each node's namespace — each program with its own service account's token (the agents' bound to a Pod
 * on their node, as a kubelet's would be) and the permission flags of deploy/permissions.ts, so RBAC, the
 * admission policies and Deno permissions are exercised for real.
 */
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_ENV,
  AGENT_RUNTIME_FLAGS,
  CONTROLLER_PERMISSIONS,
  CONTROLLER_RUNTIME_FLAGS,
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
    /** Each node's agent kubeconfig: a token bound to that node's agent Pod (see {@link agentPodToken}). */
    readonly agentKubeconfigs: ReadonlyMap<string, string>,
  ) {}

  /** Installs CRD/namespace/RBAC, writes per-service-account kubeconfigs, starts controllers and agents. */
  static async deploy(lab: Lab, nodes: readonly LabNode[], controllerReplicas = 2): Promise<LabOperator> {
    const namespace = DEFAULT_OPERATOR_NAMESPACE;
    for (const file of ["namespace.yaml", "crd.yaml", "rbac.yaml", "flowcontrol.yaml", "admission.yaml"]) {
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
    const tokenKubeconfig = (serviceAccount: string, name: string, server: string, boundPod?: string) =>
      writeTokenKubeconfig({
        kubectl: (args) => lab.kubectl(args),
        namespace,
        serviceAccount,
        name,
        server,
        caCert: lab.cluster.pki.caCert,
        path: `${lab.dir}/${name}.kubeconfig`,
        boundPod,
      });
    const agentServer = `https://${LAB_GATEWAY}:${new URL(lab.cluster.apiserverUrl).port}`;
    const agentKubeconfigs = new Map<string, string>();
    for (const node of nodes) {
      const pod = await createAgentPod((args, stdin) => lab.kubectl(args, stdin), namespace, node.name);
      agentKubeconfigs.set(node.name, await tokenKubeconfig("swh-agent", pod, agentServer, pod));
    }
    const operator = new LabOperator(
      lab,
      namespace,
      await tokenKubeconfig("swh-controller", "swh-controller", lab.cluster.apiserverUrl),
      agentKubeconfigs,
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
      ...CONTROLLER_RUNTIME_FLAGS,
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
    const kubeconfig = this.agentKubeconfigs.get(node.name);
    if (!kubeconfig) throw new Error(`node ${node.name} was not deployed with the operator`);
    const proc = this.lab.spawn(node.netns, `agent-${node.name}`, Deno.execPath(), [
      "run",
      "--cached-only",
      ...withReadablePaths(AGENT_PERMISSIONS, [kubeconfig]),
      ...AGENT_RUNTIME_FLAGS,
      AGENT_MAIN,
    ], {
      ...AGENT_RUNTIME_ENV,
      KUBECONFIG: kubeconfig,
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

/** kubectl as the cluster admin: arguments and optional stdin; returns stdout. */
export type AdminKubectl = (args: string[], stdin?: string) => Promise<string>;

/**
 * Creates the Pod standing for the agent's DaemonSet pod on `node` and returns its name: a token bound to it
 * carries the node's name, as a kubelet's would, and deploy/admission.yaml confines each agent to its own node by
 * it. The Pod never runs (there is no kubelet); it only carries the binding.
 */
export async function createAgentPod(
  kubectl: AdminKubectl,
  namespace: string,
  node: string,
): Promise<string> {
  const name = `swh-agent-${node}`;
  // What PodSecurity "restricted" (the namespace's level) requires of any pod.
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { "app.kubernetes.io/name": "swh-agent" } },
    spec: {
      nodeName: node,
      serviceAccountName: "swh-agent",
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
      containers: [{
        name: "agent",
        image: "swh.local/service-with-healthchecks:lab",
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      }],
    },
  };
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(pod));
  return name;
}

/** What {@link writeTokenKubeconfig} needs. */
export interface TokenKubeconfigOptions {
  /** kubectl as the cluster admin (to mint the token); returns stdout. */
  kubectl: (args: string[]) => Promise<string>;
  /** Namespace of the service account. */
  namespace: string;
  /** Name of the service account (default: `name`). */
  serviceAccount?: string;
  /** Name of the kubeconfig's user and context. */
  name: string;
  /** Apiserver URL as the program will reach it. */
  server: string;
  /** Path of the cluster CA certificate (PEM). */
  caCert: string;
  /** Where to write the kubeconfig. */
  path: string;
  /** A Pod in `namespace` to bind the token to (see {@link createAgentPod}). */
  boundPod?: string;
}

/**
 * Writes a kubeconfig authenticating as a service account with a real token (valid 24 h), so RBAC,
 * priority-and-fairness and admission treat the program as in a cluster; the CA is embedded, so the file is all
 * it reads.
 */
export async function writeTokenKubeconfig(opts: TokenKubeconfigOptions): Promise<string> {
  const { namespace, name } = opts;
  const bound = opts.boundPod === undefined ? [] : [
    "--bound-object-kind=Pod",
    `--bound-object-name=${opts.boundPod}`,
    `--bound-object-uid=${
      (await opts.kubectl(["-n", namespace, "get", "pod", opts.boundPod, "-o", "jsonpath={.metadata.uid}"]))
        .trim()
    }`,
  ];
  const account = opts.serviceAccount ?? name;
  const token =
    (await opts.kubectl(["-n", namespace, "create", "token", account, "--duration=24h", ...bound])).trim();
  const ca = btoa(Deno.readTextFileSync(opts.caCert));
  Deno.writeTextFileSync(
    opts.path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "lab", cluster: { server: opts.server, "certificate-authority-data": ca } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "lab", user: name } }],
      "current-context": name,
    }),
  );
  return opts.path;
}
