/**
 * `deno task release VERSION [--out DIR] [--base-url URL] [--plugin OS/ARCH=PATH]…`: makes VERSION the
 * version everywhere it is written (ops/version.ts, deno.json, the image tags of deploy/, the README's install
 * commands, the chart's version and appVersion), checks they all agree, and writes the release artifacts into
 * one folder (default dist/VERSION/, gitignored): both CRDs, the single install manifest and the monitoring one,
 * the packaged chart, the krew manifest of the kubectl plugin (with the plugin archives, when plugin executables
 * are given) and SHA256SUMS; adds a CHANGELOG.md entry; prints the image build and load commands for users (no
 * image is built here).
 *
 * @module
 */
import { ensureBundle } from "./cluster/binaries.ts";
import { run } from "./cluster/exec.ts";
import { kubernetesBundle } from "./cluster/versions.ts";
import { ensureHelm } from "./helm.ts";
import { relative } from "node:path";
import { parseAllDocuments, stringify } from "yaml";

/** The image every manifest refers to (retagged per release; deploy/kustomization.yaml `images:` retargets). */
export const IMAGE_REPOSITORY = "swh.local/service-with-healthchecks";

/** Name of the chart, its package and the manifests. */
export const CHART_NAME = "service-with-healthchecks";

/** Platforms `deno compile --target` builds and krew knows: krew os/arch → Deno target triple. */
export const PLUGIN_TARGETS: Readonly<Record<string, string>> = {
  "linux/amd64": "x86_64-unknown-linux-gnu",
  "linux/arm64": "aarch64-unknown-linux-gnu",
  "darwin/amd64": "x86_64-apple-darwin",
  "darwin/arm64": "aarch64-apple-darwin",
};

/**
 * Deno permissions of the compiled plugin: those of the plugin's launcher (cli/kubectl-swh, ops branch), which
 * runs mod.ts as a kubectl client — the apiserver, the kubeconfig and the files it names, these variables.
 */
export const PLUGIN_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-env=KUBECONFIG,HOME,SWH_NAMESPACE,KUBERNETES_SERVICE_HOST,KUBERNETES_SERVICE_PORT,LOG_TOKENS,LOG_STREAM",
];

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;

/** A place in the repository that holds the version, and how to read and rewrite it there. */
interface VersionSite {
  file: string;
  pattern: RegExp;
  /** Text of the match for `version`. */
  render: (version: string) => string;
}

const image = (file: string): VersionSite => ({
  file,
  pattern: new RegExp(`${IMAGE_REPOSITORY.replaceAll(".", "\\.")}:([0-9A-Za-z.+-]+)`, "g"),
  render: (v) => `${IMAGE_REPOSITORY}:${v}`,
});

/** Every place that states the version. tests/deploy/release_test.ts checks that they agree. */
export const VERSION_SITES: readonly VersionSite[] = [
  {
    file: "ops/version.ts",
    pattern: /export const VERSION = "([^"]+)";/g,
    render: (v) => `export const VERSION = "${v}";`,
  },
  { file: "deno.json", pattern: /^ {2}"version": "([^"]+)",$/gm, render: (v) => `  "version": "${v}",` },
  { file: "deploy/kustomization.yaml", pattern: /^ {4}newTag: (\S+)$/gm, render: (v) => `    newTag: ${v}` },
  { file: "deploy/chart/Chart.yaml", pattern: /^version: (\S+)$/gm, render: (v) => `version: ${v}` },
  {
    file: "deploy/chart/Chart.yaml",
    pattern: /^appVersion: "([^"]+)"$/gm,
    render: (v) => `appVersion: "${v}"`,
  },
  image("deploy/controller.yaml"),
  image("deploy/agent.yaml"),
  image("deploy/Dockerfile"),
  { file: "README.md", pattern: /^VERSION=(\S+)$/gm, render: (v) => `VERSION=${v}` },
];

/** Versions each site states, as `file: version` lines (several per file when it states it more than once). */
export async function statedVersions(root: string): Promise<{ file: string; version: string }[]> {
  const found: { file: string; version: string }[] = [];
  for (const site of VERSION_SITES) {
    const text = await Deno.readTextFile(`${root}/${site.file}`);
    const matches = [...text.matchAll(site.pattern)];
    if (matches.length === 0) throw new Error(`${site.file}: no version found (${site.pattern})`);
    for (const m of matches) found.push({ file: site.file, version: m[1] });
  }
  return found;
}

/** Rewrites every version site of `root` to `version`; returns the files changed. */
export async function setVersion(root: string, version: string): Promise<string[]> {
  const changed = new Set<string>();
  for (const site of VERSION_SITES) {
    const path = `${root}/${site.file}`;
    const text = await Deno.readTextFile(path);
    const updated = text.replace(site.pattern, () => site.render(version));
    if (updated !== text) {
      await Deno.writeTextFile(path, updated);
      changed.add(site.file);
    }
  }
  return [...changed];
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The archive name of the kubectl plugin for a krew platform. */
export function pluginArchiveName(version: string, platform: string): string {
  return `kubectl-swh_${version}_${platform.replace("/", "_")}.tar.gz`;
}

/** Krew's plugin manifest: one platform entry per archive, each pointing at `<baseUrl>/v<version>/<archive>`. */
export function krewManifest(
  version: string,
  baseUrl: string,
  archives: readonly { platform: string; sha256: string }[],
): string {
  const platforms = archives.map(({ platform, sha256 }) => {
    const [os, arch] = platform.split("/");
    return [
      `    - selector:`,
      `        matchLabels:`,
      `          os: ${os}`,
      `          arch: ${arch}`,
      `      uri: ${baseUrl}/v${version}/${pluginArchiveName(version, platform)}`,
      `      sha256: ${sha256}`,
      `      bin: kubectl-swh`,
      `      files:`,
      `        - from: kubectl-swh`,
      `          to: .`,
      `        - from: README.md`,
      `          to: .`,
    ].join("\n");
  });
  return [
    `apiVersion: krew.googlecontainertools.github.com/v1alpha2`,
    `kind: Plugin`,
    `metadata:`,
    `  name: swh`,
    `spec:`,
    `  version: v${version}`,
    `  homepage: ${baseUrl.replace(/\/releases\/download$/, "")}`,
    `  shortDescription: Explain and convert ServiceWithHealthchecks`,
    `  description: |`,
    `    kubectl swh explain NAMESPACE/NAME shows, per pod, whether it is in the Service's EndpointSlices and`,
    `    which probe keeps it out; kubectl swh convert turns a Service into a ServiceWithHealthchecks.`,
    `  platforms:`,
    ...platforms,
    ``,
  ].join("\n");
}

/** Options of {@link release}. */
export interface ReleaseOptions {
  /** Repository root to release from (and whose version sites are rewritten). */
  root: string;
  version: string;
  /** Artifact folder; default `<root>/dist/<version>`. */
  out?: string;
  /** Where the plugin archives are published (`<baseUrl>/v<version>/<archive>`); needed with `plugins`. */
  baseUrl?: string;
  /** krew platform (`linux/amd64`) → path of a `kubectl-swh` executable built for it. */
  plugins?: Readonly<Record<string, string>>;
  /** Release date for the CHANGELOG (default today, UTC). */
  date?: string;
  log?: (line: string) => void;
}

/** What {@link release} produced. */
export interface ReleaseResult {
  out: string;
  /** File names in `out`, SHA256SUMS last. */
  files: string[];
  /** Files of the repository the version bump changed. */
  bumped: string[];
  /** The commands users run to build and load the image (printed by the CLI). */
  imageCommands: string[];
}

/** Subjects of the commits since the version last changed (the previous release), for the CHANGELOG. */
async function changesSinceLastVersion(root: string): Promise<string[]> {
  const git = (args: string[]) => run("git", ["-C", root, ...args], { allowFailure: true });
  const last = (await git(["log", "-1", "--format=%H", "-G", "export const VERSION", "--", "ops/version.ts"]))
    .stdout.trim();
  if (!last) return [];
  const log = await git(["log", "--no-merges", "--format=%s", `${last}..HEAD`]);
  return log.code === 0 ? log.stdout.trim().split("\n").filter((s) => s) : [];
}

/** Adds the CHANGELOG.md entry of `version` unless there is one; returns whether it wrote. */
async function changelogEntry(
  root: string,
  version: string,
  date: string,
  artifacts: string[],
): Promise<boolean> {
  const path = `${root}/CHANGELOG.md`;
  const text = await Deno.readTextFile(path).catch(() => "# Changelog\n");
  if (new RegExp(`^## ${version.replaceAll(".", "\\.")} `, "m").test(text)) return false;
  const changes = await changesSinceLastVersion(root);
  const entry = [
    `## ${version} — ${date}`,
    "",
    ...(changes.length ? changes.map((c) => `- ${c}`) : ["- (no commits found since the previous version)"]),
    "",
    `Artifacts (\`deno task release ${version}\`): ${artifacts.map((a) => `\`${a}\``).join(", ")}.`,
    "",
  ].join("\n");
  const [head, ...rest] = text.split(/^(?=## )/m);
  await Deno.writeTextFile(path, `${head.trimEnd()}\n\n${entry}\n${rest.join("")}`.trimEnd() + "\n");
  return true;
}

/**
 * The objects deploy/components/monitoring adds to deploy/, as one manifest for users of the plain-manifest path
 * (`kubectl apply -f`): built as an overlay of both, less what `install` (deploy/ alone) already holds.
 */
async function monitoringManifest(kubectl: string, root: string, install: string): Promise<string> {
  const key = (o: Record<string, Record<string, string>>) =>
    `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  const base = new Set(parseAllDocuments(install).map((d) => key(d.toJS())));
  const overlay = await Deno.makeTempDir({ prefix: "swh-release-overlay-" });
  try {
    await Deno.writeTextFile(
      `${overlay}/kustomization.yaml`,
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        // kustomize takes relative paths only.
        resources: [relative(overlay, `${root}/deploy`)],
        components: [relative(overlay, `${root}/deploy/components/monitoring`)],
      }),
    );
    const built = parseAllDocuments((await run(kubectl, ["kustomize", overlay])).stdout).map((d) => d.toJS());
    return built.filter((o) => !base.has(key(o))).map((o) => stringify(o)).join("---\n");
  } finally {
    await Deno.remove(overlay, { recursive: true });
  }
}

/** Bumps the version, writes the artifacts and the CHANGELOG entry. Needs helm and kubectl (built if missing). */
export async function release(opts: ReleaseOptions): Promise<ReleaseResult> {
  const { root, version } = opts;
  const log = opts.log ?? console.error;
  if (!SEMVER.test(version)) throw new Error(`${version}: not a semantic version (MAJOR.MINOR.PATCH[-PRE])`);
  const bumped = await setVersion(root, version);
  const disagree = (await statedVersions(root)).filter((s) => s.version !== version);
  if (disagree.length) {
    throw new Error(
      `versions disagree after the bump: ${disagree.map((s) => `${s.file} ${s.version}`).join(", ")}`,
    );
  }
  const out = opts.out ?? `${root}/dist/${version}`;
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const helm = await ensureHelm(4, log);
  const kubectl = `${await ensureBundle(kubernetesBundle(), log)}/kubectl`;

  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await Deno.writeTextFile(`${out}/${name}`, text);
    files.push(name);
  };
  await write(
    `${CHART_NAME}-crds.yaml`,
    await Deno.readTextFile(`${root}/deploy/chart/crds/servicewithhealthchecks.yaml`),
  );
  const install = (await run(kubectl, ["kustomize", `${root}/deploy/`])).stdout;
  await write(`${CHART_NAME}.yaml`, install);
  await write(`${CHART_NAME}-monitoring.yaml`, await monitoringManifest(kubectl, root, install));
  const helmHome = await Deno.makeTempDir({ prefix: "swh-release-helm-" });
  try {
    await run(helm, ["package", `${root}/deploy/chart`, "--destination", out], {
      env: {
        HELM_CACHE_HOME: `${helmHome}/c`,
        HELM_CONFIG_HOME: `${helmHome}/f`,
        HELM_DATA_HOME: `${helmHome}/d`,
      },
    });
  } finally {
    await Deno.remove(helmHome, { recursive: true });
  }
  files.push(`${CHART_NAME}-${version}.tgz`);

  const pluginPlatforms = Object.keys(opts.plugins ?? {});
  if (pluginPlatforms.length > 0 && !opts.baseUrl) {
    throw new Error(
      "--plugin needs --base-url: the krew manifest must name where the archives are published",
    );
  }
  const baseUrl = (opts.baseUrl ?? "").replace(/\/$/, "");
  const archives: { platform: string; sha256: string }[] = [];
  for (const [platform, executable] of Object.entries(opts.plugins ?? {})) {
    if (!PLUGIN_TARGETS[platform]) {
      throw new Error(`--plugin ${platform}: krew platforms are ${Object.keys(PLUGIN_TARGETS).join(", ")}`);
    }
    const staging = await Deno.makeTempDir({ prefix: "swh-plugin-" });
    try {
      await Deno.copyFile(executable, `${staging}/kubectl-swh`);
      await Deno.chmod(`${staging}/kubectl-swh`, 0o755);
      await Deno.copyFile(`${root}/README.md`, `${staging}/README.md`);
      const name = pluginArchiveName(version, platform);
      // Reproducible: fixed owner, order and times, so the checksum depends on the contents only.
      await run("tar", [
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mtime=1970-01-01",
        "-czf",
        `${out}/${name}`,
        "-C",
        staging,
        "kubectl-swh",
        "README.md",
      ], { env: { GZIP: "-n" } });
      files.push(name);
      archives.push({ platform, sha256: await sha256(`${out}/${name}`) });
    } finally {
      await Deno.remove(staging, { recursive: true });
    }
  }
  if (archives.length > 0) await write("kubectl-swh.yaml", krewManifest(version, baseUrl, archives));
  else {log(
      "no --plugin executables given: the krew manifest needs the plugin archives' checksums, so it is not written",
    );}

  const sums = [];
  for (const name of files.toSorted()) sums.push(`${await sha256(`${out}/${name}`)}  ${name}`);
  await Deno.writeTextFile(`${out}/SHA256SUMS`, sums.join("\n") + "\n");
  files.push("SHA256SUMS");

  const date = opts.date ?? new Date().toISOString().slice(0, 10);
  if (await changelogEntry(root, version, date, files)) log(`CHANGELOG.md: entry for ${version} added`);

  const tag = `${IMAGE_REPOSITORY}:${version}`;
  const imageCommands = [
    `docker build -f deploy/Dockerfile -t ${tag} .`,
    `kind load docker-image ${tag} --name <kind cluster>`,
    `# or, for a registry: docker tag ${tag} <registry>/service-with-healthchecks:${version} && docker push <registry>/service-with-healthchecks:${version}`,
    `#   and install with --set image.repository=<registry>/service-with-healthchecks`,
  ];
  return { out, files, bumped, imageCommands };
}

function parseArgs(args: string[]): ReleaseOptions & { help?: boolean } {
  const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const opts: ReleaseOptions & { help?: boolean } = { root, version: "", plugins: {} };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    if (flag === "--out") opts.out = value();
    else if (flag === "--base-url") opts.baseUrl = value();
    else if (flag === "--plugin") {
      const [platform, path] = value().split(/=(.*)/s, 2);
      (opts.plugins as Record<string, string>)[platform] = path;
    } else if (flag === "-h" || flag === "--help") opts.help = true;
    else opts.version = args[i];
  }
  return opts;
}

const USAGE = `usage: deno task release VERSION [--out DIR] [--base-url URL] [--plugin OS/ARCH=PATH]...
  VERSION     e.g. 0.2.0; written into ops/version.ts, deno.json, deploy/ image tags, the chart, the README
  --out       artifact folder (default dist/VERSION)
  --base-url  where the plugin archives will be published, e.g. https://github.com/ORG/REPO/releases/download
              (the krew manifest points at <base-url>/vVERSION/<archive>; needed with --plugin)
  --plugin    a kubectl-swh executable for a krew platform (${Object.keys(PLUGIN_TARGETS).join(", ")})`;

if (import.meta.main) {
  const opts = parseArgs(Deno.args);
  if (opts.help || !opts.version) {
    console.error(USAGE);
    Deno.exit(opts.help ? 0 : 2);
  }
  const result = await release(opts);
  if (result.bumped.length) console.log(`version ${opts.version} written into: ${result.bumped.join(", ")}`);
  console.log(`artifacts in ${result.out}:`);
  for (const f of result.files) console.log(`  ${f}`);
  if (!Object.keys(opts.plugins ?? {}).length) {
    console.log(`\nThe kubectl plugin is compiled where denort can be downloaded (not on our CI machines):`);
    for (const [platform, target] of Object.entries(PLUGIN_TARGETS)) {
      console.log(
        `  deno compile ${PLUGIN_PERMISSIONS.join(" ")} --target ${target} ` +
          `--output kubectl-swh-${platform.replace("/", "-")} mod.ts`,
      );
    }
    console.log(
      `then: deno task release ${opts.version} --base-url URL --plugin linux/amd64=kubectl-swh-linux-amd64 …`,
    );
  }
  console.log(`\nThe image is built by users (it needs denort and base images from the internet):`);
  for (const line of result.imageCommands) console.log(`  ${line}`);
}
