/**
 * Every container image the kind e2e runs, assembled here as OCI archives from binaries built from source
 * and Debian packages (no registry can be reached from our machines):
 *
 * - what kubeadm deploys (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd, CoreDNS,
 *   pause) under the names and tags kubeadm asks for, and the pod network (kube-router) — preloaded into
 *   the node image;
 * - the operator, running controller/main.ts and agent/main.ts with `deno run --cached-only` and the flags of
 *   deploy/permissions.ts as uid 65532 (the published deploy/Dockerfile runs `deno compile`, which cannot
 *   run here);
 * - the e2e workload: PostgreSQL 15 from Debian for the guide's database, Deno for its HTTP/SMTP "VM" and
 *   the clients.
 *
 * Archives are cached in ~/.cache/swh/kind/images/, keyed by everything that goes into them.
 *
 * @module
 */
import { run } from "../cluster/exec.ts";
import type { BinaryBundle } from "../cluster/versions.ts";
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_FLAGS,
  CONTROLLER_PERMISSIONS,
  CONTROLLER_RUNTIME_FLAGS,
} from "../../deploy/permissions.ts";
import { cached, hashOf, kindCacheDir, treeContents } from "./cache.ts";
import { type ImageConfig, type LayerSource, writeOciArchive } from "./oci.ts";
import type { RootfsSpec } from "./rootfs.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Name of the operator image in deploy/ (kustomization `images:`), built here with `deno run` inside. */
export const OPERATOR_IMAGE = "swh.local/service-with-healthchecks:0.1.0";
/** The e2e workload image: PostgreSQL 15 (Debian) and Deno, for the guide's database, VM and clients. */
export const WORKLOAD_IMAGE = "swh.local/e2e-workload:0.1.0";

/** Folders and files of the repository the operator programs need: the same the Dockerfile copies. */
export const OPERATOR_SOURCES = [
  "deno.json",
  "deno.lock",
  "kube",
  "crds",
  "probes",
  "ops",
  "controller",
  "agent",
];
/** Where the operator's sources and Deno cache live in its image. */
const APP_DIR = "/opt/swh";

/** Root filesystems the images start from. */
export const ROOTFS = {
  /** kube-proxy and kube-router: iptables (nft, Debian's default, as in the node), ipset, conntrack. */
  net: { name: "net", packages: ["iptables", "ipset", "conntrack", "iproute2", "nftables", "kmod"] },
  /** The e2e workload; also the source of the glibc the operator image carries. */
  workload: { name: "workload", packages: ["postgresql-15", "procps"] },
} as const satisfies Record<string, RootfsSpec>;

/** Users every image knows: root, nobody, and nonroot (65532, what deploy/ runs the operator as). */
const PASSWD =
  "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
  "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";

/** Everything a recipe may take its parts from (resolved once, cached paths). */
export interface ImageInputs {
  /** Bundle → folder of its built binaries. */
  bin(bundle: BinaryBundle): string;
  /** Root filesystem name → its folder. */
  rootfs(spec: RootfsSpec): string;
  /** The pinned Deno binary (the one ./deno runs). */
  deno: string;
  /** Deno's version, for cache keys. */
  denoVersion: string;
}

/** A recipe: the image's name, what its content depends on, and how to lay out its layers. */
export interface ImageRecipe {
  readonly ref: string;
  /** Everything that changes the content (cache key), besides `ref` and `config`. */
  readonly inputs: () => Promise<string[]>;
  /** Fills `staging` with layer folders and returns them, bottom first. */
  readonly layers: (staging: string) => Promise<LayerSource[]>;
  readonly config: ImageConfig;
}

async function writeFiles(dir: string, files: Record<string, string>, mode = 0o644): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, content, { mode });
  }
}

/** The bottom layer of images without a distribution: users, name service switch, a sticky /tmp. */
async function minimalBase(dir: string): Promise<LayerSource> {
  await writeFiles(dir, {
    "etc/passwd": PASSWD,
    "etc/group": GROUP,
    "etc/nsswitch.conf": "hosts: files dns\n",
  });
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  await Deno.chmod(`${dir}/tmp`, 0o1777);
  return { dir, owner: "root" };
}

/** A layer holding `files` (destination in the image → source path on this machine), executable. */
async function filesLayer(dir: string, files: Record<string, string>): Promise<LayerSource> {
  for (const [dest, source] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${dest}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.copyFile(source, `${dir}/${dest}`);
    await Deno.chmod(`${dir}/${dest}`, 0o755);
  }
  return { dir, owner: "root" };
}

/** An image of one static Go binary at /usr/local/bin/NAME (how kubeadm's manifests call them). */
export function staticBinaryImage(
  inputs: ImageInputs,
  ref: string,
  bundle: BinaryBundle,
  binary: string,
  dest = `usr/local/bin/${binary}`,
): ImageRecipe {
  return {
    ref,
    inputs: () => Promise.resolve([bundle.key, binary, dest, PASSWD, GROUP]),
    layers: async (staging) => [
      await minimalBase(`${staging}/base`),
      await filesLayer(`${staging}/bin`, { [dest]: `${inputs.bin(bundle)}/${binary}` }),
    ],
    config: { entrypoint: [`/${dest}`] },
  };
}

/** An image of a Debian root filesystem plus one binary at /usr/local/bin/NAME. */
export function rootfsBinaryImage(
  inputs: ImageInputs,
  ref: string,
  rootfs: RootfsSpec,
  bundle: BinaryBundle,
  binary: string,
): ImageRecipe {
  return {
    ref,
    inputs: () => Promise.resolve([bundle.key, binary, inputs.rootfs(rootfs)]),
    layers: async (staging) => [
      { dir: inputs.rootfs(rootfs), owner: "preserve" },
      await filesLayer(`${staging}/bin`, { [`usr/local/bin/${binary}`]: `${inputs.bin(bundle)}/${binary}` }),
    ],
    config: { entrypoint: [`/usr/local/bin/${binary}`] },
  };
}

/** Kubernetes' pause program: build/pause/linux/pause.c of the pinned k8s.io/kubernetes, compiled static. */
export function pauseImage(ref: string, kubernetesModuleDir: string): ImageRecipe {
  const tag = ref.slice(ref.lastIndexOf(":") + 1);
  const source = async () => {
    const dir = (await run("go", ["list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"], {
      cwd: kubernetesModuleDir,
      env: { GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" },
    })).stdout.trim();
    return `${dir}/build/pause`;
  };
  return {
    ref,
    inputs: async () => {
      const dir = await source();
      const makefileTag = (await Deno.readTextFile(`${dir}/Makefile`)).match(/^TAG \?= (\S+)$/m)?.[1];
      if (makefileTag !== tag) {
        throw new Error(`kubeadm wants pause ${tag}, the pinned source is ${makefileTag}`);
      }
      return [await Deno.readTextFile(`${dir}/linux/pause.c`), tag];
    },
    layers: async (staging) => {
      await Deno.mkdir(`${staging}/pause`, { recursive: true });
      // The flags of build/pause/Makefile.
      await run("gcc", [
        "-Os",
        "-Wall",
        "-Werror",
        "-static",
        `-DVERSION=v${tag}-0`,
        "-o",
        `${staging}/pause/pause`,
        `${await source()}/linux/pause.c`,
      ]);
      return [{ dir: `${staging}/pause`, owner: "root" }];
    },
    config: { entrypoint: ["/pause"], user: "65535:65535" },
  };
}

/** The glibc and /bin/sh that Deno needs, taken from a Debian root filesystem (like distroless/cc). */
async function glibcLayer(dir: string, debian: string): Promise<LayerSource> {
  const libs = ["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libgcc_s.so.1"];
  const files: Record<string, string> = {
    "lib64/ld-linux-x86-64.so.2": `${debian}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`,
    "bin/sh": `${debian}/usr/bin/dash`,
  };
  for (const lib of libs) files[`lib/x86_64-linux-gnu/${lib}`] = `${debian}/usr/lib/x86_64-linux-gnu/${lib}`;
  await filesLayer(dir, files);
  await minimalBase(dir);
  return { dir, owner: "root" };
}

/** `/usr/local/bin/<program>`: runs `main` with `deno run --cached-only` and exactly `flags`. */
export function launcher(program: string, main: string, flags: readonly string[]): string {
  return `#!/bin/sh
# ${program}: ${main} with \`deno run\` and the flags of deploy/permissions.ts (written by tools/kind/images.ts).
# The image's own Deno cache holds the npm packages; it wins over the manifests' DENO_DIR=/tmp/deno (a scratch
# folder for the compiled binary of deploy/Dockerfile) because nothing may be fetched at run time.
export DENO_DIR=${APP_DIR}/deno-dir
exec /usr/local/bin/deno run --cached-only --frozen --no-prompt --config=${APP_DIR}/deno.json \\
  ${flags.join(" ")} \\
  ${APP_DIR}/${main} "$@"
`;
}

/** The operator image's launcher scripts by path: each program with its flags of deploy/permissions.ts. */
export const OPERATOR_LAUNCHERS: Readonly<Record<string, string>> = {
  "usr/local/bin/swh-controller": launcher("swh-controller", "controller/main.ts", [
    ...CONTROLLER_PERMISSIONS,
    ...CONTROLLER_RUNTIME_FLAGS,
  ]),
  "usr/local/bin/swh-agent": launcher("swh-agent", "agent/main.ts", [
    ...AGENT_PERMISSIONS,
    ...AGENT_RUNTIME_FLAGS,
  ]),
};

/** The operator image: the controller and agent entrypoints under `deno run`, uid 65532. */
export function operatorImage(inputs: ImageInputs): ImageRecipe {
  const launchers = OPERATOR_LAUNCHERS;
  return {
    ref: OPERATOR_IMAGE,
    inputs: async () => {
      const sources: string[] = [];
      for (const name of OPERATOR_SOURCES) {
        const path = `${ROOT}${name}`;
        if ((await Deno.stat(path)).isDirectory) sources.push(name, ...await treeContents(path));
        else sources.push(name, await Deno.readTextFile(path));
      }
      return [inputs.denoVersion, inputs.rootfs(ROOTFS.workload), ...Object.values(launchers), ...sources];
    },
    layers: async (staging) => {
      const app = `${staging}/app${APP_DIR}`;
      await Deno.mkdir(app, { recursive: true });
      for (const name of OPERATOR_SOURCES) await run("cp", ["-r", `${ROOT}${name}`, `${app}/${name}`]);
      // What the Dockerfile's `deno install` does: every npm package both entrypoints import, into the image.
      await run(inputs.deno, ["install", "--frozen", "--entrypoint", "controller/main.ts", "agent/main.ts"], {
        cwd: app,
        env: { DENO_DIR: `${app}/deno-dir`, DENO_NO_UPDATE_CHECK: "1" },
      });
      await writeFiles(`${staging}/app`, launchers, 0o755);
      return [
        await glibcLayer(`${staging}/glibc`, inputs.rootfs(ROOTFS.workload)),
        await filesLayer(`${staging}/deno`, { "usr/local/bin/deno": inputs.deno }),
        { dir: `${staging}/app`, owner: "root" },
      ];
    },
    config: { entrypoint: ["/usr/local/bin/swh-controller"], user: "65532:65532", workingDir: APP_DIR },
  };
}

/** The e2e workload image: Debian with PostgreSQL 15, plus Deno for the lab's servers and clients. */
export function workloadImage(inputs: ImageInputs): ImageRecipe {
  return {
    ref: WORKLOAD_IMAGE,
    inputs: () => Promise.resolve([inputs.rootfs(ROOTFS.workload), inputs.denoVersion]),
    layers: async (staging) => [
      { dir: inputs.rootfs(ROOTFS.workload), owner: "preserve" },
      await filesLayer(`${staging}/deno`, { "usr/local/bin/deno": inputs.deno }),
    ],
    config: {
      entrypoint: ["/bin/sh"],
      env: ["PATH=/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/bin:/bin"],
    },
  };
}

/** Changes when writeOciArchive writes archives differently (e.g. compression), so old ones are not reused. */
const ARCHIVE_FORMAT = "oci-layout, zstd layers";

/** Where a recipe's archive is cached: a folder per reference (path-safe), a file per key of its inputs. */
async function archivePath(recipe: ImageRecipe): Promise<string> {
  const key = await hashOf(
    ARCHIVE_FORMAT,
    recipe.ref,
    JSON.stringify(recipe.config),
    ...await recipe.inputs(),
  );
  return `${kindCacheDir()}/images/${recipe.ref.replace(/[^A-Za-z0-9.-]+/g, "_")}/${key}.tar`;
}

/** The OCI archive of `recipe`, built if it is not cached. */
export async function ensureImageArchive(recipe: ImageRecipe, log: (line: string) => void): Promise<string> {
  return await cached(await archivePath(recipe), async (tmp) => {
    const started = performance.now();
    const staging = `${tmp}.staging`;
    await Deno.mkdir(staging, { recursive: true });
    try {
      await writeOciArchive(tmp, recipe.ref, await recipe.layers(staging), recipe.config);
    } finally {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
    }
    const { size } = await Deno.stat(tmp);
    log(
      `image ${recipe.ref}: ${(size / 2 ** 20).toFixed(0)} MiB in ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
    );
  });
}
