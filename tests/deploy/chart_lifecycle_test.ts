/**
 * The chart on a real apiserver, with Helm 4 and Helm 3: install into a PodSecurity `restricted` namespace
 * (server-side validation of every object; the controller's pods are admitted), a bad value refused at
 * install naming the field, the README's CRD upgrade command, upgrade (changes exactly what the new values
 * say), rollback, and uninstall (nothing of the release left; the CRDs stay, as documented).
 */
import { deepStrictEqual, ok } from "node:assert";
import { parseAllDocuments } from "yaml";
import { CHART_DIR } from "../../tools/chart.ts";
import { run } from "../../tools/cluster/exec.ts";
import type { HelmMajor } from "../../tools/helm.ts";
import { helm, helmOk } from "../support/helm.ts";
import { kubectl, kubectlGet, kubectlOk } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";

// deno-lint-ignore no-explicit-any
type Obj = any;

const CRDS = [
  "servicewithhealthchecks.network.deckhouse.io",
  "servicewithhealthchecksnodereports.network.deckhouse.io",
];

/** Every listable resource type of the cluster, for "is anything of the release left?". */
async function listableTypes(): Promise<string[]> {
  const names = (await kubectlOk(["api-resources", "--verbs=list", "-o", "name"])).trim().split("\n");
  // Events carry no labels of ours and are numerous; everything else is looked at.
  return names.filter((n) => n !== "events" && n !== "events.events.k8s.io");
}

/** Objects (kind/namespace/name) in the whole cluster that carry `selector`. */
async function objectsWith(selector: string): Promise<string[]> {
  const types = await listableTypes();
  const out = await kubectlOk(["get", types.join(","), "-A", "-l", selector, "-o", "json"]);
  return JSON.parse(out).items.map((o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
}

/**
 * Deletes what other tests may have left of the operator's fixed-name cluster objects (they apply deploy/
 * with kubectl): Helm rightly refuses to take over objects it did not create. The CRDs go too, so that the
 * install really creates them from the chart's crds/.
 */
async function clearOperatorObjects(): Promise<void> {
  await kubectlOk([
    "delete",
    "clusterrole,clusterrolebinding",
    "swh-controller",
    "swh-agent",
    "--ignore-not-found",
  ]);
  await kubectlOk([
    "delete",
    "flowschema",
    "swh-agents",
    "swh-controller",
    "swh-controller-leader-election",
    "--ignore-not-found",
  ]);
  await kubectlOk(["delete", "prioritylevelconfiguration", "swh-agents", "--ignore-not-found"]);
  // The admission policies (and bindings, named alike) of deploy/, as other tests apply them.
  const policies = parseAllDocuments(
    await Deno.readTextFile(new URL("../../deploy/admission.yaml", import.meta.url)),
  ).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } })
    .filter((o) => o?.kind === "ValidatingAdmissionPolicy").map((o) => o.metadata?.name ?? "");
  await kubectlOk([
    "delete",
    "validatingadmissionpolicy,validatingadmissionpolicybinding",
    ...policies,
    "--ignore-not-found",
  ]);
  await kubectlOk(["delete", "crd", ...CRDS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
}

async function restrictedNamespace(name: string): Promise<void> {
  await kubectlOk(["create", "namespace", name]);
  await kubectlOk([
    "label",
    "namespace",
    name,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/warn=restricted",
  ]);
}

async function deleteNamespace(name: string): Promise<void> {
  await kubectlOk(["delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
}

/** How many pods in `ns` match `selector`. */
async function podCount(ns: string, selector: string): Promise<number> {
  return (await kubectlGet<Obj>(["pods", "-n", ns, "-l", selector]))?.items.length ?? 0;
}

function resourceVersion(o: Obj | undefined): string | undefined {
  return o?.metadata?.resourceVersion;
}

async function lifecycle(
  major: HelmMajor,
  release: string,
  ns: string,
  extraInstallArgs: string[],
  createdNamespace?: string,
): Promise<void> {
  const operatorNs = createdNamespace ?? ns;
  const started = performance.now();
  const step = (what: string) =>
    console.log(`helm ${major}: ${what} at ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // A bad value is refused by `helm install` itself, naming the field: no release, no operator object. (Helm
  // installs crds/ before it validates the values, so the CRDs may exist after a refused install.)
  const bad = await helm(major, [
    "install",
    release,
    CHART_DIR,
    "-n",
    ns,
    ...extraInstallArgs,
    "--set",
    "agent.logLevel=loud",
  ]);
  ok(bad.code !== 0 && /agent[./]logLevel/.test(bad.stderr), bad.stderr);
  deepStrictEqual(
    JSON.parse(await helmOk(major, ["list", "-n", ns, "--deployed", "--failed", "--pending", "-o", "json"])),
    [],
  );
  deepStrictEqual(
    await objectsWith(`app.kubernetes.io/instance=${release}`),
    [],
    "a refused install created nothing",
  );

  // Install (no --wait: this control plane has no kubelet, pods are created but never run).
  const install = await helm(major, ["install", release, CHART_DIR, "-n", ns, ...extraInstallArgs]);
  deepStrictEqual(install.code, 0, install.stderr);
  ok(!/would violate PodSecurity/.test(install.stderr + install.stdout), install.stderr);
  step("installed");
  for (const crd of CRDS) ok(await kubectlGet(["crd", crd]), `helm installed the CRD ${crd}`);
  const manifest = parseAllDocuments(await helmOk(major, ["get", "manifest", release, "-n", ns]))
    .map((d) => d.toJS()).filter((o) => o !== null);
  ok(manifest.length >= 14, `the release holds the operator's objects (${manifest.length})`);
  for (const o of manifest) {
    const args = [o.kind, o.metadata.name, ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])];
    ok(await kubectlGet(args), `${args.join(" ")} exists`);
  }
  // The RBAC follows the operator namespace: the agents of this install may read Secrets there only.
  const agentSa = `system:serviceaccount:${operatorNs}:swh-agent`;
  const canI = async (verb: string, what: string, where: string) =>
    (await kubectl(["auth", "can-i", verb, what, `--as=${agentSa}`, "-n", where])).stdout.trim();
  deepStrictEqual(await canI("watch", "secrets", operatorNs), "yes");
  deepStrictEqual(await canI("get", "secrets", "default"), "no");
  // The Deployment's pods were admitted under PodSecurity `restricted` (enforced on pods, not workloads).
  await waitFor(
    async () => await podCount(operatorNs, "app.kubernetes.io/name=swh-controller") === 2,
    {
      what: "the controller's pods to be created in the restricted namespace",
      timeoutMs: 60_000,
      intervalMs: 250,
    },
  );
  step("pods admitted");

  // The README's CRD upgrade story, on CRDs that Helm created: a changed CRD is applied over them.
  const chartCopy = `${await Deno.makeTempDir({ prefix: "swh-chart-" })}/chart`;
  await run("cp", ["-r", CHART_DIR, chartCopy]);
  const crdText = await Deno.readTextFile(`${CHART_DIR}crds/servicewithhealthchecks.yaml`);
  await Deno.writeTextFile(
    `${chartCopy}/crds/servicewithhealthchecks.yaml`,
    crdText.replaceAll(
      "    app.kubernetes.io/name: service-with-healthchecks\n",
      '    app.kubernetes.io/name: service-with-healthchecks\n    swh.test/crd-revision: "2"\n',
    ),
  );
  const crds = await helmOk(major, ["show", "crds", chartCopy], { cluster: false });
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", "-"], crds);
  for (const crd of CRDS) {
    deepStrictEqual(
      (await kubectlGet<Obj>(["crd", crd]))?.metadata.labels["swh.test/crd-revision"],
      "2",
      crd,
    );
  }

  // Upgrade: new image tag, debug logs, three replicas, no PDB, no flow control, agents on Linux nodes only.
  const before = {
    clusterRole: await kubectlGet<Obj>(["clusterrole", "swh-agent"]),
    deployment: await kubectlGet<Obj>(["deployment", "swh-controller", "-n", operatorNs]),
    daemonSet: await kubectlGet<Obj>(["daemonset", "swh-agent", "-n", operatorNs]),
  };
  const upgradeArgs = [
    // As the README says: the user's values kept, the new chart's defaults for values it adds.
    "--reset-then-reuse-values",
    "--set",
    "image.tag=0.0.0-upgrade",
    "--set",
    "controller.logLevel=debug",
    "--set",
    "controller.replicaCount=3",
    "--set",
    "controller.podDisruptionBudget.enabled=false",
    "--set",
    "flowControl.enabled=false",
    "--set",
    "agent.nodeSelector.kubernetes\\.io/os=linux",
  ];
  await helmOk(major, ["upgrade", release, chartCopy, "-n", ns, ...extraInstallArgs, ...upgradeArgs]);
  step("upgraded");
  const deployment = await kubectlGet<Obj>(["deployment", "swh-controller", "-n", operatorNs]);
  const daemonSet = await kubectlGet<Obj>(["daemonset", "swh-agent", "-n", operatorNs]);
  deepStrictEqual(deployment.spec.replicas, 3);
  ok(deployment.spec.template.spec.containers[0].image.endsWith(":0.0.0-upgrade"));
  ok(daemonSet.spec.template.spec.containers[0].image.endsWith(":0.0.0-upgrade"));
  ok(
    deployment.spec.template.spec.containers[0].env.some((e: Obj) =>
      e.name === "SWH_LOG_LEVEL" && e.value === "debug"
    ),
  );
  deepStrictEqual(daemonSet.spec.template.spec.nodeSelector, { "kubernetes.io/os": "linux" });
  deepStrictEqual(await kubectlGet(["pdb", "swh-controller", "-n", operatorNs]), undefined, "PDB removed");
  deepStrictEqual(await kubectlGet(["flowschema", "swh-agents"]), undefined, "FlowSchema removed");
  deepStrictEqual(await kubectlGet(["prioritylevelconfiguration", "swh-agents"]), undefined);
  // What the new values do not touch is not written at all.
  deepStrictEqual(
    resourceVersion(await kubectlGet<Obj>(["clusterrole", "swh-agent"])),
    resourceVersion(before.clusterRole),
    "an unchanged ClusterRole is not rewritten by the upgrade",
  );
  ok(resourceVersion(deployment) !== resourceVersion(before.deployment));
  ok(resourceVersion(daemonSet) !== resourceVersion(before.daemonSet));
  // Helm does not touch crds/ on upgrade: the CRDs keep what the upgrade command applied.
  deepStrictEqual((await kubectlGet<Obj>(["crd", CRDS[0]]))?.metadata.labels["swh.test/crd-revision"], "2");

  // Rollback to the first revision brings back what the upgrade removed or changed.
  await helmOk(major, ["rollback", release, "1", "-n", ns]);
  step("rolled back");
  const rolledBack = await kubectlGet<Obj>(["deployment", "swh-controller", "-n", operatorNs]);
  deepStrictEqual(rolledBack.spec.replicas, 2);
  ok(!rolledBack.spec.template.spec.containers[0].image.endsWith(":0.0.0-upgrade"));
  ok(!rolledBack.spec.template.spec.containers[0].env.some((e: Obj) => e.name === "SWH_LOG_LEVEL"));
  ok(await kubectlGet(["pdb", "swh-controller", "-n", operatorNs]), "PDB back");
  ok(await kubectlGet(["flowschema", "swh-agents"]), "FlowSchema back");
  deepStrictEqual(
    (await kubectlGet<Obj>(["daemonset", "swh-agent", "-n", operatorNs])).spec.template.spec.nodeSelector,
    undefined,
  );
  const history = JSON.parse(await helmOk(major, ["history", release, "-n", ns, "-o", "json"]));
  deepStrictEqual(history.map((r: Obj) => r.revision), [1, 2, 3]);

  // Uninstall: nothing that carries the release's label is left, nor any object of the manifest; the pods
  // go with their Deployment (garbage collection); the CRDs stay (README: users' resources survive).
  await helmOk(major, ["uninstall", release, "-n", ns]);
  step("uninstalled");
  await waitFor(
    async () => (await objectsWith(`app.kubernetes.io/instance=${release}`)).length === 0,
    { what: "the release's objects to be gone", timeoutMs: 60_000, intervalMs: 500 },
  );
  for (const o of manifest) {
    const args = [o.kind, o.metadata.name, ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])];
    const left = await kubectlGet<Obj>(args);
    ok(left === undefined || left.metadata.deletionTimestamp, `${args.join(" ")} is left after uninstall`);
  }
  await waitFor(
    async () => await podCount(operatorNs, "app.kubernetes.io/part-of=service-with-healthchecks") === 0,
    { what: "the controller's pods to be garbage-collected", timeoutMs: 60_000, intervalMs: 500 },
  );
  const leftovers = (await objectsWith("app.kubernetes.io/part-of=service-with-healthchecks"))
    .filter((k) => !k.startsWith("CustomResourceDefinition/") && !k.startsWith(`Namespace//${ns}`));
  // Other tests' `kubectl apply` of deploy/namespace.yaml leaves a labelled swh-system: not ours.
  deepStrictEqual(leftovers.filter((k) => k !== "Namespace//swh-system"), []);
  for (const crd of CRDS) ok(await kubectlGet(["crd", crd]), `${crd} is kept on uninstall`);
  if (createdNamespace) {
    const gone = await kubectlGet<Obj>(["namespace", createdNamespace]);
    ok(gone === undefined || gone.metadata.deletionTimestamp, "the chart's Namespace goes with the release");
  }
  await Deno.remove(chartCopy.replace(/\/chart$/, ""), { recursive: true });
}

Deno.test("helm 4: install into a restricted namespace, upgrade, rollback, uninstall", async () => {
  await clearOperatorObjects();
  const ns = "swh-helm4";
  await deleteNamespace(ns);
  await restrictedNamespace(ns);
  try {
    await lifecycle(4, "swh", ns, []);
  } finally {
    await deleteNamespace(ns);
  }
});

Deno.test("helm 3: the chart creates the operator namespace (release kept elsewhere); same lifecycle", async () => {
  await clearOperatorObjects();
  const releaseNs = "swh-helm3-release";
  const operatorNs = "swh-helm3";
  await deleteNamespace(operatorNs);
  await deleteNamespace(releaseNs);
  await kubectlOk(["create", "namespace", releaseNs]);
  try {
    await lifecycle(3, "swh3", releaseNs, [
      "--set",
      "namespace.create=true",
      "--set",
      `namespace.name=${operatorNs}`,
      "--set",
      "namespace.labels.pod-security\\.kubernetes\\.io/warn=restricted",
    ], operatorNs);
  } finally {
    await deleteNamespace(operatorNs);
    await deleteNamespace(releaseNs);
  }
});
