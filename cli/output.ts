/**
 * How the CLI prints: aligned tables like `kubectl get`, and `-o json|yaml` documents of the same data.
 *
 * @module
 */
import { stringify } from "yaml";

/** The `-o` values every reading command accepts. */
export const OUTPUT_FORMATS = ["json", "yaml", "wide"] as const;
/** One of {@link OUTPUT_FORMATS}, or undefined for the default text. */
export type OutputFormat = typeof OUTPUT_FORMATS[number] | undefined;

/**
 * An aligned table: every column padded to its widest cell, two spaces apart; the last column is never
 * padded (it holds free text such as a reason). An empty body prints `empty` under the header instead.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  empty?: string,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const format = (cells: readonly string[]) =>
    cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]) : c)).join("  ").trimEnd();
  const body = rows.length > 0 ? rows.map(format) : empty !== undefined ? [empty] : [];
  return [format(header), ...body].join("\n");
}

/** A document for `-o json` (indented, as kubectl prints) or `-o yaml`. */
export function document(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? JSON.stringify(value, null, 4) : stringify(value).trimEnd();
}
