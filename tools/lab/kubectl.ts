/** kubectl for the lab's own objects (Nodes, Pods and their status): tooling that needs no product code. */
import { run } from "../cluster/exec.ts";

/** Runs kubectl against `kubeconfig`; `input` is piped to stdin. Throws with kubectl's message on failure. */
export async function kubectl(
  kubectlPath: string,
  kubeconfig: string,
  args: string[],
  input?: string,
): Promise<string> {
  return (await run(kubectlPath, ["--kubeconfig", kubeconfig, ...args], { stdin: input })).stdout;
}
