/**
 * `deno task bench [name…]`: runs the benchmark scripts in bench/ (all, or those named) one after another
 * against a throwaway local cluster. Each script prints its own numbers; none of them asserts timings.
 */
import { requirePrerequisites } from "./prerequisites.ts";
import { clusterEnv, withCluster } from "./with_cluster.ts";

function benchScripts(names: string[]): string[] {
  const all = [...Deno.readDirSync(new URL("../bench/", import.meta.url))]
    .filter((e) => e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts"))
    .map((e) => e.name.replace(/\.ts$/, ""))
    .sort();
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark(s) ${unknown.join(", ")}; have: ${all.join(", ")}`);
  }
  return names.length > 0 ? names : all;
}

async function main(names: string[]): Promise<number> {
  requirePrerequisites("lab");
  const scripts = benchScripts(names);
  return await withCluster("bench", async (state, signal) => {
    let failed = 0;
    for (const script of scripts) {
      if (signal.aborted) break;
      console.log(`\n=== bench/${script}.ts`);
      const v8Flags = Deno.env.get("SWH_BENCH_V8_FLAGS");
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), `bench/${script}.ts`],
        env: clusterEnv(state),
        stdin: "null",
      }).spawn();
      // A signal to the runner alone (not the terminal's process group) must still let the script clean up.
      const forward = () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already exited */ }
      };
      signal.addEventListener("abort", forward, { once: true });
      const { code } = await child.status;
      signal.removeEventListener("abort", forward);
      if (code !== 0) {
        console.log(`=== bench/${script}.ts FAILED (exit ${code})`);
        failed++;
      }
    }
    return failed === 0 ? 0 : 1;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
