/**
 * `deno task crds`: writes crds/servicewithhealthchecks.yaml and crds/servicewithhealthchecksnodereports.yaml
 * (and deploy/crd.yaml, both in one file, which kustomize needs inside deploy/) from the zod schemas;
 * `--check` only reports whether the committed files are current (exit 1 when stale).
 *
 * @module
 */
import { renderReportCrdYaml, renderSwhCrdYaml, REPORT_CRD_FILE, SWH_CRD_FILE } from "./crd.ts";

/** Outcome of {@link generate}. */
export type GenerateResult = "current" | "written" | "stale";

/** Repository-relative paths of every committed CRD manifest, with the text each must hold. */
export const CRD_OUTPUTS: Readonly<Record<string, () => string>> = {
  [SWH_CRD_FILE]: renderSwhCrdYaml,
  [REPORT_CRD_FILE]: renderReportCrdYaml,
  "deploy/crd.yaml": () => `${renderSwhCrdYaml()}---\n${renderReportCrdYaml()}`,
};

/** Absolute path of a committed CRD manifest (default: the primary one). */
export function crdFilePath(file: string = SWH_CRD_FILE): string {
  return new URL(`../${file}`, import.meta.url).pathname;
}

/** Compares every CRD file with the schema and, unless `check`, rewrites those that differ. */
export async function generate(check: boolean): Promise<GenerateResult> {
  let result: GenerateResult = "current";
  for (const [file, render] of Object.entries(CRD_OUTPUTS)) {
    const wanted = render();
    const path = crdFilePath(file);
    const current = await Deno.readTextFile(path).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    if (current === wanted) continue;
    if (check) return "stale";
    await Deno.writeTextFile(path, wanted);
    result = "written";
  }
  return result;
}

if (import.meta.main) {
  const result = await generate(Deno.args.includes("--check"));
  const files = Object.keys(CRD_OUTPUTS).join(", ");
  if (result === "stale") {
    console.error(`${files} are stale: run \`deno task crds\``);
    Deno.exit(1);
  }
  console.log(result === "written" ? `wrote ${files}` : `${files} are up to date`);
}
