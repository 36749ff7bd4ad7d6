/**
 * Truthful status: a status write the apiserver refuses (seen: 403 right after an apiserver restart) is retried
 * until the status matches the slices — not dropped until something else happens to change.
 */
import { deepStrictEqual, ok } from "node:assert";
import { parse } from "yaml";
import { waitFor } from "../support/wait.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { installSwhCrd } from "../support/crd.ts";
import { requireTestKubeconfig } from "../support/env.ts";
import {
  Api,
  EndpointSlices,
  HttpTransport,
  loadKubeconfig,
  Namespaces,
  Nodes,
  staticToken,
} from "../../kube/mod.ts";
import { startController, SwhResource } from "../../controller/mod.ts";
import { createLogger } from "../../ops/log.ts";
import {
  agentFieldManager,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  SERVICE_NAME_LABEL,
} from "../../crds/conventions.ts";
import { adminTransport, applySwh, swhBody, waitForCondition } from "./helpers.ts";

const RBAC = new URL("../../deploy/rbac.yaml", import.meta.url).pathname;

/** The rules of the controller's roles in deploy/rbac.yaml (what the real controller may do). */
function controllerRules(kind: "ClusterRole" | "Role"): Record<string, unknown>[] {
  const docs = Deno.readTextFileSync(RBAC).split(/^---$/m).map((d) => parse(d) as Record<string, unknown>);
  const role = docs.find((d) =>
    d?.kind === kind && (d.metadata as { name: string }).name === "swh-controller"
  );
  return (role as { rules: Record<string, unknown>[] }).rules;
}

Deno.test("controller: a refused status write is retried until the status matches the slices", async () => {
  await installSwhCrd();
  const admin = await adminTransport();
  const id = crypto.randomUUID().slice(0, 6);
  const ns = `refused-${id}`,
    opNs = `refused-op-${id}`,
    role = `swh-refused-${id}`,
    node = `node-refused-${id}`;
  const namespaces = Api.cluster(admin, Namespaces);
  for (const name of [ns, opNs]) await namespaces.create({ metadata: { name } });
  // Slices of nodes that do not exist are removed by the controller: the agent's node must exist.
  await Api.cluster(admin, Nodes).create({ metadata: { name: node } });
  const clusterRole = (rules: Record<string, unknown>[]) =>
    JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: role },
      rules,
    });
  const allRules = controllerRules("ClusterRole");
  // The same rules without the status subresource: every status write is refused with 403.
  const withoutStatus = allRules.filter((r) =>
    !(r.resources as string[]).includes("servicewithhealthchecks/status")
  );
  ok(withoutStatus.length === allRules.length - 1);
  await kubectlOk(["apply", "-f", "-"], clusterRole(allRules));
  await kubectlOk(["-n", opNs, "create", "serviceaccount", "controller"]);
  await kubectlOk([
    "create",
    "clusterrolebinding",
    role,
    `--clusterrole=${role}`,
    `--serviceaccount=${opNs}:controller`,
  ]);
  await kubectlOk(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "controller", namespace: opNs },
      rules: controllerRules("Role"),
    }),
  );
  await kubectlOk([
    "-n",
    opNs,
    "create",
    "rolebinding",
    "controller",
    "--role=controller",
    `--serviceaccount=${opNs}:controller`,
  ]);
  const token = (await kubectlOk(["-n", opNs, "create", "token", "controller"])).trim();
  const conn = await loadKubeconfig({ paths: [requireTestKubeconfig()] });
  const transport = new HttpTransport({ ...conn, clientCert: undefined, token: staticToken(token) });
  const controller = await startController({
    transport,
    operatorNamespace: opNs,
    leaderElection: false,
    backoffInitialMs: 200,
    logger: createLogger("controller", { level: (Deno.env.get("SWH_LOG_LEVEL") ?? "error") as "error" }),
  });
  try {
    await controller.synced;
    const swhs = Api.namespaced(admin, SwhResource, ns);
    const swh = await applySwh(swhs, swhBody("web"));
    await waitForCondition(swhs, "web", "ServiceReady", (c) => c.status === "True");

    // Status writes become forbidden; then an agent publishes an endpoint.
    await kubectlOk(["apply", "-f", "-"], clusterRole(withoutStatus));
    await Api.namespaced(admin, EndpointSlices, ns).apply({
      metadata: {
        name: "web-node-a",
        labels: { [SERVICE_NAME_LABEL]: "web", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NODE_LABEL]: node },
        ownerReferences: [{
          apiVersion: "network.deckhouse.io/v1alpha1",
          kind: "ServiceWithHealthchecks",
          name: "web",
          uid: swh.metadata.uid!,
        }],
      },
      addressType: "IPv4",
      endpoints: [{
        addresses: ["192.0.2.7"],
        nodeName: node,
        conditions: { ready: true, serving: true },
        targetRef: { kind: "Pod", namespace: ns, name: "web-0", uid: "uid-web-0" },
      }],
    }, { fieldManager: agentFieldManager(node) });
    const failures = () =>
      controller.metrics.apiWriteFailures.get({ resource: "servicewithhealthchecks/status", verb: "apply" });
    await waitFor(() => failures() >= 2, { what: "refused status writes, retried" });
    deepStrictEqual((await swhs.get("web")).status?.endpointSummary, "0/0", "nothing got through");

    // Permission back: nothing else changes, yet the retry lands and the status tells the truth.
    await kubectlOk(["apply", "-f", "-"], clusterRole(allRules));
    const fixed = await waitFor(async () => {
      const s = await swhs.get("web");
      return s.status?.endpointSummary === "1/1" ? s : undefined;
    }, { what: "the status to match the slice", timeoutMs: 30_000 });
    deepStrictEqual(fixed.status?.endpoints?.map((e) => [e.pod, e.ready]), [["web-0", true]]);
  } finally {
    await controller.stop();
    transport.close();
    await kubectlOk(["delete", "clusterrole,clusterrolebinding", role, "--ignore-not-found"]);
    for (const name of [ns, opNs]) await namespaces.delete(name).catch(() => {});
    await Api.cluster(admin, Nodes).delete(node).catch(() => {});
    admin.close();
  }
});
