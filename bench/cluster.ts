/** Benchmark: how long the local control plane takes to come up warm, and its memory once up. */
import { down, up } from "../tools/cluster/mod.ts";

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
}

const rounds = 3;
const rows: string[] = [];
for (let i = 0; i < rounds; i++) {
  const name = `bench-up-${Deno.pid}-${i}`;
  const started = performance.now();
  const state = await up({ name, log: () => {} });
  const upSeconds = (performance.now() - started) / 1000;
  const rss = state.components.map((c) => `${c.name}=${rssMiB(c.pid).toFixed(0)}MiB`).join(" ");
  const downStarted = performance.now();
  await down({ name, log: () => {} });
  rows.push(
    `round ${i + 1}: up ${upSeconds.toFixed(2)} s, down ${
      ((performance.now() - downStarted) / 1000).toFixed(2)
    } s, ` +
      `RSS right after up: ${rss}`,
  );
}
console.log(`warm \`cluster up\` (binaries cached), ${rounds} rounds:`);
for (const row of rows) console.log(`  ${row}`);
