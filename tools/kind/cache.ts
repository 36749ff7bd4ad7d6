/**
 * The kind tooling's cache under ~/.cache/swh/kind/ (SWH_CACHE_DIR moves it, like tools/cluster's): every
 * artifact is keyed by a hash of what it is built from and is written atomically, so an interrupted build
 * never leaves a half-made entry that a later run would trust.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";
import { cacheRoot } from "../cluster/versions.ts";

/** Root of the kind artifacts (root filesystems, image archives, staging areas). */
export function kindCacheDir(): string {
  return `${cacheRoot()}/kind`;
}

/** First 16 hex digits of the SHA-256 of `parts` (joined with NUL): a short, stable cache key. */
export async function hashOf(...parts: (string | Uint8Array)[]): Promise<string> {
  const chunks = parts.flatMap((part) => [
    typeof part === "string" ? new TextEncoder().encode(part) : part,
    new Uint8Array([0]),
  ]);
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
}

/** Every file under `dir` (recursively, sorted) with its content: the input of a content hash. */
export async function treeContents(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string, rel: string): Promise<void> {
    const entries = [];
    for await (const entry of Deno.readDir(path)) entries.push(entry);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.isDirectory) await walk(`${path}/${entry.name}`, `${rel}${entry.name}/`);
      else out.push(`${rel}${entry.name}`, await Deno.readTextFile(`${path}/${entry.name}`));
    }
  }
  await walk(dir, "");
  return out;
}

/** Whether anything exists at `path` (a dangling link counts). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Unmounts whatever is mounted below `dir` (a debootstrap that died leaves proc and sys), deepest first. */
export async function unmountBelow(dir: string): Promise<void> {
  const mounts = (await Deno.readTextFile("/proc/self/mounts")).split("\n")
    .map((line) => line.split(" ")[1])
    .filter((target) => target?.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) await run("umount", ["-l", target], { allowFailure: true });
}

/**
 * Removes everything next to `path` but `path` itself: cache entries live one folder per artifact
 * (`<kind>/<name>/<key>`), so the rest are older versions (or leftovers of interrupted builds). A cache that
 * sees a new key on every commit (the operator image) would otherwise grow forever.
 */
export async function pruneOthers(path: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const keep = new Set([path.slice(dir.length + 1), `${path.slice(dir.length + 1)}.complete`]);
  for await (const entry of Deno.readDir(dir)) {
    if (keep.has(entry.name)) continue;
    await unmountBelow(`${dir}/${entry.name}`);
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
  }
}

/**
 * Returns `path` once it holds a finished artifact, building it with `build(tmp)` first if needed: `build`
 * writes to `tmp` (a file or folder path next to `path`), which is renamed into place only on success. A
 * `<path>.complete` stamp marks finished entries (a folder can exist half-written after a crash).
 */
export async function cached(path: string, build: (tmp: string) => Promise<void>): Promise<string> {
  const stamp = `${path}.complete`;
  if (await exists(stamp) && await exists(path)) return path;
  const tmp = `${path}.building-${Deno.pid}`;
  await Deno.mkdir(path.replace(/\/[^/]+$/, ""), { recursive: true });
  await pruneOthers(path);
  try {
    await build(tmp);
    await Deno.remove(path, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, path);
    await Deno.writeTextFile(stamp, `${new Date().toISOString()}\n`);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  return path;
}
