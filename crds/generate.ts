/**
 * `deno task crds`: writes crds/servicewithhealthchecks.yaml (and its copy deploy/crd.yaml, which kustomize
 * needs inside deploy/) from the zod schema; `--check` only reports whether the committed files are
 * current (exit 1 when stale).
 *
 * @module
 */
import { renderSwhCrdYaml, SWH_CRD_FILE } from "./crd.ts";

/** Outcome of {@link generate}. */
export type GenerateResult = "current" | "written" | "stale";

/** Repository-relative paths of every committed copy of the CRD manifest. */
export const CRD_OUTPUTS: readonly string[] = [SWH_CRD_FILE, "deploy/crd.yaml"];

/** Absolute path of a committed CRD manifest (default: the primary one). */
export function crdFilePath(file: string = SWH_CRD_FILE): string {
  return new URL(`../${file}`, import.meta.url).pathname;
}

/** Compares every CRD file with the schema and, unless `check`, rewrites those that differ. */
export async function generate(check: boolean): Promise<GenerateResult> {
  const wanted = renderSwhCrdYaml();
  let result: GenerateResult = "current";
  for (const file of CRD_OUTPUTS) {
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
  const files = CRD_OUTPUTS.join(" and ");
  if (result === "stale") {
    console.error(`${files} are stale: run \`deno task crds\``);
    Deno.exit(1);
  }
  console.log(result === "written" ? `wrote ${files}` : `${files} are up to date`);
}
