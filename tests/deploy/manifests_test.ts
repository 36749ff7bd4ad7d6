/** `kubectl apply -k deploy/` on a real apiserver (server dry run), and the properties the manifests promise. */
import { deepStrictEqual, ok } from "node:assert";
import { parseAllDocuments } from "yaml";
import { kubectl, kubectlOk } from "../support/kubectl.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Doc = any;

Deno.test("deploy/ is accepted by the apiserver, passes PodSecurity 'restricted', and keeps its promises", async () => {
  await kubectlOk(["apply", "--server-side", "-f", `${DEPLOY}namespace.yaml`]);
  const applied = await kubectl([
    "apply",
    "--server-side",
    "--force-conflicts",
    "--dry-run=server",
    "-k",
    DEPLOY,
  ]);
  deepStrictEqual(applied.code, 0, applied.stderr);
  ok(!/would violate PodSecurity/.test(applied.stderr), applied.stderr);

  const docs: Doc[] = parseAllDocuments(await kubectlOk(["kustomize", DEPLOY])).map((d) => d.toJS());
  const find = (kind: string) => docs.find((d) => d.kind === kind);
  const controller = find("Deployment");
  const agent = find("DaemonSet");
  deepStrictEqual(controller.spec.replicas, 2);
  ok(find("PodDisruptionBudget"), "the controller has a PodDisruptionBudget");
  // Control-plane nodes preferred, not required: managed clusters have none that take pods.
  const controllerPod = controller.spec.template.spec;
  deepStrictEqual(controllerPod.nodeSelector, undefined);
  deepStrictEqual(
    controllerPod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference
      .matchExpressions,
    [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }],
  );
  ok(controllerPod.tolerations.some((t: Doc) => t.key === "node-role.kubernetes.io/control-plane"));
  deepStrictEqual(agent.spec.template.spec.tolerations, [{ operator: "Exists" }]);
  const nodeName = agent.spec.template.spec.containers[0].env.find((e: Doc) => e.name === "NODE_NAME");
  deepStrictEqual(nodeName.valueFrom.fieldRef.fieldPath, "spec.nodeName");
  for (const workload of [controller, agent]) {
    const pod = workload.spec.template.spec;
    deepStrictEqual(pod.securityContext.runAsNonRoot, true);
    for (const container of pod.containers) {
      deepStrictEqual(container.securityContext.readOnlyRootFilesystem, true);
      deepStrictEqual(container.livenessProbe.httpGet.path, "/healthz");
      deepStrictEqual(container.readinessProbe.httpGet.path, "/readyz");
      ok(container.resources.requests.memory && container.resources.limits.memory);
    }
  }
});
