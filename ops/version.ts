/** The release version of both programs, the CLI, the chart and the images: one constant, reported by all. */

/** Semantic version of this release (deno.json's `version` must match; ops/version_test.ts checks). */
export const VERSION = "0.1.0";
