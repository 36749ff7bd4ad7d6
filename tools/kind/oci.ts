/**
 * Writes OCI image archives (an OCI image layout in a tar, as `ctr images export` makes them) from folders:
 * each folder becomes one zstd-compressed layer. No registry, no builder daemon: containerd imports these
 * (`ctr images import`, `kind load image-archive`) under the name in the index's annotations.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";

/** The runtime part of an image configuration (OCI image-spec `config`). */
export interface ImageConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  /** `uid[:gid]` the container runs as unless the pod says otherwise. */
  readonly user?: string;
  readonly workingDir?: string;
}

/** One layer: a folder's content at the image root. */
export interface LayerSource {
  readonly dir: string;
  /** `root`: every file owned by 0:0 (files we put together); `preserve`: as on disk (a Debian rootfs). */
  readonly owner: "root" | "preserve";
}

/** A content descriptor (OCI image-spec). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
}

/** Media types of the pieces of an OCI image. */
export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

/** The tag of an image reference (`registry.k8s.io/pause:3.10.2` → `3.10.2`), what OCI's ref.name holds. */
export function referenceTag(ref: string): string {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon <= slash) throw new Error(`image reference ${ref} has no tag`);
  return ref.slice(colon + 1);
}

/** The image configuration blob for layers with the given uncompressed digests. */
export function imageConfigJson(config: ImageConfig, diffIds: readonly string[]): string {
  const runtime: Record<string, unknown> = {};
  if (config.entrypoint) runtime.Entrypoint = config.entrypoint;
  if (config.cmd) runtime.Cmd = config.cmd;
  runtime.Env = config.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  if (config.user) runtime.User = config.user;
  if (config.workingDir) runtime.WorkingDir = config.workingDir;
  return JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: runtime,
    rootfs: { type: "layers", diff_ids: diffIds },
  });
}

/** The image manifest blob. */
export function manifestJson(config: Descriptor, layers: readonly Descriptor[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config, layers });
}

/** The layout's index.json, naming the image the way containerd's exporter does. */
export function indexJson(manifest: Descriptor, ref: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [{
      ...manifest,
      annotations: {
        "io.containerd.image.name": ref,
        "org.opencontainers.image.ref.name": referenceTag(ref),
      },
    }],
  });
}

async function sha256File(path: string): Promise<string> {
  return `sha256:${(await run("sha256sum", [path])).stdout.split(" ")[0]}`;
}

/** Reproducible tar flags: sorted names, epoch mtimes, no atime/ctime, numeric owners. */
const TAR_FLAGS = [
  "--sort=name",
  "--mtime=@0",
  "--numeric-owner",
  "--format=posix",
  "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
];

/** Stores `path` as a blob of the layout in `layout` and returns its descriptor. */
async function addBlob(layout: string, path: string, mediaType: string): Promise<Descriptor> {
  const digest = await sha256File(path);
  const { size } = await Deno.stat(path);
  await Deno.rename(path, `${layout}/blobs/sha256/${digest.slice("sha256:".length)}`);
  return { mediaType, digest, size };
}

async function addJsonBlob(layout: string, json: string, mediaType: string): Promise<Descriptor> {
  const path = `${layout}/blob.json`;
  await Deno.writeTextFile(path, json);
  return await addBlob(layout, path, mediaType);
}

/**
 * Writes image `ref` (e.g. `registry.k8s.io/kube-apiserver:v1.36.3`) with `layers` (bottom first) and
 * `config` to the OCI archive `out`. Runs tar at low priority: layers can be hundreds of MB.
 */
export async function writeOciArchive(
  out: string,
  ref: string,
  layers: readonly LayerSource[],
  config: ImageConfig,
): Promise<void> {
  const layout = `${out}.layout`;
  await Deno.remove(layout, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${layout}/blobs/sha256`, { recursive: true });
  try {
    const layerDescriptors: Descriptor[] = [];
    const diffIds: string[] = [];
    for (const layer of layers) {
      const tar = `${layout}/layer.tar`;
      const owner = layer.owner === "root" ? ["--owner=0", "--group=0"] : [];
      await run("nice", [
        "-n",
        "15",
        "tar",
        "--create",
        `--file=${tar}`,
        ...TAR_FLAGS,
        ...owner,
        "-C",
        layer.dir,
        ".",
      ]);
      diffIds.push(await sha256File(tar));
      // Compressed, the content store every node copies when it starts is a third of the size: kind creates
      // and deletes clusters faster.
      await run("nice", ["-n", "15", "zstd", "-q", "-T0", "-3", "--rm", tar, "-o", `${tar}.zst`]);
      layerDescriptors.push(await addBlob(layout, `${tar}.zst`, MEDIA_TYPES.layer));
    }
    const configDescriptor = await addJsonBlob(
      layout,
      imageConfigJson(config, diffIds),
      MEDIA_TYPES.config,
    );
    const manifest = await addJsonBlob(
      layout,
      manifestJson(configDescriptor, layerDescriptors),
      MEDIA_TYPES.manifest,
    );
    await Deno.writeTextFile(`${layout}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await Deno.writeTextFile(`${layout}/index.json`, indexJson(manifest, ref));
    await run("tar", [
      "--create",
      `--file=${out}`,
      ...TAR_FLAGS,
      "--owner=0",
      "--group=0",
      "-C",
      layout,
      ".",
    ]);
  } finally {
    await Deno.remove(layout, { recursive: true }).catch(() => {});
  }
}
