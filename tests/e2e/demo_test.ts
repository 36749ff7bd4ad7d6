/**
 * The demo as a person meets it, on the test cluster: its live table, then the commands it prints, typed into a
 * terminal as printed — `kubectl get swh`, the `kubectl swh` plugin, curl on an agent's /metrics — then every
 * ops endpoint and log file it lists, a real Prometheus (Debian's) scraping those endpoints with the
 * PrometheusRule's rules loaded, and finally its "take SMTP down" hint: the table, `kubectl swh status` and the
 * SWHNoReadyEndpoints rule all tell the outage.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { parse, stringify } from "yaml";
import { readState } from "../../tools/cluster/mod.ts";
import { freePort } from "../../tools/cluster/network.ts";
import { isRunning, startDetached, stopProcess } from "../../tools/cluster/process.ts";
import { GUIDE_MANIFESTS, runDemo } from "../../tools/demo.ts";
import { VERSION } from "../../ops/version.ts";
import { requireTestClusterDir } from "../support/env.ts";
import { terminalSession, transcript } from "../support/terminal.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";

const RULES = new URL("../../deploy/components/monitoring/prometheusrule.yaml", import.meta.url);

/** The section of a demo frame under `heading` up to the next blank line. */
function section(frame: string, heading: string): string[] {
  const start = frame.indexOf(`${heading}\n`);
  if (start < 0) return [];
  const rest = frame.slice(start + heading.length + 1);
  return rest.slice(0, rest.indexOf("\n\n") < 0 ? undefined : rest.indexOf("\n\n")).split("\n");
}

/** The absolute path of command `name` on PATH. */
function which(name: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
  throw new Error(`${name} is not installed: apt-get install -y --no-install-recommends prometheus`);
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

Deno.test({
  name:
    "demo: table, its hints typed as printed, its ops endpoints and logs, Prometheus on them, an SMTP outage",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const state = readState(requireTestClusterDir());
    if (!state) throw new Error("no cluster state");
    const stop = new AbortController();
    let frame = "";
    let failed: unknown;
    const demo = runDemo(state, stop.signal, (f) => frame = f).catch((error) => failed = error);
    const frameShows = (texts: string[], what: string, timeoutMs: number) =>
      waitFor(() => {
        if (failed) throw failed;
        return texts.every((text) => frame.includes(text));
      }, { what, timeoutMs, intervalMs: 250, lastSeen: () => frame });
    const dir = await Deno.makeTempDir({ prefix: "swh-demo-test-" });
    let prometheus: ReturnType<typeof startDetached> | undefined;
    try {
      await t.step("the table shows the guide's four SWHs with their pods in or out", async () => {
        await frameShows(
          [
            "my-ns/postgres-read: 3/3 pods in the slices",
            "my-ns/postgres-write: 1/3 pods in the slices",
            "my-ns/web: 1/1 pods in the slices",
            "my-ns/smtp: 1/1 pods in the slices",
          ],
          "the guide's SWHs to settle",
          240_000,
        );
        // The counts follow the slices; a pod's SINCE comes from the status, summarised a moment later.
        await waitFor(() => {
          if (failed) throw failed;
          return /^db-0 +node-a +10\.244\.1\.1 +yes +\S+ ago +all probes pass$/m.test(frame) &&
            /^db-1 +node-b +\S+ +no .*probe 0 \(PostgreSQL\) QueryFalse/m.test(frame);
        }, {
          what: "db-0 in since a moment, db-1 out for QueryFalse",
          timeoutMs: 30_000,
          intervalMs: 250,
          lastSeen: () => frame,
        });
      });

      const hints = section(frame, "Try, in another terminal:").map((l) => l.trim());
      // The table of processes closes the frame: PROCESS, OPS, LOG.
      const table = frame.slice(frame.indexOf("PROCESS ")).trim().split("\n");
      const rows = table.slice(1).map((line) => line.split(/ {2,}/));
      const session = hints.filter((h) =>
        h.startsWith("export ") || h.startsWith("kubectl ") || h.startsWith("curl ")
      );

      await t.step("the printed commands work as printed, from another directory", async () => {
        // The table follows the slices; the status the commands show is summarised from them a moment later.
        await waitFor(async () => {
          const status = JSON.parse(
            await kubectlOk(["-n", "my-ns", "get", "swh", "postgres-write", "-o", "json"]),
          ).status;
          return status?.readyEndpoints === 1 && status?.totalEndpoints === 3;
        }, { what: "postgres-write's status: 1/3 ready", timeoutMs: 30_000 });
        const turns = await terminalSession(["cd /", ...session]);
        const screen = transcript(turns);
        deepStrictEqual(turns.map((x) => x.exit), turns.map(() => 0), screen);
        const output = (prefix: string) => turns.find((x) => x.command.startsWith(prefix))!.output;
        const swhs = output("kubectl -n my-ns get swh");
        for (const name of GUIDE_MANIFESTS) ok(new RegExp(`^${name} `, "m").test(swhs), screen);
        const status = output("kubectl swh status postgres-write");
        ok(status.includes("  Endpoints:   1/3 ready; 1 of 3 selected pods in the EndpointSlices"), screen);
        ok(/^db-0 +node-a .* yes /m.test(status), screen);
        ok(output("kubectl swh explain smtp").includes("2525/TCP"), screen);
        ok(/^swh_agent_probes_total\{.*\} \d+/m.test(output("curl ")), screen);
      });

      await t.step("every ops endpoint it lists serves metrics, every log file it lists exists", async () => {
        const ops = rows.filter((r) => r[1] !== "-");
        deepStrictEqual(ops.map((r) => r[0]).sort(), [
          "agent-node-a",
          "agent-node-b",
          "swh-controller-0",
          "swh-controller-1",
        ]);
        for (const [name, url] of ops) {
          const text = await (await fetch(`${url}/metrics`)).text();
          ok(
            text.includes(`swh_build_info{deno="${Deno.version.deno}",version="${VERSION}"} 1`),
            `${name}: ${text}`,
          );
          ok(/^process_resident_memory_bytes \d+/m.test(text), name);
        }
        for (const row of rows) ok((await Deno.stat(row[2])).isFile, `log of ${row[0]}: ${row[2]}`);
        for (
          const name of [
            "etcd",
            "kube-apiserver",
            "kube-proxy",
            "agent-node-a",
            "smtp-my-vm",
            "postgres-db-1",
          ]
        ) {
          ok(rows.some((r) => r[0] === name), `${name} is listed`);
        }
      });

      const promPort = freePort();
      const query = async (promql: string): Promise<PromResult[]> => {
        const response = await fetch(
          `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`,
        );
        const body = await response.json();
        if (body.status !== "success") throw new Error(`${promql}: ${JSON.stringify(body)}`);
        return body.data.result;
      };

      await t.step("a real Prometheus scrapes those endpoints and evaluates the PrometheusRule", async () => {
        const target = (url: string) => url.replace(/^http:\/\//, "");
        const job = (prefix: string) =>
          rows.filter((r) => r[0].startsWith(prefix) && r[1] !== "-").map((r) => r[1]);
        await Deno.writeTextFile(
          `${dir}/rules.yaml`,
          stringify({ groups: parse(await Deno.readTextFile(RULES)).spec.groups }),
        );
        await Deno.writeTextFile(
          `${dir}/prometheus.yml`,
          stringify({
            global: { scrape_interval: "2s", evaluation_interval: "2s" },
            rule_files: [`${dir}/rules.yaml`],
            scrape_configs: [
              {
                job_name: "swh-controller",
                static_configs: [{ targets: job("swh-controller").map(target) }],
              },
              { job_name: "swh-agent", static_configs: [{ targets: job("agent-").map(target) }] },
            ],
          }),
        );
        prometheus = startDetached("prometheus", which("prometheus"), [
          `--config.file=${dir}/prometheus.yml`,
          `--storage.tsdb.path=${dir}/data`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ], `${dir}/prometheus.log`);
        await waitFor(async () => {
          if (!isRunning(prometheus!)) {
            throw new Error(`prometheus exited: ${await Deno.readTextFile(`${dir}/prometheus.log`)}`);
          }
          const up = await query("up");
          return up.length === 4 && up.every((r) => r.value[1] === "1");
        }, { what: "Prometheus to scrape 2 controllers and 2 agents", timeoutMs: 60_000, intervalMs: 500 });
        const info = await query("swh_build_info");
        deepStrictEqual(
          info.map((r) => [r.metric.job, r.metric.version]).sort(),
          [["swh-agent", VERSION], ["swh-agent", VERSION], ["swh-controller", VERSION], [
            "swh-controller",
            VERSION,
          ]],
        );
        deepStrictEqual((await query("sum(swh_controller_leader)"))[0].value[1], "1", "one leader");
        ok((await query("process_cpu_seconds_total")).length === 4);
        const rules = await waitFor(async () => {
          const body = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`)).json();
          const all = body.data.groups.flatMap((g: { rules: unknown[] }) => g.rules) as {
            name: string;
            health: string;
            lastError?: string;
          }[];
          return all.length > 0 && all.every((r) => r.health !== "unknown") ? all : undefined;
        }, { what: "every rule evaluated once", timeoutMs: 30_000 });
        deepStrictEqual(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`), []);
        // A first evaluation may have run before every target was scraped (a partial sum reads 0 ready): the
        // alert must clear once all are in.
        const noReady = await waitFor(
          async () => {
            const alerts = await query('ALERTS{alertname="SWHNoReadyEndpoints"}');
            return alerts.length === 0 ? alerts : undefined;
          },
          { what: "no SWHNoReadyEndpoints alert: every guide SWH has an endpoint", timeoutMs: 20_000 },
        );
        deepStrictEqual(noReady, []);
      });

      await t.step(
        "its 'take SMTP down' hint: the table, kubectl swh status and the alert rule tell the outage",
        async () => {
          const kill = hints.find((h) => h.startsWith("kill "));
          ok(kill, hints.join("\n"));
          const [turn] = await terminalSession([kill]);
          deepStrictEqual(turn.exit, 0, turn.output);
          await frameShows(
            ["my-ns/smtp: 0/1 pods in the slices", "my-ns/web: 1/1 pods in the slices"],
            "smtp to drop the VM",
            60_000,
          );
          const [, status] = await terminalSession([session[0], "kubectl swh status smtp -n my-ns"]);
          ok(/^my-vm +node-b .* no .*probe 0 \(TCP\) \w+/m.test(status.output), status.output);
          const alerts = await waitFor(async () => {
            const found = await query('ALERTS{alertname="SWHNoReadyEndpoints"}');
            return found.length > 0 ? found : undefined;
          }, { what: "the SWHNoReadyEndpoints rule to see smtp", timeoutMs: 30_000 });
          deepStrictEqual(alerts.map((a) => [a.metric.namespace, a.metric.name, a.metric.alertstate]), [[
            "my-ns",
            "smtp",
            "pending",
          ]]);
        },
      );
    } finally {
      if (prometheus) await stopProcess(prometheus);
      stop.abort();
      await demo;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    if (failed) throw failed;
  },
});
