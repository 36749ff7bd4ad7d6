/**
 * `./deno task install-plugin [--dir DIR] [--remove]`: puts the kubectl plugin `kubectl-swh` on PATH as a
 * symbolic link to cli/kubectl-swh, so `kubectl swh …` runs this checkout's mod.ts (a `git pull` updates it).
 *
 * @module
 */
import { parseArgs, UsageError } from "../cli/args.ts";

/** The launcher in the repository. */
export const LAUNCHER = new URL("../cli/kubectl-swh", import.meta.url).pathname;
/** What kubectl looks for on PATH to run `kubectl swh`. */
export const PLUGIN_NAME = "kubectl-swh";

function writable(dir: string): boolean {
  try {
    const probe = `${dir}/.swh-write-test-${Deno.pid}`;
    Deno.writeTextFileSync(probe, "");
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where to install by default: `/usr/local/bin` for root (on every PATH), else `~/.local/bin` (the XDG place,
 * created when missing; a hint is printed when it is not on PATH).
 */
export function defaultDir(uid: number | null, home: string | undefined): string {
  if (uid === 0) return "/usr/local/bin";
  return `${home ?? "."}/.local/bin`;
}

/** Links `dir/kubectl-swh` to the launcher (replacing an older link); returns what a person should read. */
export function install(dir: string, pathVar: string): string[] {
  Deno.mkdirSync(dir, { recursive: true });
  if (!writable(dir)) throw new Error(`cannot write to ${dir}: choose another with --dir DIR`);
  const link = `${dir}/${PLUGIN_NAME}`;
  try {
    const existing = Deno.lstatSync(link);
    if (!existing.isSymlink) throw new Error(`${link} exists and is not a link: remove it first`);
    Deno.removeSync(link);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  Deno.symlinkSync(LAUNCHER, link);
  const lines = [`installed ${link} -> ${LAUNCHER}`];
  if (!pathVar.split(":").includes(dir)) {
    lines.push(`${dir} is not on your PATH; add it:  export PATH="${dir}:$PATH"`);
  }
  lines.push("try:  kubectl swh --help");
  return lines;
}

/** Removes `dir/kubectl-swh` when it is a link to this repository's launcher. */
export function remove(dir: string): string[] {
  const link = `${dir}/${PLUGIN_NAME}`;
  try {
    if (Deno.readLinkSync(link) !== LAUNCHER) return [`${link} is not ours; left alone`];
  } catch {
    return [`nothing to remove at ${link}`];
  }
  Deno.removeSync(link);
  return [`removed ${link}`];
}

if (import.meta.main) {
  try {
    const parsed = parseArgs(Deno.args, [
      { name: "dir", value: true, help: "directory on PATH" },
      { name: "remove", help: "remove the link instead" },
      { name: "help", short: "h", help: "help" },
    ]);
    if (parsed.flags.has("help")) {
      console.log(
        "usage: ./deno task install-plugin [--dir DIR] [--remove]\n" +
          "  links kubectl-swh (cli/kubectl-swh) into DIR (default /usr/local/bin for root, else ~/.local/bin)",
      );
      Deno.exit(0);
    }
    if (parsed.positional.length > 0) throw new UsageError(`unexpected argument ${parsed.positional[0]}`);
    const dir = (parsed.flags.get("dir") as string | undefined) ??
      defaultDir(Deno.uid(), Deno.env.get("HOME"));
    const lines = parsed.flags.has("remove") ? remove(dir) : install(dir, Deno.env.get("PATH") ?? "");
    for (const line of lines) console.log(line);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
