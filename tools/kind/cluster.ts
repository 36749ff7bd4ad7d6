/**
 * One kind cluster through podman: create it from our node image, load image archives, export its logs,
 * delete it. Every kind command runs with the podman provider on our podman network.
 *
 * @module
 */
import { stringify } from "yaml";
import { run } from "../cluster/exec.ts";
import { NETWORK } from "./host.ts";

/** A kind cluster and the files that belong to it (kubeconfig, generated configuration). */
export class KindCluster {
  readonly kubeconfig: string;
  /** Environment for kind and kubectl: podman provider, our network, this cluster's kubeconfig. */
  readonly env: Record<string, string>;

  /**
   * @param name cluster name (podman containers are `<name>-control-plane`, `<name>-worker`, …)
   * @param kind path of the kind CLI
   * @param dir a folder of this cluster's files (kubeconfig, configuration)
   * @param kubectlDir a folder whose kubectl matches the cluster's version, put first on PATH
   */
  constructor(readonly name: string, readonly kind: string, readonly dir: string, kubectlDir: string) {
    this.kubeconfig = `${dir}/kubeconfig`;
    this.env = {
      KIND_EXPERIMENTAL_PROVIDER: "podman",
      KIND_EXPERIMENTAL_PODMAN_NETWORK: NETWORK.name,
      KUBECONFIG: this.kubeconfig,
      PATH: `${kubectlDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    };
  }

  #kind(args: string[]): Promise<{ stdout: string }> {
    return run(this.kind, args, { env: this.env });
  }

  /** Whether kind knows a cluster of this name (e.g. one an interrupted run left). */
  async exists(): Promise<boolean> {
    return (await this.#kind(["get", "clusters"])).stdout.split("\n").includes(this.name);
  }

  /**
   * `kind create cluster` with `config` (a kind Cluster object) and `image`; waits for the control plane.
   * A failed creation keeps its nodes (`--retain`) so their logs can be exported; {@link delete} removes them.
   */
  async create(config: Record<string, unknown>, image: string): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/cluster.yaml`, stringify(config));
    await this.#kind([
      "create",
      "cluster",
      "--name",
      this.name,
      "--config",
      `${this.dir}/cluster.yaml`,
      "--image",
      image,
      "--kubeconfig",
      this.kubeconfig,
      "--wait",
      "300s",
      "--retain",
    ]);
  }

  /** `kind load image-archive` of `archives` into every node. */
  async load(archives: string[]): Promise<void> {
    await this.#kind(["load", "image-archive", "--name", this.name, ...archives]);
  }

  /** `kind export logs` (journals, containerd, kubelet, pod logs of every node) into `dir`. */
  async exportLogs(dir: string): Promise<void> {
    await this.#kind(["export", "logs", dir, "--name", this.name]);
  }

  /**
   * Kills the nodes, then `kind delete cluster`. Without the kill, podman stops each node gracefully
   * (systemd shutting down kubelet, containerd and every pod: 20–25 s a node, measured); the cluster is
   * thrown away, so there is nothing to shut down cleanly.
   */
  async delete(): Promise<void> {
    const nodes = (await this.#kind(["get", "nodes", "--name", this.name])).stdout.trim().split("\n")
      .filter((node) => node);
    if (nodes.length > 0) await run("podman", ["kill", ...nodes], { allowFailure: true });
    await this.#kind(["delete", "cluster", "--name", this.name]);
  }
}
