import { deepStrictEqual, ok } from "node:assert/strict";
import { demoHints, whereTable } from "./demo.ts";

const HINTS = demoHints({
  kubeconfig: "/c/demo-1/kubeconfig",
  kubectl: "/b/k8s/kubectl",
  pgBin: "/usr/lib/postgresql/15/bin",
  primaryDataDir: "/tmp/swh-pg-a/data",
  replicaDataDir: "/tmp/swh-pg-b/data",
  smtpPid: 4242,
  agentOps: "http://10.244.0.10:9090",
});

Deno.test("the demo's hints work from any directory: absolute paths, kubectl and the plugin put on PATH first", () => {
  const repo = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  deepStrictEqual(HINTS[0], `export KUBECONFIG=/c/demo-1/kubeconfig PATH=/b/k8s:${repo}/cli:$PATH`);
  ok(HINTS.includes("kubectl swh status postgres-write -n my-ns"));
  ok(HINTS.includes("curl -s http://10.244.0.10:9090/metrics | grep '^swh_agent_probes_total'"));
  ok(HINTS.includes("kill 4242"));
  for (const hint of HINTS) {
    ok(!/(^|[\s;&|])deno\s/.test(hint), `no bare \`deno\` (only ./deno works here): ${hint}`);
    ok(!/(^|\s)\.\/(?!deno)/.test(hint), `no path relative to the repository: ${hint}`);
  }
});

Deno.test("the demo lists each process with its ops endpoint and log", () => {
  const text = whereTable([
    { name: "etcd", log: "/c/logs/etcd.log" },
    {
      name: "agent-node-a",
      ops: "http://10.244.0.10:9090",
      log: "/c/lab/logs/swh-node-node-a-agent-node-a.log",
    },
  ]);
  deepStrictEqual(text.split("\n"), [
    "PROCESS       OPS (/metrics /healthz /readyz)  LOG",
    "etcd          -                                /c/logs/etcd.log",
    "agent-node-a  http://10.244.0.10:9090          /c/lab/logs/swh-node-node-a-agent-node-a.log",
  ]);
});

Deno.test("README commands run the checked-in shim (./deno), never a `deno` that may not exist", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const bare = readme.split("\n").filter((line) =>
    /(^|[\s`(|;&])deno (run|task|test|check|fmt|lint)\b/.test(line)
  );
  deepStrictEqual(bare, []);
});

Deno.test("README: no inline command is broken across lines (what is copied is what runs)", async () => {
  const lines = (await Deno.readTextFile(new URL("../README.md", import.meta.url))).split("\n");
  let inBlock = false;
  const broken = lines.filter((line) => {
    // Fences may be indented (a code block inside a list item).
    const fence = line.trimStart().startsWith("```");
    if (fence) inBlock = !inBlock;
    return !inBlock && !fence && (line.match(/`/g) ?? []).length % 2 === 1;
  });
  deepStrictEqual(broken, []);
});
