/**
 * `./deno task demo`: the main job on an embedded default. Brings up the local control plane and a lab of
 * two nodes, deploys the operator (two controller replicas, an agent per node), runs the user guide's
 * examples with real backends — PostgreSQL db-0 (primary), db-1, db-2 (replicas) behind postgres-read /
 * postgres-write, and the "VM" serving HTTP and SMTP behind web / smtp — and shows a live table of every
 * SWH's endpoints until Ctrl-C, which tears everything down. Under the table: commands to try (each works as
 * printed, from any directory) and where every ops endpoint and log file is.
 */
import { explain, renderExplanation } from "../cli/explain.ts";
import { table } from "../cli/output.ts";
import { readSnapshot } from "../cli/snapshot.ts";
import { DEFAULT_OPERATOR_NAMESPACE } from "../crds/conventions.ts";
import { HttpTransport, loadKubeconfig } from "../kube/mod.ts";
import { PG_BIN, type PgInstance } from "../tests/support/postgres.ts";
import type { ClusterState } from "./cluster/mod.ts";
import { createVm, DatabaseWorkload, GUIDE_NAMESPACE, guideSecretCommand } from "./lab/guide.ts";
import { Lab, type LabNode } from "./lab/lab.ts";
import { AGENT_OPS_PORT, LabOperator } from "./lab/operator.ts";
import { requirePrerequisites } from "./prerequisites.ts";
import { withCluster } from "./with_cluster.ts";

/** The guide's SWHs, in the order the demo shows them. */
export const GUIDE_MANIFESTS = ["postgres-read", "postgres-write", "web", "smtp"];
/** Where the guide's manifests are in the repository (applied verbatim). */
export const MANIFEST_DIR = new URL("../tests/crds/valid/", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** A process the demo started: where its ops endpoint (if any) and its log are. */
export interface DemoProcess {
  readonly name: string;
  /** Base URL of /metrics, /healthz, /readyz; undefined for processes without one. */
  readonly ops?: string;
  readonly log: string;
}

/** What the hints need to know. */
export interface DemoHintInput {
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly pgBin: string;
  readonly primaryDataDir: string;
  readonly replicaDataDir: string;
  readonly smtpPid?: number;
  /** One agent's ops URL, for the metrics example. */
  readonly agentOps: string;
}

/**
 * Commands to try in another terminal. Each works as printed from any directory: absolute paths, the kubectl
 * matching the cluster and the `kubectl-swh` plugin (cli/) put on PATH by the first line.
 */
export function demoHints(input: DemoHintInput): string[] {
  const kubectlDir = input.kubectl.slice(0, input.kubectl.lastIndexOf("/"));
  return [
    `export KUBECONFIG=${input.kubeconfig} PATH=${kubectlDir}:${REPO}/cli:$PATH`,
    `kubectl -n ${GUIDE_NAMESPACE} get swh`,
    `kubectl swh status postgres-write -n ${GUIDE_NAMESPACE}`,
    `kubectl swh explain smtp -n ${GUIDE_NAMESPACE} -o wide`,
    `curl -s ${input.agentOps}/metrics | grep '^swh_agent_probes_total'`,
    "# fail over: stop the primary, promote db-1; postgres-write follows within ~30 s",
    `runuser -u postgres -- ${input.pgBin}/pg_ctl -D ${input.primaryDataDir} stop -m fast`,
    `runuser -u postgres -- ${input.pgBin}/pg_ctl -D ${input.replicaDataDir} promote`,
    "# take SMTP down on the VM: smtp drops it, web keeps it",
    ...(input.smtpPid ? [`kill ${input.smtpPid}`] : []),
  ];
}

/** Where each process's ops endpoint and log file are, as a table. */
export function whereTable(processes: readonly DemoProcess[]): string {
  return table(
    ["PROCESS", "OPS (/metrics /healthz /readyz)", "LOG"],
    processes.map((p) => [p.name, p.ops ?? "-", p.log]),
  );
}

/**
 * The processes of the demo: the control plane's, then the lab's (operator first) with ops URLs, then the
 * PostgreSQL servers (pg_ctl starts them, so the lab does not list them).
 */
export function demoProcesses(
  state: ClusterState,
  lab: Lab,
  operator: LabOperator,
  nodes: readonly LabNode[],
  databases: ReadonlyMap<string, PgInstance>,
): DemoProcess[] {
  const ops = new Map<string, string>();
  operator.controllers.forEach((c, i) =>
    ops.set(c.name, `http://127.0.0.1:${operator.controllerOpsPorts[i]}`)
  );
  for (const node of nodes) ops.set(`agent-${node.name}`, `http://${node.address}:${AGENT_OPS_PORT}`);
  const labProcesses = [...lab.processes()].sort((a, b) => Number(ops.has(b.name)) - Number(ops.has(a.name)));
  return [
    ...state.components.map((c) => ({ name: c.name, log: c.log })),
    ...labProcesses.map((p) => ({
      name: p.name,
      log: p.log,
      ...(ops.has(p.name) ? { ops: ops.get(p.name) } : {}),
    })),
    ...[...databases].map(([pod, server]) => ({ name: `postgres-${pod}`, log: server.log })),
  ];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * The demo on an up cluster: builds the lab, the operator and the guide's workloads, then prints a frame per
 * second with `print` until `signal` aborts, and takes everything down again.
 */
export async function runDemo(
  state: ClusterState,
  signal: AbortSignal,
  print: (frame: string) => void = (frame) => console.log(`\x1b[2J\x1b[H${frame}`),
): Promise<void> {
  const lab = await Lab.create(state);
  let db: DatabaseWorkload | undefined;
  let operator: LabOperator | undefined;
  try {
    console.error("[demo] creating nodes node-a and node-b (network namespaces with kube-proxy)");
    const nodes = [await lab.addNode("node-a"), await lab.addNode("node-b")];
    console.error("[demo] deploying the operator: CRD, RBAC, 2 controllers, an agent per node");
    operator = await LabOperator.deploy(lab, nodes);
    // Applied, not created: on a cluster that is not fresh (tests share one) the namespace may exist already.
    await lab.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: GUIDE_NAMESPACE } }),
    );
    await lab.namespaceReady(GUIDE_NAMESPACE);
    await lab.kubectl(guideSecretCommand(GUIDE_NAMESPACE));
    console.error("[demo] starting PostgreSQL db-0 (primary), db-1 and db-2 (streaming replicas)");
    db = await DatabaseWorkload.create(lab, nodes);
    const vm = await createVm(lab, nodes[1]);
    for (const name of GUIDE_MANIFESTS) {
      await lab.kubectl(["apply", "-n", GUIDE_NAMESPACE, "-f", `${MANIFEST_DIR}guide-${name}.yaml`]);
    }
    const hints = demoHints({
      kubeconfig: state.kubeconfig,
      kubectl: state.binaries.kubectl,
      pgBin: PG_BIN,
      primaryDataDir: db.servers.get("db-0")!.dataDir,
      replicaDataDir: db.servers.get("db-1")!.dataDir,
      smtpPid: lab.processes().find((p) => p.name === `smtp-${vm.pod.name}`)?.pid,
      agentOps: `http://${nodes[0].address}:${AGENT_OPS_PORT}`,
    });
    const where = whereTable(demoProcesses(state, lab, operator, nodes, db.servers));
    const transport = new HttpTransport(await loadKubeconfig({ paths: [state.kubeconfig] }));
    try {
      while (!signal.aborted) {
        const tables: string[] = [];
        const now = Date.now();
        for (const name of GUIDE_MANIFESTS) {
          try {
            const s = await readSnapshot(transport, GUIDE_NAMESPACE, name, {
              operatorNamespace: DEFAULT_OPERATOR_NAMESPACE,
            });
            tables.push(renderExplanation(explain(s.swh, s.pods, s.slices, s.reports ?? []), { now }));
          } catch (error) {
            tables.push(`${GUIDE_NAMESPACE}/${name}: ${error instanceof Error ? error.message : error}`);
          }
        }
        const crashed = operator.crashed();
        print(
          `${new Date(now).toISOString()}  ServiceWithHealthchecks demo — Ctrl-C tears it all down\n\n` +
            tables.join("\n\n") + (crashed.length ? `\n\nNOT RUNNING: ${crashed.join(", ")}` : "") +
            `\n\nTry, in another terminal:\n  ${hints.join("\n  ")}\n\n${where}\n`,
        );
        // The table is for a person: one refresh per second is what can be read.
        await sleep(1000, signal);
      }
    } finally {
      transport.close();
    }
  } finally {
    await db?.destroy();
    await operator?.stop();
    await lab.destroy();
  }
}

if (import.meta.main) {
  requirePrerequisites("lab");
  await withCluster("demo", (state, signal) => runDemo(state, signal));
}
