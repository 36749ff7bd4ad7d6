/**
 * The user guide's workloads on the lab, with real servers: the "virtual machine" pod serving HTTP on
 * :8080 and SMTP on :2525, and a client that reaches Services from inside a node (through kube-proxy).
 */
import type { ManagedProcess } from "../cluster/process.ts";
import { stopProcess } from "../cluster/process.ts";
import type { Lab, LabNode, LabPod } from "./lab.ts";

/** Namespace the guide's manifests use. */
export const GUIDE_NAMESPACE = "my-ns";

const BACKENDS = new URL("./backends/", import.meta.url).pathname;

/** The guide's VM: one pod (label `vm: my-vm`) running an HTTP and an SMTP server that can be stopped. */
export class VmWorkload {
  #http?: ManagedProcess;
  #smtp?: ManagedProcess;

  private constructor(readonly lab: Lab, readonly pod: LabPod) {}

  /** Creates pod `my-vm` on `node` and starts both servers. */
  static async create(lab: Lab, node: LabNode, namespace = GUIDE_NAMESPACE): Promise<VmWorkload> {
    const pod = await lab.addPod({
      name: "my-vm",
      namespace,
      node: node.name,
      labels: { vm: "my-vm" },
      ports: [{ name: "http", containerPort: 8080 }, { name: "smtp", containerPort: 2525 }],
    });
    const vm = new VmWorkload(lab, pod);
    vm.startHttp();
    vm.startSmtp();
    return vm;
  }

  #server(script: string, port: number): ManagedProcess {
    return this.lab.spawn(this.pod.netns, `${script}-${this.pod.name}`, Deno.execPath(), [
      "run",
      "--cached-only",
      "--allow-net",
      "--allow-env=POD_NAME,PORT",
      `${BACKENDS}${script}.ts`,
    ], { POD_NAME: this.pod.name, PORT: String(port) });
  }

  /** Starts the HTTP server (GET /healthz → 200) on :8080. */
  startHttp(): void {
    this.#http = this.#server("http", 8080);
  }

  /** Starts the SMTP server on :2525. */
  startSmtp(): void {
    this.#smtp = this.#server("smtp", 2525);
  }

  /** Stops the HTTP server (the pod and the SMTP server stay). */
  async stopHttp(): Promise<void> {
    if (this.#http) await stopProcess(this.#http);
  }

  /** Stops the SMTP server (the pod and the HTTP server stay). */
  async stopSmtp(): Promise<void> {
    if (this.#smtp) await stopProcess(this.#smtp);
  }
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
