/**
 * `./deno task lab down` after a killed run: everything the run left is removed — its control plane's processes
 * and directory, the lab's host and namespace processes, namespaces, bridge, test address interfaces and the
 * lab's PostgreSQL directories. Runs under the test runner's lab lock (the network part is machine-wide).
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { run } from "../../tools/cluster/exec.ts";
import { isRunning, startDetached } from "../../tools/cluster/process.ts";
import { LAB_BRIDGE } from "../../tools/lab/addresses.ts";
import { LAB_PROCESSES_FILE, removeLeftovers } from "../../tools/lab/leftovers.ts";
import { createBridge, createHost } from "../../tools/lab/network.ts";
import { requireTestClusterDir } from "../support/env.ts";

const DEAD_PID = 99999999; // above any pid_max: the run that made the instance is gone

async function linkExists(name: string): Promise<boolean> {
  return (await run("ip", ["link", "show", name], { allowFailure: true })).code === 0;
}

Deno.test("lab down removes what a killed run left: processes, cluster dir, namespaces, bridge, interfaces, PG dirs", async () => {
  requireTestClusterDir(); // only under the runner, which holds the machine's lab lock
  const clustersRoot = await Deno.makeTempDir({ prefix: "swh-clusters-" });
  const tempRoot = await Deno.makeTempDir({ prefix: "swh-tmp-" });
  const dir = `${clustersRoot}/demo-${DEAD_PID}`;
  await Deno.mkdir(`${dir}/lab/logs`, { recursive: true });
  try {
    // The killed run's control plane: one "component", with its state.json and interface.
    const etcd = startDetached("etcd", "/usr/bin/sleep", ["300"], `${dir}/etcd.log`);
    await run("ip", ["link", "add", "swhleftover0", "type", "bridge"]);
    Deno.writeTextFileSync(
      `${dir}/state.json`,
      JSON.stringify({ name: `demo-${DEAD_PID}`, dir, interfaceName: "swhleftover0", components: [etcd] }),
    );
    // Its lab: the bridge, a node namespace with a process inside, a controller on the host.
    await createBridge();
    const netns = await createHost({ name: "node-leftover", address: "10.244.0.200" });
    const controller = startDetached("swh-controller-0", "/usr/bin/sleep", ["300"], `${dir}/lab/logs/c.log`);
    const agent = startDetached("agent", "/usr/bin/sleep", ["300"], `${dir}/lab/logs/a.log`, {
      prefix: ["ip", "netns", "exec", netns],
    });
    Deno.writeTextFileSync(
      `${dir}/lab/${LAB_PROCESSES_FILE}`,
      [controller, agent].map((p) => JSON.stringify(p) + "\n").join(""),
    );
    // An in-process test's address interface, and the lab database's directory (its server died with the lab).
    await run("ip", ["link", "add", "swhaleft0000", "type", "bridge"]);
    await Deno.mkdir(`${tempRoot}/swh-pg-leftover/data`, { recursive: true });
    Deno.writeTextFileSync(
      `${tempRoot}/swh-pg-leftover/data/postgresql.conf`,
      "listen_addresses = '10.244.1.1'\n",
    );
    Deno.writeTextFileSync(`${tempRoot}/swh-pg-leftover/data/postmaster.pid`, `${DEAD_PID}\n`);
    // A server that is not the lab's and might be starting right now: left alone.
    await Deno.mkdir(`${tempRoot}/swh-pg-fresh/data`, { recursive: true });
    Deno.writeTextFileSync(
      `${tempRoot}/swh-pg-fresh/data/postgresql.conf`,
      "listen_addresses = '127.0.0.1'\n",
    );
    await new Promise((r) => setTimeout(r, 300)); // the bash step execs sleep

    const report = await removeLeftovers({ clustersRoot, tempRoot });

    for (const proc of [etcd, controller, agent]) ok(!isRunning(proc), `${proc.name} still runs`);
    deepStrictEqual(report.clusters, [dir]);
    ok(report.processes.some((p) => p.startsWith("swh-controller-0")), JSON.stringify(report));
    ok(report.processes.some((p) => p.startsWith("etcd")), JSON.stringify(report));
    ok(report.namespaces.includes(netns), JSON.stringify(report));
    ok(!(await run("ip", ["netns", "list"])).stdout.includes(netns), "namespace removed");
    for (const link of [LAB_BRIDGE, "swhleftover0", "swhaleft0000"]) ok(!(await linkExists(link)), link);
    ok(!(await Deno.stat(dir).catch(() => undefined)), "cluster dir removed");
    deepStrictEqual(report.directories, [`${tempRoot}/swh-pg-leftover`]);
    ok(await Deno.stat(`${tempRoot}/swh-pg-fresh`), "a fresh foreign PG dir stays");

    deepStrictEqual(await removeLeftovers({ clustersRoot, tempRoot }), {
      clusters: [],
      processes: [],
      namespaces: [],
      interfaces: [],
      directories: [],
    }, "a second run finds nothing");
  } finally {
    await run("ip", ["link", "del", "swhleftover0"], { allowFailure: true });
    await run("ip", ["link", "del", "swhaleft0000"], { allowFailure: true });
    await Deno.remove(clustersRoot, { recursive: true });
    await Deno.remove(tempRoot, { recursive: true });
  }
});
