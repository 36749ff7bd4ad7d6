/**
 * The local backend's nodes and pods: Node objects whose "machine" is a network namespace running
 * kube-proxy, and Pod objects bound to them whose IP lives in a pod namespace where real servers run.
 * There is no kubelet: the lab sets pod status itself, the way a kubelet would report it.
 */
import type { ClusterState } from "../cluster/mod.ts";
import { isRunning, type ManagedProcess, startDetached, stopProcess, waitUntil } from "../cluster/process.ts";
import { run } from "../cluster/exec.ts";
import { LAB_CIDR, LAB_GATEWAY, nodeAddress, podAddress } from "./addresses.ts";
import { kubectl } from "./kubectl.ts";
import { LAB_PROCESSES_FILE } from "./leftovers.ts";
import { createBridge, createHost, removeNetwork } from "./network.ts";

/** A lab node: a Node object, its namespace and its kube-proxy. */
export interface LabNode {
  name: string;
  netns: string;
  address: string;
}

/** A lab pod: a Pod object bound to a node and the namespace that owns its IP. */
export interface LabPod {
  name: string;
  namespace: string;
  node: string;
  netns: string;
  address: string;
}

/** A container port of a lab pod (named ports let SWH `targetPort: <name>` resolve). */
export interface LabPort {
  name?: string;
  containerPort: number;
}

/** Options of {@link Lab.addPod}. */
export interface PodOptions {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
  ports?: LabPort[];
}

/** kube-proxy data-path mode used on lab nodes. */
export type ProxyMode = "iptables" | "nftables";

/** The lab: create with {@link Lab.create}, always {@link Lab.destroy} (it removes every namespace). */
export class Lab {
  readonly #processes: ManagedProcess[] = [];
  readonly #nodes: LabNode[] = [];
  readonly #pods: LabPod[] = [];

  private constructor(
    readonly cluster: ClusterState,
    readonly dir: string,
    /** Kubeconfig that reaches the apiserver from inside lab namespaces (through the bridge gateway). */
    readonly labKubeconfig: string,
    readonly proxyMode: ProxyMode,
  ) {}

  /** Creates the bridge and a kubeconfig for in-namespace clients. One lab per machine at a time. */
  static async create(cluster: ClusterState, proxyMode: ProxyMode = "iptables"): Promise<Lab> {
    const dir = `${cluster.dir}/lab`;
    await Deno.mkdir(`${dir}/logs`, { recursive: true });
    await createBridge();
    const port = new URL(cluster.apiserverUrl).port;
    const kubeconfig = Deno.readTextFileSync(cluster.kubeconfig)
      .replace(cluster.apiserverUrl, `https://${LAB_GATEWAY}:${port}`);
    const labKubeconfig = `${dir}/kubeconfig`;
    Deno.writeTextFileSync(labKubeconfig, kubeconfig);
    return new Lab(cluster, dir, labKubeconfig, proxyMode);
  }

  /** kubectl against the cluster (from the host). */
  kubectl(args: string[], input?: string): Promise<string> {
    return kubectl(this.cluster.binaries.kubectl, this.cluster.kubeconfig, args, input);
  }

  /**
   * Creates namespace `name` and waits for its `default` ServiceAccount: until kube-controller-manager has made
   * it, the ServiceAccount admission plugin refuses the namespace's pods ("serviceaccount default not found").
   */
  async createNamespace(name: string): Promise<void> {
    await this.kubectl(["create", "namespace", name]);
    await this.namespaceReady(name);
  }

  /** Waits until namespace `name` (created elsewhere, e.g. applied) has its `default` ServiceAccount. */
  async namespaceReady(name: string): Promise<void> {
    await this.kubectl(["wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s"]);
  }

  /**
   * Creates node `name`: its namespace, a Ready Node object with its InternalIP (and `labels`, e.g. a
   * topology.kubernetes.io/zone), and kube-proxy inside.
   */
  async addNode(name: string, labels: Record<string, string> = {}): Promise<LabNode> {
    const address = nodeAddress(this.#nodes.length);
    const netns = await createHost({ name: `node-${name}`, address, routeServices: true });
    await this.kubectl(
      ["apply", "--server-side", "--field-manager=swh-lab", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...labels },
        },
        spec: { podCIDR: LAB_CIDR },
      }),
    );
    await this.#patchStatus("node", name, undefined, {
      status: {
        addresses: [{ type: "InternalIP", address }, { type: "Hostname", address: name }],
        conditions: [{
          type: "Ready",
          status: "True",
          reason: "LabNode",
          message: "node of the local lab backend",
          lastHeartbeatTime: new Date().toISOString(),
          lastTransitionTime: new Date().toISOString(),
        }],
      },
    });
    const proxy = this.spawn(netns, "kube-proxy", this.cluster.binaries.kubeProxy, [
      `--kubeconfig=${this.labKubeconfig}`,
      `--hostname-override=${name}`,
      `--proxy-mode=${this.proxyMode}`,
      `--cluster-cidr=${LAB_CIDR}`,
      // No kubelet-style host here: leave the machine's conntrack sysctls alone.
      "--conntrack-max-per-core=0",
      "--conntrack-tcp-timeout-established=0",
      "--conntrack-tcp-timeout-close-wait=0",
      "--healthz-bind-address=127.0.0.1:10256",
      "--metrics-bind-address=127.0.0.1:10249",
    ]);
    await waitUntil(
      `kube-proxy on ${name} to program its rules`,
      async () => {
        if (!isRunning(proxy)) throw new Error(`kube-proxy on ${name} exited; see ${proxy.log}`);
        return await this.#proxyReady(netns);
      },
      60_000,
      250,
    );
    const node = { name, netns, address };
    this.#nodes.push(node);
    return node;
  }

  async #proxyReady(netns: string): Promise<boolean> {
    const check = this.proxyMode === "iptables"
      ? await run("ip", ["netns", "exec", netns, "iptables", "-t", "nat", "-S", "KUBE-SERVICES"], {
        allowFailure: true,
      })
      : await run("ip", ["netns", "exec", netns, "nft", "list", "table", "ip", "kube-proxy"], {
        allowFailure: true,
      });
    return check.code === 0;
  }

  /**
   * Creates pod `name` bound to `node`: a namespace owning a fresh lab address, the Pod object (retried
   * until the namespace's default ServiceAccount exists), and a Running/Ready status with that IP.
   */
  async addPod(options: PodOptions): Promise<LabPod> {
    const address = podAddress(this.#pods.length);
    const netns = await createHost({
      name: `pod-${options.namespace}-${options.name}`.slice(0, 40),
      address,
    });
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: options.name, namespace: options.namespace, labels: options.labels },
      spec: {
        nodeName: options.node,
        automountServiceAccountToken: false,
        containers: [{
          name: "main",
          image: "swh.local/lab-backend:v1",
          ports: (options.ports ?? []).map((p) => ({ ...p, protocol: "TCP" })),
        }],
      },
    };
    await waitUntil(
      `pod ${options.namespace}/${options.name} to be accepted`,
      async () => {
        try {
          await this.kubectl(
            ["apply", "--server-side", "--field-manager=swh-lab", "-f", "-"],
            JSON.stringify(pod),
          );
          return true;
        } catch (error) {
          // A brand-new namespace has no default ServiceAccount for a moment; anything else is fatal.
          if (String(error).includes("serviceaccount")) return false;
          throw error;
        }
      },
      30_000,
      200,
    );
    await this.setPodStatus(options.namespace, options.name, address, true);
    const labPod = { name: options.name, namespace: options.namespace, node: options.node, netns, address };
    this.#pods.push(labPod);
    return labPod;
  }

  /** Sets a lab pod's status as a kubelet would: Running, its IP, Ready as given. */
  async setPodStatus(namespace: string, name: string, address: string, ready: boolean): Promise<void> {
    const now = new Date().toISOString();
    const status = ready ? "True" : "False";
    await this.#patchStatus("pod", name, namespace, {
      status: {
        phase: "Running",
        podIP: address,
        podIPs: [{ ip: address }],
        hostIP: undefined,
        startTime: now,
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: now },
          { type: "Initialized", status: "True", lastTransitionTime: now },
          { type: "ContainersReady", status, lastTransitionTime: now },
          { type: "Ready", status, lastTransitionTime: now },
        ],
      },
    });
  }

  async #patchStatus(
    kind: string,
    name: string,
    namespace: string | undefined,
    patch: unknown,
  ): Promise<void> {
    await this.kubectl([
      "patch",
      kind,
      name,
      ...(namespace ? ["-n", namespace] : []),
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
  }

  /**
   * Starts `binary args…` inside `netns` (or in the host namespace when `netns` is undefined: the "control
   * plane"), logging to the lab's log folder; {@link destroy} stops it.
   */
  spawn(
    netns: string | undefined,
    name: string,
    binary: string,
    args: string[],
    env: Record<string, string> = {},
  ): ManagedProcess {
    const proc = startDetached(name, binary, args, `${this.dir}/logs/${netns ?? "host"}-${name}.log`, {
      prefix: netns ? ["ip", "netns", "exec", netns] : [],
      env,
    });
    this.#processes.push(proc);
    // On disk too: if this run is killed before destroy(), `./deno task lab down` finds and stops it.
    Deno.writeTextFileSync(`${this.dir}/${LAB_PROCESSES_FILE}`, JSON.stringify(proc) + "\n", {
      append: true,
    });
    return proc;
  }

  /** Every process the lab started (running or not). */
  processes(): readonly ManagedProcess[] {
    return this.#processes;
  }

  /** Stops one process started with {@link spawn} (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(proc: ManagedProcess, graceMs = 5_000): Promise<void> {
    await stopProcess(proc, graceMs);
  }

  /** Runs a command to completion inside `netns` and returns its stdout. */
  async exec(netns: string, command: string, args: string[], env?: Record<string, string>): Promise<string> {
    return (await run("ip", ["netns", "exec", netns, command, ...args], { env })).stdout;
  }

  /**
   * Stops every process the lab started, removes its Pod objects (with grace period 0: without a kubelet
   * nothing else would ever finish a graceful deletion) and Node objects, then every lab namespace and
   * the bridge.
   */
  async destroy(): Promise<void> {
    for (const proc of this.#processes.reverse()) await stopProcess(proc, 3_000).catch(() => {});
    for (const pod of this.#pods) {
      await this.kubectl([
        "-n",
        pod.namespace,
        "delete",
        "pod",
        pod.name,
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
        "--wait=false",
      ]).catch(() => {});
    }
    for (const node of this.#nodes) {
      await this.kubectl(["delete", "node", node.name, "--ignore-not-found", "--wait=false"]).catch(() => {});
    }
    await removeNetwork();
  }
}
