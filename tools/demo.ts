/**
 * `deno task demo`: the main job on an embedded default. Today it brings up the local control plane and
 * keeps it running until Ctrl-C; the controller, agents and the user guide's examples join it as they land.
 */
import { requirePrerequisites } from "./prerequisites.ts";
import { withCluster } from "./with_cluster.ts";

if (import.meta.main) {
  requirePrerequisites();
  await withCluster("demo", async (state) => {
    console.log(`local cluster is up.\n  export KUBECONFIG=${state.kubeconfig}`);
    console.log(`  ${state.binaries.kubectl} get namespaces`);
    console.log("Ctrl-C tears everything down.");
    // Park until a signal: withCluster's SIGINT/SIGTERM handlers tear down and exit.
    await new Promise(() => {});
  });
}
