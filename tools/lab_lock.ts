/**
 * One lab per machine: the lab's bridge, addresses and namespaces are machine-wide, so a second demo, test,
 * e2e or benchmark run would tear down the first one's network. Every run takes an exclusive lock first.
 *
 * The lock is an advisory `flock` on a file under /run (tmpfs: it never outlives a reboot), so a run that is
 * killed — even with SIGKILL — releases it with its last file descriptor; no stale pid file to reason about.
 * The file's text tells a second run who holds it. `SWH_LAB_WAIT=1` waits for the holder to finish instead of
 * refusing (for scripted runs one after another).
 *
 * @module
 */

/** Where the lock lives; machine-wide on purpose (not under `SWH_CACHE_DIR`, which differs between runs). */
export const LAB_LOCK_FILE = "/run/swh/lab.lock";

/** Who holds the lab. */
export interface LabHolder {
  /** Process id of the holding run. */
  readonly pid: number;
  /** What it runs (`test`, `demo`, `bench`…). */
  readonly what: string;
  /** When it took the lock (ISO 8601). */
  readonly startedAt: string;
}

/** A second run found the lab taken. */
export class LabBusyError extends Error {
  /** The current holder, when its record could be read. */
  readonly holder: LabHolder | undefined;

  /** @param holder the holder's record, if readable */
  constructor(holder: LabHolder | undefined) {
    super(
      holder
        ? `a lab is already running (pid ${holder.pid}, ${holder.what}, started ${holder.startedAt}); ` +
          `wait for it, stop it, or run with SWH_LAB_WAIT=1 to queue behind it`
        : "a lab is already running (holder unknown); run with SWH_LAB_WAIT=1 to queue behind it",
    );
    this.name = "LabBusyError";
    this.holder = holder;
  }
}

/** A held lab lock; `release()` is idempotent (process exit releases it too). */
export interface LabLock {
  /** Gives the lab back. */
  release(): void;
}

function readHolder(path: string): LabHolder | undefined {
  try {
    const holder = JSON.parse(Deno.readTextFileSync(path)) as LabHolder;
    return typeof holder.pid === "number" ? holder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the machine's lab lock for `what`, or throws {@link LabBusyError} naming the holder. With
 * `wait` (default: env `SWH_LAB_WAIT=1`) it blocks until the holder is done instead.
 */
export async function acquireLabLock(
  what: string,
  opts: { wait?: boolean; path?: string; log?: (line: string) => void } = {},
): Promise<LabLock> {
  const path = opts.path ?? LAB_LOCK_FILE;
  const wait = opts.wait ?? Deno.env.get("SWH_LAB_WAIT") === "1";
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  // Opened without truncation: the holder's record must survive until we own the lock.
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  try {
    if (!file.tryLockSync(true)) {
      const holder = readHolder(path);
      if (!wait) throw new LabBusyError(holder);
      opts.log?.(`[lab] waiting for the running lab (${holder ? `pid ${holder.pid}, ${holder.what}` : "?"})`);
      await file.lock(true);
    }
  } catch (error) {
    file.close();
    throw error;
  }
  const record: LabHolder = { pid: Deno.pid, what, startedAt: new Date().toISOString() };
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(JSON.stringify(record) + "\n"));
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        file.truncateSync(0);
      } catch { /* best effort: the lock, not the text, is what counts */ }
      file.close();
    },
  };
}
