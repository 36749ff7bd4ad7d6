/**
 * The Helm chart (deploy/chart/) offline, with Helm 4 and Helm 3: it renders exactly the objects of the
 * kustomize base (one source of truth), `helm lint --strict` passes, values.schema.json rejects bad values
 * naming the field, and each value changes what it says. The cluster side is chart_lifecycle_test.ts.
 */
import { deepStrictEqual, ok } from "node:assert";
import { parseAllDocuments } from "yaml";
import { VERSION } from "../../ops/version.ts";
import { CHART_DIR, syncChart } from "../../tools/chart.ts";
import { HELM_MAJORS } from "../../tools/helm.ts";
import { helm, helmOk } from "../support/helm.ts";
import { kubectlOk } from "../support/kubectl.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Obj = any;

/** The labels the chart adds and kustomize does not: Helm's conventional four, nothing else. */
const HELM_LABELS = [
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "helm.sh/chart",
];

function parse(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o !== null);
}

function key(o: Obj): string {
  return `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Objects by kind/namespace/name, with Helm's own labels removed (after checking they are all there). */
function byKey(objects: Obj[], fromHelm: boolean): Map<string, Obj> {
  const map = new Map<string, Obj>();
  for (const o of objects) {
    if (fromHelm && o.kind !== "CustomResourceDefinition") {
      for (const label of HELM_LABELS) {
        ok(o.metadata.labels?.[label], `${key(o)} lacks the label ${label}`);
        delete o.metadata.labels[label];
      }
    }
    ok(!map.has(key(o)), `${key(o)} rendered twice`);
    map.set(key(o), o);
  }
  return map;
}

async function template(major: 3 | 4, args: string[]): Promise<Obj[]> {
  return parse(
    await helmOk(major, ["template", "swh", CHART_DIR, "--include-crds", ...args], { cluster: false }),
  );
}

async function kustomize(): Promise<Obj[]> {
  return parse(await kubectlOk(["kustomize", DEPLOY]));
}

/** deploy/ with the monitoring component, built as users build it: from an overlay beside deploy/. */
async function kustomizeWithMonitoring(): Promise<Obj[]> {
  // kustomize refuses an overlay inside the base's folder (a cycle), so it goes next to deploy/.
  const overlay = await Deno.makeTempDir({ dir: `${DEPLOY}..`, prefix: ".overlay-" });
  try {
    await Deno.writeTextFile(
      `${overlay}/kustomization.yaml`,
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../deploy]\n" +
        "components: [../deploy/components/monitoring]\n",
    );
    return parse(await kubectlOk(["kustomize", overlay]));
  } finally {
    await Deno.remove(overlay, { recursive: true });
  }
}

for (const major of HELM_MAJORS) {
  Deno.test(`helm ${major}: with default values the chart renders exactly the objects of deploy/ (kustomize)`, async () => {
    const base = byKey(await kustomize(), false);
    // Release in swh-system: the namespace is the user's (helm install -n swh-system); every other object equal.
    const inRelease = byKey(await template(major, ["-n", "swh-system"]), true);
    deepStrictEqual(
      [...inRelease.keys()].sort(),
      [...base.keys()].filter((k) => !k.startsWith("Namespace/")).sort(),
    );
    for (const [k, o] of inRelease) deepStrictEqual(o, base.get(k), k);
    // namespace.create renders the Namespace too (for a release kept in another namespace): all of deploy/.
    const withNamespace = byKey(
      await template(major, [
        "-n",
        "default",
        "--set",
        "namespace.create=true",
        "--set",
        "namespace.name=swh-system",
      ]),
      true,
    );
    deepStrictEqual([...withNamespace.keys()].sort(), [...base.keys()].sort());
    for (const [k, o] of withNamespace) deepStrictEqual(o, base.get(k), k);
  });

  Deno.test(`helm ${major}: monitoring.enabled renders exactly deploy/ with deploy/components/monitoring`, async () => {
    const base = byKey(await kustomizeWithMonitoring(), false);
    const chart = byKey(
      await template(major, ["-n", "swh-system", "--set", "monitoring.enabled=true"]),
      true,
    );
    const monitoring = [...chart.keys()].filter((k) =>
      /^(ServiceMonitor|PodMonitor|PrometheusRule)\//.test(k)
    );
    deepStrictEqual(monitoring.length, 3, [...chart.keys()].join(", "));
    deepStrictEqual(
      [...chart.keys()].sort(),
      [...base.keys()].filter((k) => !k.startsWith("Namespace/")).sort(),
    );
    for (const [k, o] of chart) deepStrictEqual(o, base.get(k), k);
  });

  Deno.test(`helm ${major}: lint --strict passes, with default and with every optional value set`, async () => {
    const lint = await helm(major, ["lint", "--strict", CHART_DIR], { cluster: false });
    deepStrictEqual(lint.code, 0, lint.stdout + lint.stderr);
    const all = await helm(major, [
      "lint",
      "--strict",
      CHART_DIR,
      "-f",
      `${DEPLOY}../tests/deploy/chart_values_all.yaml`,
    ], {
      cluster: false,
    });
    deepStrictEqual(all.code, 0, all.stdout + all.stderr);
  });

  Deno.test(`helm ${major}: values.schema.json rejects bad values and names the field`, async () => {
    const cases: [string[], RegExp][] = [
      [["--set", "controller.replicaCount=0"], /controller\/replicaCount|controller\.replicaCount/],
      [["--set", "agent.logLevel=verbose"], /agent\/logLevel|agent\.logLevel/],
      [["--set", "controlller.replicaCount=1"], /controlller/],
      [["--set", "image.digest=latest"], /image\/digest|image\.digest/],
      [["--set", "controller.tolerations[0].operator=Sometimes"], /controller\/tolerations\/0\/operator/],
      [["--set", "controller.leaderElection.leaseDurationSeconds=-1"], /leaseDurationSeconds/],
      [["--set", "agent.updateStrategy.rollingUpdate.maxUnavailable=ten"], /maxUnavailable/],
      [["--set", "namespace.name=Not_A_Namespace"], /namespace\/name|namespace\.name/],
      [["--set-string", "controller.resources=big"], /controller\/resources|controller\.resources/],
      [["--set", "monitoring.interval=often"], /monitoring\/interval|monitoring\.interval/],
    ];
    for (const [args, field] of cases) {
      const result = await helm(major, ["template", "swh", CHART_DIR, ...args], { cluster: false });
      ok(result.code !== 0, `${args.join(" ")} was accepted`);
      ok(
        field.test(result.stderr),
        `${args.join(" ")}: the error does not name the field:\n${result.stderr}`,
      );
    }
    const sameNamespace = await helm(major, [
      "template",
      "swh",
      CHART_DIR,
      "-n",
      "swh-system",
      "--set",
      "namespace.create=true",
    ], { cluster: false });
    ok(sameNamespace.code !== 0 && /namespace\.create/.test(sameNamespace.stderr), sameNamespace.stderr);
  });
}

Deno.test("chart values change what they say (helm 4)", async () => {
  const objects = await template(4, ["-n", "ops", "-f", `${DEPLOY}../tests/deploy/chart_values_all.yaml`]);
  const find = (kind: string, name?: string) => {
    const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
    ok(found, `${kind} ${name ?? ""} is rendered`);
    return found;
  };
  const controller = find("Deployment");
  const agent = find("DaemonSet");
  const cpod = controller.spec.template.spec;
  const apod = agent.spec.template.spec;
  for (const o of objects.filter((o) => o.kind !== "CustomResourceDefinition")) {
    deepStrictEqual(o.metadata.labels["team"], "network", `${key(o)}: commonLabels`);
    deepStrictEqual(o.metadata.annotations?.["owner"], "sre@example.com", `${key(o)}: commonAnnotations`);
    if (o.metadata.namespace !== undefined) deepStrictEqual(o.metadata.namespace, "swh-ops", key(o));
  }
  deepStrictEqual(find("Namespace").metadata.name, "swh-ops");
  deepStrictEqual(find("Namespace").metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  const digest = "sha256:" + "ab".repeat(32);
  deepStrictEqual(cpod.containers[0].image, `registry.example.com/swh@${digest}`);
  deepStrictEqual(apod.containers[0].image, `registry.example.com/swh@${digest}`);
  deepStrictEqual(cpod.containers[0].imagePullPolicy, "Always");
  deepStrictEqual(cpod.imagePullSecrets, [{ name: "regcred" }]);
  deepStrictEqual(controller.spec.replicas, 3);
  const env = (pod: Obj) =>
    Object.fromEntries(pod.containers[0].env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));
  const cenv = env(cpod);
  deepStrictEqual(cenv.SWH_LOG_LEVEL, "debug");
  deepStrictEqual(cenv.SWH_LEASE_DURATION_SECONDS, "30");
  deepStrictEqual(cenv.SWH_RENEW_DEADLINE_SECONDS, "20");
  deepStrictEqual(cenv.SWH_RETRY_PERIOD_SECONDS, "4");
  deepStrictEqual(cenv.SWH_CONCURRENCY, "16");
  deepStrictEqual(cenv.SWH_RESYNC_SECONDS, "300");
  deepStrictEqual(cenv.EXTRA, "1");
  deepStrictEqual(env(apod).SWH_LOG_LEVEL, "warn");
  deepStrictEqual(cpod.containers[0].resources.limits.memory, "1Gi");
  deepStrictEqual(apod.containers[0].resources.requests.cpu, "20m");
  deepStrictEqual(cpod.nodeSelector, { "kubernetes.io/os": "linux" });
  deepStrictEqual(apod.nodeSelector, { "swh.example.com/probe": "true" });
  deepStrictEqual(cpod.tolerations, [{
    key: "dedicated",
    operator: "Equal",
    value: "infra",
    effect: "NoSchedule",
  }]);
  deepStrictEqual(apod.tolerations, [{ key: "gpu", operator: "Exists", effect: "NoSchedule" }]);
  ok(
    cpod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution,
    "controller affinity replaced",
  );
  deepStrictEqual(cpod.affinity.podAntiAffinity, undefined);
  ok(apod.affinity.nodeAffinity, "agent affinity");
  deepStrictEqual(cpod.topologySpreadConstraints[0].topologyKey, "topology.kubernetes.io/zone");
  deepStrictEqual(cpod.priorityClassName, undefined);
  deepStrictEqual(apod.priorityClassName, "node-critical-custom");
  deepStrictEqual(controller.spec.template.metadata.labels["tier"], "ops");
  deepStrictEqual(controller.spec.template.metadata.labels["app.kubernetes.io/name"], "swh-controller");
  deepStrictEqual(agent.spec.template.metadata.annotations, { "prometheus.io/scrape": "true" });
  deepStrictEqual(cpod.containers[0].livenessProbe.timeoutSeconds, 3);
  deepStrictEqual(apod.containers[0].readinessProbe.periodSeconds, 15);
  deepStrictEqual(agent.spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
  deepStrictEqual(
    find("ServiceAccount", "swh-controller").metadata.annotations["iam.example.com/role"],
    "swh",
  );
  ok(!objects.some((o) => o.kind === "PodDisruptionBudget"), "podDisruptionBudget.enabled=false");
  ok(
    !objects.some((o) => o.kind === "FlowSchema" || o.kind === "PriorityLevelConfiguration"),
    "flowControl off",
  );
  // Monitoring: the selection label on the Prometheus Operator objects, the interval, rules switched off.
  for (const kind of ["ServiceMonitor", "PodMonitor"]) {
    deepStrictEqual(find(kind).metadata.labels.release, "kube-prometheus-stack", kind);
    deepStrictEqual(find(kind).spec.namespaceSelector.matchNames, ["swh-ops"], kind);
  }
  deepStrictEqual(find("ServiceMonitor").spec.endpoints[0].interval, "15s");
  deepStrictEqual(find("Service", "swh-controller-metrics").spec.clusterIP, "None");
  ok(!objects.some((o) => o.kind === "PrometheusRule"), "prometheusRule.enabled=false");
  // Subjects and role bindings follow the namespace.
  const binding = find("ClusterRoleBinding", "swh-agent");
  deepStrictEqual(binding.subjects, [{ kind: "ServiceAccount", name: "swh-agent", namespace: "swh-ops" }]);
});

Deno.test("chart metadata: version and appVersion are ops/version.ts VERSION; crds/ and files/ are current", async () => {
  const chart = parse(await Deno.readTextFile(`${CHART_DIR}Chart.yaml`))[0];
  deepStrictEqual(chart.version, VERSION);
  deepStrictEqual(chart.appVersion, VERSION);
  deepStrictEqual(
    await syncChart(true),
    "current",
    "deploy/chart/crds or files is stale: run `deno task crds`",
  );
});
