import { deepStrictEqual } from "node:assert/strict";
import { abandonedClusters, LAB_PROCESSES_FILE, recordedProcesses } from "./leftovers.ts";

Deno.test("abandoned clusters: a lab run's instance whose process is gone; never a named or live one", () => {
  const root = Deno.makeTempDirSync({ prefix: "swh-clusters-" });
  try {
    // PIDs above the kernel's pid_max (4194304 at most) are never alive.
    for (
      const name of [
        "test-99999999",
        "demo-99999998",
        `test-${Deno.pid}`,
        "default",
        "my-cluster",
        "mine-99999996",
      ]
    ) {
      Deno.mkdirSync(`${root}/${name}`);
    }
    Deno.writeTextFileSync(`${root}/bench-99999997`, "a file, not an instance");
    deepStrictEqual(abandonedClusters(root), [`${root}/demo-99999998`, `${root}/test-99999999`]);
    deepStrictEqual(abandonedClusters(`${root}/missing`), []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("recorded lab processes are read back from the lab directory, none when there is no record", () => {
  const dir = Deno.makeTempDirSync({ prefix: "swh-lab-" });
  try {
    deepStrictEqual(recordedProcesses(dir), []);
    const procs = [
      { name: "kube-proxy", pid: 10, binary: "/bin/kube-proxy", log: "/l/1" },
      { name: "agent-node-a", pid: 11, binary: "/bin/deno", log: "/l/2" },
    ];
    Deno.writeTextFileSync(
      `${dir}/${LAB_PROCESSES_FILE}`,
      procs.map((p) => JSON.stringify(p) + "\n").join(""),
    );
    deepStrictEqual(recordedProcesses(dir), procs);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
