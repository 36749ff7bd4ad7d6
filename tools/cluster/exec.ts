/** Running external commands for the cluster tooling, with errors that say what failed. */

/** A command exited non-zero; carries its output so the caller can show it. */
export class CommandError extends Error {
  /** Builds the error from the command line, exit code and captured output. */
  constructor(readonly command: string, readonly code: number, readonly output: string) {
    super(`\`${command}\` exited with ${code}: ${output.trim().split("\n").slice(-15).join("\n")}`);
    this.name = "CommandError";
  }
}

/** Options for {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Bytes written to the command's stdin. */
  stdin?: string;
  /** When true, a non-zero exit returns the result instead of throwing. */
  allowFailure?: boolean;
}

/** Result of {@link run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and captures its output; throws {@link CommandError} on failure. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (result.code !== 0 && !options.allowFailure) {
    throw new CommandError([cmd, ...args].join(" "), result.code, result.stderr + result.stdout);
  }
  return result;
}
