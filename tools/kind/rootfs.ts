/**
 * Debian root filesystems made with debootstrap (the package registry is the only source of software we
 * have besides the Go module proxy), cached by suite, mirror and package list. Images take their base from
 * these folders: the node image, the images that need iptables, and the e2e workload image.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";
import { cached, hashOf, kindCacheDir, unmountBelow } from "./cache.ts";

/** Debian release of every root filesystem (the same as this machine's). */
export const SUITE = "bookworm";
/** Where debootstrap fetches from: the mirror apt on this machine uses. */
export const MIRROR = "http://deb.debian.org/debian";

/** A root filesystem: a name for humans and the packages on top of `--variant=minbase`. */
export interface RootfsSpec {
  readonly name: string;
  readonly packages: readonly string[];
}

/** Where `spec`'s root filesystem is cached (keyed by suite, mirror and packages). */
export async function rootfsPath(spec: RootfsSpec): Promise<string> {
  const key = await hashOf(SUITE, MIRROR, "minbase", ...[...spec.packages].sort());
  return `${kindCacheDir()}/rootfs/${spec.name}/${key}`;
}

/**
 * The folder of `spec`'s root filesystem, debootstrapping it first if it is not cached (about 1.5 min on
 * this machine, downloads cached in ~/.cache/swh/kind/debs). Documentation and apt's lists are removed.
 */
export async function ensureRootfs(spec: RootfsSpec, log: (line: string) => void): Promise<string> {
  const packages = [...spec.packages].sort();
  const path = await rootfsPath(spec);
  return await cached(path, async (tmp) => {
    const started = performance.now();
    log(`debootstrap ${spec.name} (${SUITE}, ${packages.length} packages)`);
    const debs = `${kindCacheDir()}/debs`;
    await Deno.mkdir(debs, { recursive: true });
    try {
      await run("nice", [
        "-n",
        "15",
        "debootstrap",
        "--variant=minbase",
        `--cache-dir=${debs}`,
        ...(packages.length ? [`--include=${packages.join(",")}`] : []),
        SUITE,
        tmp,
        MIRROR,
      ]);
    } finally {
      await unmountBelow(tmp);
    }
    await run("sh", [
      "-c",
      `cd "${tmp}" && rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* usr/share/doc/* ` +
      `usr/share/man/* usr/share/info/* var/log/*.log var/log/apt/*`,
    ]);
    log(`debootstrap ${spec.name}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  });
}
