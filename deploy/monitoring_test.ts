/**
 * The Prometheus Operator component (deploy/components/monitoring): its objects point at what deploy/ runs, its
 * rules name only metrics the programs expose, and Prometheus' own `promtool` accepts the rules and passes their
 * unit tests (rules_test.yaml). The Prometheus Operator CRDs are not installed in our test cluster, so structure
 * is checked here rather than by a server dry run.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse, parseAllDocuments, stringify } from "yaml";
import { agentMetrics } from "../agent/metrics.ts";
import { controllerMetrics } from "../controller/metrics.ts";
import { Registry } from "../ops/metrics.ts";
import { processMetrics } from "../ops/process_metrics.ts";

const DEPLOY = new URL("./", import.meta.url).pathname;
const COMPONENT = `${DEPLOY}components/monitoring/`;

// deno-lint-ignore no-explicit-any
type Doc = any;

function load(path: string): Doc[] {
  return parseAllDocuments(Deno.readTextFileSync(path)).map((d) => d.toJS()).filter((d) => d);
}

function subset(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const component = parse(Deno.readTextFileSync(`${COMPONENT}kustomization.yaml`));
const objects = (component.resources as string[]).flatMap((file) => load(`${COMPONENT}${file}`));
const find = (kind: string) => objects.find((o) => o.kind === kind);
const base = ["controller.yaml", "agent.yaml"].flatMap((file) => load(`${DEPLOY}${file}`));
const controller = base.find((o) => o.kind === "Deployment");
const agent = base.find((o) => o.kind === "DaemonSet");

Deno.test("the monitoring component is a kustomize Component listing every manifest in its folder", () => {
  deepStrictEqual([component.apiVersion, component.kind], ["kustomize.config.k8s.io/v1alpha1", "Component"]);
  const files = [...Deno.readDirSync(COMPONENT)].map((e) => e.name)
    .filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml" && n !== "rules_test.yaml").sort();
  deepStrictEqual([...component.resources].sort(), files);
  deepStrictEqual(objects.map((o) => o.kind).sort(), [
    "PodMonitor",
    "PrometheusRule",
    "Service",
    "ServiceMonitor",
  ]);
  for (const o of objects) strictEqual(o.metadata.namespace, "swh-system", `${o.kind} ${o.metadata.name}`);
});

Deno.test("the metrics Service and ServiceMonitor reach every controller replica's ops port", () => {
  const service = find("Service");
  const monitor = find("ServiceMonitor");
  const pod = controller.spec.template;
  ok(subset(service.spec.selector, pod.metadata.labels), "the Service selects the controller pods");
  strictEqual(service.spec.clusterIP, "None", "headless: each replica, standby included, is a target");
  const opsPort = pod.spec.containers[0].ports.find((p: Doc) => p.name === service.spec.ports[0].targetPort);
  ok(opsPort, "the Service's targetPort is a named port of the controller container");
  ok(
    subset(monitor.spec.selector.matchLabels, service.metadata.labels),
    "the ServiceMonitor selects the Service",
  );
  deepStrictEqual(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace]);
  const endpoint = monitor.spec.endpoints[0];
  strictEqual(endpoint.port, service.spec.ports[0].name);
  strictEqual(endpoint.path, "/metrics");
  strictEqual(endpoint.honorLabels, true, "an SWH's namespace label must not be replaced by the target's");
  deepStrictEqual(endpoint.relabelings[0], { targetLabel: "job", replacement: "swh-controller" });
});

Deno.test("the PodMonitor reaches every agent's ops port", () => {
  const monitor = find("PodMonitor");
  const pod = agent.spec.template;
  ok(subset(monitor.spec.selector.matchLabels, pod.metadata.labels), "the PodMonitor selects the agent pods");
  deepStrictEqual(monitor.spec.namespaceSelector.matchNames, [agent.metadata.namespace]);
  const endpoint = monitor.spec.podMetricsEndpoints[0];
  ok(pod.spec.containers[0].ports.some((p: Doc) => p.name === endpoint.port), "a named port of the agent");
  strictEqual(endpoint.honorLabels, true);
  deepStrictEqual(endpoint.relabelings[0], { targetLabel: "job", replacement: "swh-agent" });
});

/** Every metric name the two programs expose, as Prometheus stores them (histograms as their three series). */
function exposedNames(): Set<string> {
  const agentRegistry = new Registry();
  agentMetrics(agentRegistry);
  const text = agentRegistry.expose() + controllerMetrics().registry.expose() + processMetrics();
  const names = new Set(["up"]);
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    }
  }
  return names;
}

const rules = find("PrometheusRule").spec.groups.flatMap((g: Doc) => g.rules) as Doc[];

Deno.test("the rules name only metrics the agent, the controller or every ops server expose", () => {
  const exposed = exposedNames();
  for (const rule of rules) {
    // Metric names: identifiers followed by a selector, a range or the end of an aggregation's argument.
    const used = [...(rule.expr as string).matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=[{[)]|\s*==|\s*$)/gm)]
      .map((m) => m[1])
      .filter((n) => /^(swh_|process_|up$)/.test(n));
    ok(used.length > 0, `${rule.alert} names a metric`);
    for (const name of used) ok(exposed.has(name), `${rule.alert}: ${name} is not exposed by any program`);
  }
  deepStrictEqual(rules.map((r) => r.alert).filter((a) => !/^SWH[A-Z][A-Za-z]+$/.test(a)), []);
  for (const rule of rules) ok(["warning", "critical"].includes(rule.labels.severity), rule.alert);
});

function promtool(args: string[], cwd: string): { code: number; output: string } {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("promtool", { args, cwd, stdin: "null" }).outputSync();
  } catch (error) {
    throw new Error(
      "promtool is missing: `apt-get install -y --no-install-recommends prometheus` (.ci/run installs it)",
      { cause: error },
    );
  }
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: decode(out.stdout) + decode(out.stderr) };
}

Deno.test("promtool check rules accepts the PrometheusRule's groups and promtool test rules passes rules_test.yaml", () => {
  const dir = Deno.makeTempDirSync({ prefix: "swh-rules-" });
  try {
    Deno.writeTextFileSync(`${dir}/rules.yaml`, stringify({ groups: find("PrometheusRule").spec.groups }));
    Deno.copyFileSync(`${COMPONENT}rules_test.yaml`, `${dir}/rules_test.yaml`);
    const check = promtool(["check", "rules", "rules.yaml"], dir);
    strictEqual(check.code, 0, check.output);
    ok(check.output.includes(`SUCCESS: ${rules.length} rules found`), check.output);
    const test = promtool(["test", "rules", "rules_test.yaml"], dir);
    strictEqual(test.code, 0, test.output);
    const tested = new Set(
      [...Deno.readTextFileSync(`${dir}/rules_test.yaml`).matchAll(/alertname: (\S+)/g)].map((m) => m[1]),
    );
    deepStrictEqual(
      rules.map((r) => r.alert).filter((a) => !tested.has(a)),
      [],
      "every alert has a test case",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
