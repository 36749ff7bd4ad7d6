/**
 * deploy/components/monitoring as users apply it: an overlay of deploy/ with the component builds with
 * kubectl's kustomize, and what our apiserver can check (everything but the Prometheus Operator's kinds, whose
 * CRDs are not installed here) passes a server dry run.
 */
import { deepStrictEqual } from "node:assert/strict";
import { parseAllDocuments, stringify } from "yaml";
import { kubectl, kubectlOk } from "../support/kubectl.ts";

const REPO = new URL("../../", import.meta.url).pathname;

Deno.test("an overlay of deploy/ with the monitoring component builds, and its core objects pass a server dry run", async () => {
  // kustomize refuses an overlay inside the base's folder (a cycle): users keep theirs beside it, like this one.
  const overlay = await Deno.makeTempDir({ dir: REPO, prefix: ".overlay-" });
  try {
    const name = overlay.slice(overlay.lastIndexOf("/") + 1);
    await Deno.writeTextFile(
      `${overlay}/kustomization.yaml`,
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: ["../deploy"],
        components: ["../deploy/components/monitoring"],
      }),
    );
    const built = parseAllDocuments(await kubectlOk(["kustomize", `${REPO}${name}`])).map((d) => d.toJS());
    const monitoring = built.filter((d) => d.apiVersion === "monitoring.coreos.com/v1");
    deepStrictEqual(monitoring.map((d) => d.kind).sort(), ["PodMonitor", "PrometheusRule", "ServiceMonitor"]);
    const core = built.filter((d) => d.apiVersion !== "monitoring.coreos.com/v1");
    await kubectlOk(["apply", "--server-side", "-f", `${REPO}deploy/namespace.yaml`]);
    const applied = await kubectl(
      ["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: core }),
    );
    deepStrictEqual(applied.code, 0, applied.stderr);
    deepStrictEqual(
      applied.stdout.split("\n").filter((l) => l.startsWith("service/swh-controller-metrics")).length,
      1,
      applied.stdout,
    );
  } finally {
    await Deno.remove(overlay, { recursive: true });
  }
});
