/**
 * Lab backend for TCP probes at fleet scale: one listener per address (all on one port) that accepts and closes
 * connections, in a process of its own so the process that measures does not also serve ten thousand
 * listeners. Failure injection closes an address's listener: connections to it are then refused, as to a
 * crashed server.
 *
 * Protocol, one command per line on stdin, one answer per command on stdout:
 * - `start <ip>…` listens on each address → `ok <epoch ms> <port>`; the first start on port 0 picks the port.
 * - `stop <ip>…` closes those listeners → `ok <epoch ms> <port>`: the moment the last one was closed.
 * - a failure answers `error <message>`. EOF on stdin closes every listener and exits.
 *
 * Run as `deno run --allow-net tools/lab/backends/tcp.ts [port]`; {@link TcpBackends} spawns and drives it.
 *
 * @module
 */

const SELF = new URL(import.meta.url).pathname;
/** Addresses per command line: keeps lines short whatever the fleet size. */
const ADDRESSES_PER_COMMAND = 500;

/** Reads `stream` as text lines. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered) yield buffered;
}

/** The server side: listeners by address and the command loop. */
async function serve(initialPort: number): Promise<void> {
  let port = initialPort;
  const listeners = new Map<string, Deno.Listener>();
  const listen = (ip: string) => {
    if (listeners.has(ip)) return;
    const listener = Deno.listen({ hostname: ip, port });
    port = (listener.addr as Deno.NetAddr).port;
    listeners.set(ip, listener);
    void (async () => {
      try {
        for await (const conn of listener) conn.close();
      } catch { /* closed by stop */ }
    })();
  };
  const close = (ip: string) => {
    listeners.get(ip)?.close();
    listeners.delete(ip);
  };
  const out = new TextEncoder();
  const answer = (text: string) => Deno.stdout.writeSync(out.encode(`${text}\n`));
  for await (const line of lines(Deno.stdin.readable)) {
    const [verb, ...ips] = line.trim().split(/\s+/);
    try {
      if (verb === "start") ips.forEach(listen);
      else if (verb === "stop") ips.forEach(close);
      else throw new Error(`unknown command ${JSON.stringify(verb)}`);
      answer(`ok ${Date.now()} ${port}`);
    } catch (error) {
      answer(`error ${error instanceof Error ? error.message : String(error)}`.replaceAll("\n", " "));
    }
  }
  for (const ip of [...listeners.keys()]) close(ip);
}

/** The backend process, driven from the benchmark: commands are answered in order. */
export class TcpBackends {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #answers: AsyncGenerator<string>;
  #queue: Promise<unknown> = Promise.resolve();
  #port: number;

  private constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.#port = port;
    this.#writer = child.stdin.getWriter();
    this.#answers = lines(child.stdout);
  }

  /** Spawns the process (listening nowhere yet); `port` 0 lets the first `start` pick one. */
  static spawn(port = 0): TcpBackends {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", SELF, String(port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new TcpBackends(child, port);
  }

  /** Process id (for RSS and CPU). */
  get pid(): number {
    return this.#child.pid;
  }

  /** The port every address listens on (known after the first start). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening on `ips`; resolves with the time (epoch ms) the last one listened. */
  start(ips: readonly string[]): Promise<number> {
    return this.#batched("start", ips);
  }

  /** Stops listening on `ips`; resolves with the time (epoch ms) the last listener was closed. */
  stop(ips: readonly string[]): Promise<number> {
    return this.#batched("stop", ips);
  }

  async #batched(verb: string, ips: readonly string[]): Promise<number> {
    let at = 0;
    for (let i = 0; i < ips.length; i += ADDRESSES_PER_COMMAND) {
      at = await this.#command(`${verb} ${ips.slice(i, i + ADDRESSES_PER_COMMAND).join(" ")}`);
    }
    return at;
  }

  /** Sends one command; commands are serialised so each answer belongs to its command. */
  #command(line: string): Promise<number> {
    const result = this.#queue.then(async () => {
      await this.#writer.write(new TextEncoder().encode(`${line}\n`));
      const { value, done } = await this.#answers.next();
      if (done) throw new Error("the TCP backend process exited");
      const [status, at, port] = value.split(" ");
      if (status !== "ok") throw new Error(`TCP backend: ${value}`);
      this.#port = Number(port);
      return Number(at);
    });
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Closes stdin (the process closes its listeners and exits); kills it if it has not exited in 5 s. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5_000);
    await this.#child.status;
    clearTimeout(timer);
  }
}

if (import.meta.main) await serve(Number(Deno.args[0] ?? 0));
