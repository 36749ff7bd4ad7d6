/** kubectl against the test cluster: for tests that check the cluster itself, independent of our client. */
import { requireTestKubeconfig, requireTestKubectl } from "./env.ts";

/** Result of a kubectl call. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with the test cluster's kubeconfig; `stdin` is piped in when given. */
export async function kubectl(args: string[], stdin?: string): Promise<KubectlResult> {
  const child = new Deno.Command(requireTestKubectl(), {
    args: ["--kubeconfig", requireTestKubeconfig(), ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Runs kubectl and returns stdout; throws with stderr when it fails. */
export async function kubectlOk(args: string[], stdin?: string): Promise<string> {
  const result = await kubectl(args, stdin);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Reads an object as JSON (`kubectl get -o json`), or undefined when it does not exist. */
export async function kubectlGet<T = Record<string, unknown>>(args: string[]): Promise<T | undefined> {
  const result = await kubectl(["get", ...args, "-o", "json"]);
  if (result.code === 0) return JSON.parse(result.stdout) as T;
  if (result.stderr.includes("NotFound")) return undefined;
  throw new Error(`kubectl get ${args.join(" ")} failed: ${result.stderr.trim()}`);
}
