/**
 * The Helm chart (deploy/chart/) next to the kustomize base (deploy/): where it lives, and the files it copies
 * from there: its CRD file, deploy/crd.yaml plus the part-of label that deploy/kustomization.yaml adds to every
 * object (Helm installs `crds/` verbatim, without templating), and the alerting rules of
 * deploy/components/monitoring. `deno task crds` runs this after crds/generate.ts; `--check` only reports
 * staleness. tests/deploy/chart_test.ts compares every rendered object with kustomize's.
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

/** The chart's copy of the alerting rules, repository-relative (`templates/monitoring.yaml` includes it). */
export const CHART_RULES_FILE = "deploy/chart/files/prometheusrule-spec.yaml";

/** Source of the alerting rules: the monitoring component of the kustomize base. */
const RULES_SOURCE = "deploy/components/monitoring/prometheusrule.yaml";

/**
 * The `spec` of the component's PrometheusRule, dedented, for `.Files.Get`: Helm does not template included
 * files, so the rules' own `{{ $labels.x }}` reach Prometheus untouched.
 */
export function chartRulesYaml(text: string): string {
  const lines = text.split("\n");
  const spec = lines.indexOf("spec:");
  if (spec < 0) throw new Error(`${RULES_SOURCE}: no top-level spec`);
  const body = lines.slice(spec + 1).map((line) => {
    if (line !== "" && !line.startsWith("  ")) throw new Error(`${RULES_SOURCE}: spec must be the last key`);
    return line.slice(2);
  });
  return `# The spec of ${RULES_SOURCE}. Written by tools/chart.ts (\`deno task crds\`): do not edit.\n` +
    body.join("\n");
}

/** Generated chart files: repository-relative path → its text from the sources. */
const OUTPUTS: Readonly<Record<string, () => Promise<string>>> = {
  [CHART_CRD_FILE]: async () => chartCrdYaml(await Deno.readTextFile(`${ROOT}deploy/crd.yaml`)),
  [CHART_RULES_FILE]: async () => chartRulesYaml(await Deno.readTextFile(`${ROOT}${RULES_SOURCE}`)),
};

/** Rewrites the chart's generated files (or, with `check`, only says whether they are current). */
export async function syncChart(check: boolean): Promise<"current" | "written" | "stale"> {
  let result: "current" | "written" | "stale" = "current";
  for (const [file, render] of Object.entries(OUTPUTS)) {
    const wanted = await render();
    const current = await Deno.readTextFile(`${ROOT}${file}`).catch(() => undefined);
    if (current === wanted) continue;
    if (check) return "stale";
    await Deno.mkdir(`${ROOT}${file.slice(0, file.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${ROOT}${file}`, wanted);
    result = "written";
  }
  return result;
}

if (import.meta.main) {
  const files = Object.keys(OUTPUTS).join(", ");
  const result = await syncChart(Deno.args.includes("--check"));
  if (result === "stale") {
    console.error(`${files}: stale, run \`deno task crds\``);
    Deno.exit(1);
  }
  console.log(result === "written" ? `wrote ${files}` : `${files}: up to date`);
}
