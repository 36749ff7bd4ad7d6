import { assert, assertEquals, assertRejects } from "../tests/kube/assert.ts";
import { acquireLabLock, LabBusyError } from "./lab_lock.ts";

/** A second process that takes the lock at `path`, prints "held", and keeps it until its stdin closes. */
function holder(path: string): { child: Deno.ChildProcess; held: Promise<void> } {
  const script = `
    import { acquireLabLock } from ${JSON.stringify(new URL("./lab_lock.ts", import.meta.url).href)};
    await acquireLabLock("holder-test", { path: ${JSON.stringify(path)}, wait: false });
    console.log("held");
    for await (const _ of Deno.stdin.readable) { /* until closed */ }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const held = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    if (!value?.includes("held")) throw new Error(`holder did not take the lock: ${value}`);
    reader.releaseLock();
  })();
  return { child, held };
}

Deno.test("lab lock: a second run is refused with the holder's pid; SWH_LAB_WAIT queues behind it", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/lab.lock`;
  const h = holder(path);
  try {
    await h.held;
    const error = await assertRejects(() => acquireLabLock("second", { path, wait: false }), LabBusyError);
    assertEquals(error.holder?.pid, h.child.pid);
    assert(error.message.includes(`pid ${h.child.pid}`), error.message);

    let acquired = false;
    const waiting = acquireLabLock("queued", { path, wait: true }).then((lock) => {
      acquired = true;
      return lock;
    });
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(acquired, false, "must wait while the holder runs");
    // The holder dies without releasing: the kernel drops its flock with the process.
    h.child.kill("SIGKILL");
    await h.child.status;
    const lock = await waiting;
    assertEquals(JSON.parse(Deno.readTextFileSync(path)).pid, Deno.pid);
    lock.release();
    // Released: a fresh run gets it at once.
    (await acquireLabLock("third", { path, wait: false })).release();
  } finally {
    try {
      h.child.kill("SIGKILL");
    } catch { /* exited */ }
    await h.child.stdout.cancel().catch(() => {});
    await h.child.status;
    Deno.removeSync(dir, { recursive: true });
  }
});
