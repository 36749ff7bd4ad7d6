/**
 * `deno task demo`: the main job on an embedded default. Brings up the local control plane and a lab of
 * two nodes, deploys the operator (two controller replicas, an agent per node), runs the user guide's
 * examples with real backends — PostgreSQL db-0 (primary), db-1, db-2 (replicas) behind postgres-read /
 * postgres-write, and the "VM" serving HTTP and SMTP behind web / smtp — and shows a live table of every
 * SWH's endpoints until Ctrl-C, which tears everything down.
 */
import { explain, renderExplanation } from "../cli/explain.ts";
import { DEFAULT_OPERATOR_NAMESPACE, SERVICE_NAME_LABEL } from "../crds/conventions.ts";
import { ReportResource, SwhResource } from "../crds/resource.ts";
import { Api, EndpointSlices, HttpTransport, loadKubeconfig, Pods } from "../kube/mod.ts";
import { PG_BIN } from "../tests/support/postgres.ts";
import { createVm, DatabaseWorkload, GUIDE_NAMESPACE, guideSecretCommand } from "./lab/guide.ts";
import { Lab } from "./lab/lab.ts";
import { LabOperator } from "./lab/operator.ts";
import { requirePrerequisites } from "./prerequisites.ts";
import { withCluster } from "./with_cluster.ts";

const GUIDE_MANIFESTS = ["postgres-read", "postgres-write", "web", "smtp"];
const MANIFEST_DIR = new URL("../tests/crds/valid/", import.meta.url).pathname;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

if (import.meta.main) {
  requirePrerequisites();
  await withCluster("demo", async (state, signal) => {
    const lab = await Lab.create(state);
    let db: DatabaseWorkload | undefined;
    let operator: LabOperator | undefined;
    try {
      console.error("[demo] creating nodes node-a and node-b (network namespaces with kube-proxy)");
      const nodes = [await lab.addNode("node-a"), await lab.addNode("node-b")];
      console.error("[demo] deploying the operator: CRD, RBAC, 2 controllers, an agent per node");
      operator = await LabOperator.deploy(lab, nodes);
      await lab.kubectl(["create", "namespace", GUIDE_NAMESPACE]);
      await lab.kubectl(guideSecretCommand(GUIDE_NAMESPACE));
      console.error("[demo] starting PostgreSQL db-0 (primary), db-1 and db-2 (streaming replicas)");
      db = await DatabaseWorkload.create(lab, nodes);
      const vm = await createVm(lab, nodes[1]);
      for (const name of GUIDE_MANIFESTS) {
        await lab.kubectl(["apply", "-n", GUIDE_NAMESPACE, "-f", `${MANIFEST_DIR}guide-${name}.yaml`]);
      }
      const primary = db.servers.get("db-0")!;
      const replica = db.servers.get("db-1")!;
      const smtpPid = lab.processes().find((p) => p.name === `smtp-${vm.pod.name}`)?.pid;
      const tryThis = [
        `export KUBECONFIG=${state.kubeconfig}; alias kubectl=${state.binaries.kubectl}`,
        `kubectl -n ${GUIDE_NAMESPACE} get swh`,
        `deno run -A mod.ts explain ${GUIDE_NAMESPACE}/postgres-write`,
        "# fail over: stop the primary, promote db-1; postgres-write follows within ~30 s",
        `runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${primary.dataDir} stop -m fast`,
        `runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${replica.dataDir} promote`,
        `# take SMTP down on the VM: smtp drops it, web keeps it`,
        `kill ${smtpPid}`,
      ];
      const transport = new HttpTransport(await loadKubeconfig({ paths: [state.kubeconfig] }));
      try {
        while (!signal.aborted) {
          const tables: string[] = [];
          const reports = await Api.namespaced(transport, ReportResource, DEFAULT_OPERATOR_NAMESPACE).list()
            .then((l) => l.items, () => []);
          for (const name of GUIDE_MANIFESTS) {
            try {
              const swh = await Api.namespaced(transport, SwhResource, GUIDE_NAMESPACE).get(name);
              const pods = (await Api.namespaced(transport, Pods, GUIDE_NAMESPACE).list()).items;
              const slices = (await Api.namespaced(transport, EndpointSlices, GUIDE_NAMESPACE).list({
                labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
              })).items;
              const mine = reports.filter((r) => r.swh.namespace === GUIDE_NAMESPACE && r.swh.name === name);
              tables.push(renderExplanation(explain(swh, pods, slices, mine)));
            } catch (error) {
              tables.push(`${GUIDE_NAMESPACE}/${name}: ${error instanceof Error ? error.message : error}`);
            }
          }
          const crashed = operator.crashed();
          console.log(
            `\x1b[2J\x1b[H${
              new Date().toISOString()
            }  ServiceWithHealthchecks demo — Ctrl-C tears it all down\n\n` +
              tables.join("\n\n") + (crashed.length ? `\n\nNOT RUNNING: ${crashed.join(", ")}` : "") +
              `\n\nTry, in another terminal:\n  ${tryThis.join("\n  ")}\n`,
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
  });
}
