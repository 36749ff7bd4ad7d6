/**
 * Loopback "pods": N TCP listeners on distinct addresses 127.1.x.y sharing one port, in their own process so
 * their cost is not counted with the prober's. Linux routes all of 127.0.0.0/8 to `lo`, so no address needs to
 * be added, and nothing leaves the machine. Each accepted connection is closed at once (a TCP probe only
 * connects).
 *
 * Child: `deno run -A bench/memory/listeners.ts --serve N`; prints `{"port":P,"ips":[…]}` and serves until its
 * stdin closes.
 *
 * @module
 */
import { lineReader } from "./proc.ts";

/** The i-th pod address: 127.1.0.1 … 127.1.0.250, 127.1.1.1 …, never 127.0.0.1. */
export function podAddress(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

async function serve(count: number): Promise<void> {
  for (let attempt = 0;; attempt++) {
    const listeners: Deno.Listener[] = [];
    try {
      const first = Deno.listen({ hostname: podAddress(0), port: 0 });
      listeners.push(first);
      const port = (first.addr as Deno.NetAddr).port;
      for (let i = 1; i < count; i++) listeners.push(Deno.listen({ hostname: podAddress(i), port }));
      for (const listener of listeners) {
        (async () => {
          for await (const conn of listener) conn.close();
        })().catch(() => {});
      }
      console.log(JSON.stringify({ port, ips: Array.from({ length: count }, (_, i) => podAddress(i)) }));
      break;
    } catch (error) {
      // The port was free on the first address but taken on another: try another port.
      for (const l of listeners) l.close();
      if (attempt >= 10) throw error;
    }
  }
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  Deno.exit(0);
}

/** Starts the listener process; `stop()` ends it. */
export async function startListeners(
  count: number,
): Promise<{ port: number; ips: string[]; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", String(count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = lineReader(child.stdout, "listeners");
  const { port, ips } = JSON.parse(await lines.next());
  return {
    port,
    ips,
    async stop() {
      await child.stdin.close();
      await lines.cancel();
      await child.status;
    },
  };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--serve");
  await serve(Number(Deno.args[i + 1]));
}
