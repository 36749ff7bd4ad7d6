/**
 * deploy/flowcontrol.yaml on a real apiserver: requests of the agents' and the controller's service accounts are
 * classified into our FlowSchemas (the apiserver says which in the X-Kubernetes-PF-FlowSchema-UID header).
 */
import { deepStrictEqual } from "node:assert";
import { kubectl, kubectlOk } from "../support/kubectl.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

/** The FlowSchema UID the apiserver reports for a request made as `user`. */
async function flowSchemaOf(
  user: string,
  path = "/api/v1/namespaces/default/pods?limit=1",
): Promise<string | undefined> {
  // -v=8 prints the response headers; impersonation happens before priority and fairness classify a request.
  const result = await kubectl([
    "get",
    "--raw",
    path,
    `--as=${user}`,
    "-v=8",
  ]);
  return /X-Kubernetes-Pf-Flowschema-Uid: (\S+)/i.exec(result.stderr)?.[1];
}

Deno.test("deploy/flowcontrol.yaml: agents, controller and its leader Lease have their own flow schemas", async () => {
  for (const file of ["namespace.yaml", "rbac.yaml", "flowcontrol.yaml"]) {
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}${file}`]);
  }
  const uid = async (name: string) =>
    (await kubectlOk(["get", "flowschema", name, "-o", "jsonpath={.metadata.uid}"])).trim();
  deepStrictEqual(await flowSchemaOf("system:serviceaccount:swh-system:swh-agent"), await uid("swh-agents"));
  deepStrictEqual(
    await flowSchemaOf("system:serviceaccount:swh-system:swh-controller"),
    await uid("swh-controller"),
  );
  // The leader Lease's renewals do not queue behind the controller's work (the answer may be 404 or 403: the
  // classification happens first).
  deepStrictEqual(
    await flowSchemaOf(
      "system:serviceaccount:swh-system:swh-controller",
      "/apis/coordination.k8s.io/v1/namespaces/swh-system/leases/swh-controller",
    ),
    await uid("swh-controller-leader-election"),
  );
  deepStrictEqual(
    (await kubectlOk([
      "get",
      "flowschema",
      "swh-controller",
      "-o",
      "jsonpath={.spec.priorityLevelConfiguration.name}",
    ]))
      .trim(),
    "workload-high",
  );
});
