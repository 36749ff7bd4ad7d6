import { deepStrictEqual } from "node:assert/strict";

const PROCESS_TS = new URL("./process.ts", import.meta.url).href;

Deno.test("a detached process keeps none of the descriptors its starter inherited", async () => {
  const log = await Deno.makeTempFile({ prefix: "swh-detached-" });
  // The starter inherits descriptors 7 and 12 from its parent shell, as from a CI runner or a wrapper script.
  const starter = `import { startDetached } from "${PROCESS_TS}";
    const p = startDetached("sleep", "/usr/bin/sleep", ["30"], ${JSON.stringify(log)});
    console.log(p.pid);`;
  const out = await new Deno.Command("bash", {
    args: ["-c", 'exec 7</dev/null 12>>"$LOG"; exec "$DENO" eval "$SCRIPT"'],
    env: { DENO: Deno.execPath(), SCRIPT: starter, LOG: log },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  try {
    // The bash step closes and then execs: wait until sleep runs.
    for (let i = 0; i < 100; i++) {
      if (Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith("/usr/bin/sleep")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Number(e.name)).sort((a, b) => a - b);
    deepStrictEqual(fds, [0, 1, 2]);
    deepStrictEqual(Deno.readLinkSync(`/proc/${pid}/fd/1`), log, "stdout goes to the log");
  } finally {
    Deno.kill(pid, "SIGKILL");
    await Deno.remove(log);
  }
});
