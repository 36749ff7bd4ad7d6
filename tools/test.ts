/**
 * `deno task test [paths…]`: starts a throwaway local control plane, runs every test (unit, integration
 * and end-to-end) or those under `paths` against it, and tears it down even when tests fail.
 */
import { requirePrerequisites } from "./prerequisites.ts";
import { clusterEnv, withCluster } from "./with_cluster.ts";

async function main(args: string[]): Promise<number> {
  requirePrerequisites("tests");
  const paths = args.length > 0 ? args : ["."];
  return await withCluster("test", async (state) => {
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", ...paths],
      env: clusterEnv(state),
      stdin: "null",
    }).spawn();
    const status = await child.status;
    console.error(`[test] deno test finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return status.code;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
