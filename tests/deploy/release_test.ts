/**
 * `deno task release`: every place that states the version agrees with ops/version.ts, and a release run on a
 * copy of the repository bumps them all and writes artifacts that check out (checksums, install manifest,
 * packaged chart that Helm renders, krew manifest whose checksum is its archive's, CHANGELOG entry).
 */
import { deepStrictEqual, ok } from "node:assert";
import { parseAllDocuments } from "yaml";
import { VERSION } from "../../ops/version.ts";
import { run } from "../../tools/cluster/exec.ts";
import {
  CHART_NAME,
  IMAGE_REPOSITORY,
  pluginArchiveName,
  release,
  statedVersions,
} from "../../tools/release.ts";
import { helmOk } from "../support/helm.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

// deno-lint-ignore no-explicit-any
type Obj = any;

Deno.test("every stated version (deno.json, deploy/ image tags, chart, README) is ops/version.ts VERSION", async () => {
  const stated = await statedVersions(ROOT);
  deepStrictEqual(stated.filter((s) => s.version !== VERSION), [], `VERSION is ${VERSION}`);
});

/** The repository's files without git metadata and build output (the release rewrites files in place). */
async function copyRepository(to: string): Promise<void> {
  await run("tar", [
    "-C",
    ROOT,
    "--exclude=./.git",
    "--exclude=./dist",
    "--exclude=./node_modules",
    "--exclude=./.deno",
    "-cf",
    `${to}.tar`,
    ".",
  ]);
  await Deno.mkdir(to);
  await run("tar", ["-C", to, "-xf", `${to}.tar`]);
  await Deno.remove(`${to}.tar`);
}

Deno.test("deno task release on a copy: bumps every version site, writes artifacts that check out", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "swh-release-" });
  try {
    const root = `${tmp}/repo`;
    await copyRepository(root);
    const standIn = `${tmp}/kubectl-swh`;
    // A stand-in executable: the real plugin is `deno compile`d where denort can be downloaded.
    await Deno.writeTextFile(standIn, "#!/bin/sh\necho kubectl-swh stand-in\n");
    const version = "9.8.7";
    const releaseOnCopy = (date: string) =>
      release({
        root,
        version,
        baseUrl: "https://example.com/swh/releases/download",
        plugins: { "linux/amd64": standIn },
        date,
        log: () => {},
      });
    const result = await releaseOnCopy("2026-12-01");
    const out = result.out;
    deepStrictEqual(out, `${root}/dist/${version}`);
    deepStrictEqual((await statedVersions(root)).filter((s) => s.version !== version), []);
    for (const file of ["ops/version.ts", "deno.json", "deploy/chart/Chart.yaml", "deploy/controller.yaml"]) {
      ok(result.bumped.includes(file), `${file} bumped`);
    }
    const archive = pluginArchiveName(version, "linux/amd64");
    deepStrictEqual(
      result.files.toSorted(),
      [
        "SHA256SUMS",
        archive,
        "kubectl-swh.yaml",
        `${CHART_NAME}-${version}.tgz`,
        `${CHART_NAME}-crds.yaml`,
        `${CHART_NAME}.yaml`,
        `${CHART_NAME}-monitoring.yaml`,
      ].toSorted(),
    );
    // SHA256SUMS covers every other file and verifies with the standard tool.
    const check = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    deepStrictEqual(check.stdout.trim().split("\n").length, result.files.length - 1);

    // The install manifest: kustomize's objects with the new image tag, namespace and CRDs included.
    const install = parseAllDocuments(await Deno.readTextFile(`${out}/${CHART_NAME}.yaml`)).map((d) =>
      d.toJS()
    );
    const kinds = install.map((o: Obj) => o.kind);
    for (const kind of ["Namespace", "CustomResourceDefinition", "Deployment", "DaemonSet", "ClusterRole"]) {
      ok(kinds.includes(kind), `install manifest has a ${kind}`);
    }
    for (const o of install.filter((o: Obj) => o.kind === "Deployment" || o.kind === "DaemonSet")) {
      deepStrictEqual(o.spec.template.spec.containers[0].image, `${IMAGE_REPOSITORY}:${version}`);
    }
    const monitoring = parseAllDocuments(await Deno.readTextFile(`${out}/${CHART_NAME}-monitoring.yaml`))
      .map((d) => d.toJS());
    deepStrictEqual(monitoring.map((o: Obj) => `${o.kind}/${o.metadata.name}`).toSorted(), [
      "PodMonitor/swh-agent",
      "PrometheusRule/swh",
      "Service/swh-controller-metrics",
      "ServiceMonitor/swh-controller",
    ]);
    deepStrictEqual(
      await Deno.readTextFile(`${out}/${CHART_NAME}-crds.yaml`),
      await Deno.readTextFile(`${ROOT}/deploy/chart/crds/servicewithhealthchecks.yaml`),
    );

    // The packaged chart is the new version and renders with the new image.
    const chart = parseAllDocuments(
      await helmOk(4, ["show", "chart", `${out}/${CHART_NAME}-${version}.tgz`], { cluster: false }),
    )[0].toJS();
    deepStrictEqual([chart.version, chart.appVersion], [version, version]);
    const rendered = await helmOk(4, [
      "template",
      "swh",
      `${out}/${CHART_NAME}-${version}.tgz`,
      "-n",
      "swh-system",
    ], {
      cluster: false,
    });
    ok(rendered.includes(`image: ${IMAGE_REPOSITORY}:${version}`), "the packaged chart uses the new tag");

    // krew: the manifest's checksum is the archive's; the archive holds what `bin` and `files` name.
    const krew = parseAllDocuments(await Deno.readTextFile(`${out}/kubectl-swh.yaml`))[0].toJS();
    deepStrictEqual(krew.spec.version, `v${version}`);
    const platform = krew.spec.platforms[0];
    deepStrictEqual(platform.selector.matchLabels, { os: "linux", arch: "amd64" });
    deepStrictEqual(platform.uri, `https://example.com/swh/releases/download/v${version}/${archive}`);
    const sum = (await run("sha256sum", [archive], { cwd: out })).stdout.split(" ")[0];
    deepStrictEqual(platform.sha256, sum);
    deepStrictEqual(platform.bin, "kubectl-swh");
    const listed = (await run("tar", ["-tzvf", archive], { cwd: out })).stdout.trim().split("\n");
    deepStrictEqual(listed.map((l) => l.split(/\s+/).at(-1)).toSorted(), ["README.md", "kubectl-swh"]);
    ok(listed.find((l) => l.endsWith("kubectl-swh"))?.startsWith("-rwxr-xr-x"), "the plugin is executable");

    const changelog = await Deno.readTextFile(`${root}/CHANGELOG.md`);
    ok(changelog.includes(`## ${version} — 2026-12-01`), changelog.slice(0, 500));
    // A second run changes nothing in the CHANGELOG and reproduces the same archives.
    const again = await releaseOnCopy("2026-12-02");
    deepStrictEqual(again.bumped, []);
    deepStrictEqual(await Deno.readTextFile(`${root}/CHANGELOG.md`), changelog);
    deepStrictEqual((await run("sha256sum", [archive], { cwd: out })).stdout.split(" ")[0], sum);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("deno task release refuses a version that is not semantic, before changing anything", async () => {
  let error: unknown;
  await release({ root: "/nonexistent", version: "v1", log: () => {} }).catch((e) => error = e);
  ok(error instanceof Error && /not a semantic version/.test(error.message), String(error));
});
