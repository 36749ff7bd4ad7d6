/**
 * `./deno task lab down|status`: the lab after the fact. `down` removes whatever an interrupted demo, test or
 * benchmark run left behind (tools/lab/leftovers.ts); `status` says who holds the lab and what is left over.
 *
 * @module
 */
import { cacheRoot } from "../cluster/versions.ts";
import { acquireLabLock, LAB_LOCK_FILE, LabBusyError } from "../lab_lock.ts";
import { abandonedClusters, removeLeftovers } from "./leftovers.ts";
import { labNamespaces } from "./network.ts";

const USAGE = `usage: ./deno task lab <command>
  down     remove what a killed demo/test/bench run left behind: its control plane (processes, state directory,
           interface), the lab's processes, network namespaces, bridge and route, test address interfaces and
           PostgreSQL directories; refuses while a lab runs (SWH_LAB_WAIT=1 waits for it instead)
  status   who holds the lab (${LAB_LOCK_FILE}) and what a killed run left behind`;

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (rest.length > 0 || (command !== "down" && command !== "status")) {
    console.error(USAGE);
    return 2;
  }
  let lock;
  try {
    lock = await acquireLabLock(`lab ${command}`, { log: (line) => console.error(line) });
  } catch (error) {
    if (!(error instanceof LabBusyError)) throw error;
    console.error(`${command === "down" ? "refusing: " : ""}${error.message}`);
    return command === "down" ? 1 : 0;
  }
  try {
    if (command === "status") {
      const clusters = abandonedClusters(`${cacheRoot()}/clusters`);
      const namespaces = await labNamespaces();
      console.log("no lab is running");
      console.log(
        `left behind: ${clusters.length} cluster(s), ${namespaces.length} lab network namespace(s)`,
      );
      for (const item of [...clusters, ...namespaces]) console.log(`  ${item}`);
      if (clusters.length + namespaces.length > 0) console.log("remove them with: ./deno task lab down");
      return 0;
    }
    const report = await removeLeftovers({ log: (line) => console.error(line) });
    const total = report.clusters.length + report.processes.length + report.namespaces.length +
      report.interfaces.length + report.directories.length;
    console.log(
      total === 0 ? "nothing left behind" : `removed ${report.clusters.length} cluster(s), ` +
        `${report.processes.length} process(es), ${report.namespaces.length} namespace(s), ` +
        `${report.interfaces.length} interface(s), ${report.directories.length} directory(ies)`,
    );
    return 0;
  } finally {
    lock.release();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
