/**
 * A scripted terminal session: commands run one after another in one bash, as a person types them, and the
 * transcript reads like their screen — `$ command`, its output (stdout and stderr as they interleave), and its
 * exit status. Tests assert on what a user would see.
 *
 * @module
 */

/** One command's part of the transcript. */
export interface Turn {
  readonly command: string;
  readonly output: string;
  readonly exit: number;
}

/** Markers no program prints, separating the turns in bash's output. */
const BEGIN = "\u241eSWH-TURN-BEGIN";
const END = "\u241eSWH-TURN-END";

/**
 * Runs `commands` in one `bash` (so `export` and `cd` carry over) with `env` added to the environment; returns
 * each command's output and exit status. A failing command does not stop the session (as at a prompt).
 */
export async function terminalSession(
  commands: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Turn[]> {
  const script = commands.map((command, i) =>
    `printf '%s %d\\n' '${BEGIN}' ${i}\n${command}\nprintf '\\n%s %d %d\\n' '${END}' ${i} $?`
  ).join("\n");
  const out = await new Deno.Command("bash", {
    args: ["-c", `exec 2>&1\n${script}`],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return commands.map((command, i) => {
    const start = text.indexOf(`${BEGIN} ${i}\n`);
    const end = text.indexOf(`\n${END} ${i} `, start);
    if (start < 0 || end < 0) throw new Error(`the session stopped before \`${command}\` finished:\n${text}`);
    const exit = Number(text.slice(end + 1 + END.length).trim().split(/\s+/)[1]);
    return { command, output: text.slice(start + `${BEGIN} ${i}\n`.length, end).trimEnd(), exit };
  });
}

/** The transcript as a screen: `$ command`, output, and `[exit N]` when not 0 — for failure messages. */
export function transcript(turns: readonly Turn[]): string {
  return turns.map((t) => `$ ${t.command}\n${t.output}${t.exit ? `\n[exit ${t.exit}]` : ""}`).join("\n");
}
