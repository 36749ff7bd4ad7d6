/**
 * The admission corpus: manifests under tests/crds/valid (must be accepted) and tests/crds/invalid (must be
 * rejected with an error naming the field given by their `# expect:` lines).
 *
 * @module
 */
import { parse } from "yaml";

/** One manifest of the corpus. */
export interface CorpusCase {
  /** Path relative to the repository root, for messages. */
  file: string;
  /** Absolute path, for kubectl -f. */
  path: string;
  /** Whether the manifest must be accepted. */
  valid: boolean;
  /** Fragments (field paths) every rejection message must contain; empty for valid manifests. */
  expect: string[];
  /** The parsed manifest. */
  object: Record<string, unknown>;
  /** metadata.namespace when the manifest names one (the user guide's examples sometimes do). */
  namespace?: string;
}

const EXPECT = /^#\s*expect:\s*(.+?)\s*$/gm;

async function loadDir(kind: "valid" | "invalid"): Promise<CorpusCase[]> {
  const dir = new URL(`./${kind}/`, import.meta.url);
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => {
    const path = new URL(name, dir).pathname;
    const text = await Deno.readTextFile(path);
    const object = parse(text) as Record<string, unknown>;
    const namespace = (object.metadata as { namespace?: string } | undefined)?.namespace;
    return {
      file: `tests/crds/${kind}/${name}`,
      path,
      valid: kind === "valid",
      expect: [...text.matchAll(EXPECT)].map((m) => m[1]),
      object,
      ...(namespace ? { namespace } : {}),
    };
  }));
}

/** Every corpus manifest, valid ones first, each group sorted by file name. */
export async function loadCorpus(): Promise<CorpusCase[]> {
  return [...await loadDir("valid"), ...await loadDir("invalid")];
}
