/** Background processes of the local cluster: start detached with a log file, check, stop, show logs. */

/** A process the cluster tooling started and must stop again. */
export interface ManagedProcess {
  /** Component name, e.g. `kube-apiserver`. */
  name: string;
  pid: number;
  /** Binary path; used to make sure a PID still belongs to us before signalling it. */
  binary: string;
  log: string;
}

/** Extra options of {@link startDetached}. */
export interface StartOptions {
  /** Command words put before the binary, e.g. `["ip", "netns", "exec", "swh-node-a"]`. */
  prefix?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * The shell step between us and a detached program: closes every descriptor above stderr, then execs the
 * program with its output appended to `$SWH_LOG`. Deno opens its own files close-on-exec, but descriptors it
 * inherited (a CI runner's pipe, a lock a wrapper script holds, a terminal) are passed on to children as they
 * are, and a long-lived etcd or kube-proxy holding them keeps a pipe from ending or a lock from being
 * released long after this run. bash, because it closes descriptors above 9 (dash cannot).
 */
export const CLOSE_FDS_AND_EXEC = closingFds('exec "$@" >>"$SWH_LOG" 2>&1');

/** A bash script that closes every descriptor above stderr, then runs `script` (see {@link CLOSE_FDS_AND_EXEC}). */
export function closingFds(script: string): string {
  return `for fd in /proc/$$/fd/*; do n=\${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done; ${script}`;
}

/**
 * Starts `binary args…` in its own session (so it outlives the CLI that started it and ignores the
 * terminal's Ctrl-C), with stdout and stderr appended to `log` and no other descriptor of ours
 * ({@link CLOSE_FDS_AND_EXEC}). `binary` must be an absolute path: it is how {@link isRunning} recognises
 * the process later.
 */
export function startDetached(
  name: string,
  binary: string,
  args: string[],
  log: string,
  options: StartOptions = {},
): ManagedProcess {
  const child = new Deno.Command("bash", {
    args: ["-c", CLOSE_FDS_AND_EXEC, "bash", ...(options.prefix ?? []), binary, ...args],
    env: { ...options.env, SWH_LOG: log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  // Reap it when it ends so a dead process never lingers as a zombie while we still run.
  child.status.catch(() => {});
  return { name, pid: child.pid, binary, log };
}

/** True when `proc` is still running (not a zombie) and its PID still runs our binary. */
export function isRunning(proc: ManagedProcess): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${proc.pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const cmdline = Deno.readTextFileSync(`/proc/${proc.pid}/cmdline`);
    // Right after spawn the PID may still be the `sh` (or `ip netns exec`) wrapper about to exec the
    // binary, and in the middle of execve the command line reads empty for a moment.
    return cmdline === "" || cmdline.split("\0").includes(proc.binary);
  } catch {
    return false;
  }
}

/** Waits until `check` returns true, polling every `intervalMs`, or throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Stops `proc`: SIGTERM, then SIGKILL after `graceMs`; a process that is already gone is fine. */
export async function stopProcess(proc: ManagedProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(proc)) return;
  try {
    Deno.kill(proc.pid, "SIGTERM");
    await waitUntil(`${proc.name} to exit`, () => !isRunning(proc), graceMs);
  } catch {
    if (isRunning(proc)) Deno.kill(proc.pid, "SIGKILL");
    await waitUntil(`${proc.name} to die`, () => !isRunning(proc), 5_000);
  }
}

/** The last `lines` lines of a log file, or a note when it cannot be read. */
export function tailLog(path: string, lines = 30): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    return `(no log at ${path}: ${error instanceof Error ? error.message : error})`;
  }
}
