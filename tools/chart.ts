/**
 * The Helm chart (deploy/chart/) next to the kustomize base (deploy/): where it lives, and its CRD file, which
 * is deploy/crd.yaml plus the part-of label that deploy/kustomization.yaml adds to every object (Helm installs
 * `crds/` verbatim, without templating). `deno task crds` runs this after crds/generate.ts; `--check` only
 * reports staleness. tests/deploy/chart_test.ts compares every rendered object with kustomize's.
 *
 * @module
 */

/** Absolute path of the chart folder (with a trailing slash). */
export const CHART_DIR: string = new URL("../deploy/chart/", import.meta.url).pathname;

/** The chart's CRD file, repository-relative. */
export const CHART_CRD_FILE = "deploy/chart/crds/servicewithhealthchecks.yaml";

const ROOT = new URL("../", import.meta.url).pathname;
const PART_OF = "app.kubernetes.io/part-of: service-with-healthchecks";

/**
 * The chart's CRD text for deploy/crd.yaml's `text`: each CRD's `metadata.labels` gains the part-of label, and
 * the header says where the file comes from. Plain text edits, so the file stays diffable against the source.
 */
export function chartCrdYaml(text: string): string {
  const lines = text.split("\n").filter((line) => !line.startsWith("#"));
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i]);
    if (lines[i] === "  labels:" && lines[i - 2] === "metadata:") out.push(`    ${PART_OF}`);
  }
  const labelled = out.filter((line) => line === `    ${PART_OF}`).length;
  const crds = lines.filter((line) => line === "kind: CustomResourceDefinition").length;
  if (labelled !== crds) {
    throw new Error(
      `deploy/crd.yaml: expected metadata.labels right after metadata.name in each of ${crds} CRDs`,
    );
  }
  return "# Both CRDs: deploy/crd.yaml plus the part-of label. Written by tools/chart.ts (`deno task crds`): do\n" +
    '# not edit. Helm installs this folder on first install only: README, "Upgrading", upgrades it.\n' +
    out.join("\n");
}

/** Rewrites the chart's CRD file from deploy/crd.yaml (or, with `check`, only says whether it is current). */
export async function syncChartCrds(check: boolean): Promise<"current" | "written" | "stale"> {
  const wanted = chartCrdYaml(await Deno.readTextFile(`${ROOT}deploy/crd.yaml`));
  const current = await Deno.readTextFile(`${ROOT}${CHART_CRD_FILE}`).catch(() => undefined);
  if (current === wanted) return "current";
  if (check) return "stale";
  await Deno.writeTextFile(`${ROOT}${CHART_CRD_FILE}`, wanted);
  return "written";
}

if (import.meta.main) {
  const result = await syncChartCrds(Deno.args.includes("--check"));
  if (result === "stale") {
    console.error(`${CHART_CRD_FILE} is stale: run \`deno task crds\``);
    Deno.exit(1);
  }
  console.log(result === "written" ? `wrote ${CHART_CRD_FILE}` : `${CHART_CRD_FILE} is up to date`);
}
