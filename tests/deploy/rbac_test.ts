/** deploy/rbac.yaml on a real apiserver: what each service account may do, printed and asserted. */
import { deepStrictEqual } from "node:assert";
import { kubectl, kubectlOk } from "../support/kubectl.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;
const AGENT = "system:serviceaccount:swh-system:swh-agent";
const CONTROLLER = "system:serviceaccount:swh-system:swh-controller";

async function canI(as: string, verb: string, resource: string, namespace?: string): Promise<boolean> {
  const [name, subresource] = resource.split("/");
  const args = [
    "auth",
    "can-i",
    verb,
    name,
    ...(subresource ? [`--subresource=${subresource}`] : []),
    `--as=${as}`,
    ...(namespace ? ["-n", namespace] : ["-A"]),
  ];
  const result = await kubectl(args);
  return result.stdout.trim() === "yes";
}

Deno.test("least privilege: agents read Secrets only in swh-system; the controller writes them only there", async () => {
  for (const file of ["namespace.yaml", "crd.yaml", "rbac.yaml"]) {
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}${file}`]);
  }
  for (const account of [AGENT, CONTROLLER]) {
    console.log(`\nkubectl auth can-i --list --as=${account} -n default`);
    console.log(await kubectlOk(["auth", "can-i", "--list", `--as=${account}`, "-n", "default"]));
  }
  // The anchor implementation lets every node read every Secret; ours does not.
  deepStrictEqual(await canI(AGENT, "get", "secrets", "default"), false);
  deepStrictEqual(await canI(AGENT, "list", "secrets", "kube-system"), false);
  deepStrictEqual(await canI(AGENT, "watch", "secrets", "swh-system"), true);
  deepStrictEqual(await canI(AGENT, "create", "secrets", "swh-system"), false);
  deepStrictEqual(await canI(AGENT, "patch", "endpointslices.discovery.k8s.io", "default"), true);
  // Agents never write the SWH status (the controller aggregates it): their detail goes into node reports,
  // which they may write in the operator namespace only.
  deepStrictEqual(
    await canI(AGENT, "patch", "servicewithhealthchecks.network.deckhouse.io/status", "default"),
    false,
  );
  const REPORTS = "servicewithhealthchecksnodereports.network.deckhouse.io";
  deepStrictEqual(await canI(AGENT, "patch", REPORTS, "swh-system"), true);
  deepStrictEqual(await canI(AGENT, "create", REPORTS, "default"), false);
  deepStrictEqual(await canI(CONTROLLER, "watch", REPORTS, "swh-system"), true);
  deepStrictEqual(await canI(CONTROLLER, "patch", REPORTS, "swh-system"), false);
  deepStrictEqual(
    await canI(AGENT, "patch", "servicewithhealthchecks.network.deckhouse.io", "default"),
    false,
  );
  // Agents fetch the SWHs their Services' notes ask for: they neither list nor watch them.
  deepStrictEqual(await canI(AGENT, "get", "servicewithhealthchecks.network.deckhouse.io", "default"), true);
  deepStrictEqual(
    await canI(AGENT, "watch", "servicewithhealthchecks.network.deckhouse.io", "default"),
    false,
  );
  deepStrictEqual(
    await canI(AGENT, "list", "servicewithhealthchecks.network.deckhouse.io", "default"),
    false,
  );
  deepStrictEqual(await canI(AGENT, "create", "services", "default"), false);
  deepStrictEqual(await canI(AGENT, "delete", "pods", "default"), false);

  deepStrictEqual(await canI(CONTROLLER, "get", "secrets", "default"), true);
  deepStrictEqual(await canI(CONTROLLER, "create", "secrets", "default"), false);
  deepStrictEqual(await canI(CONTROLLER, "create", "secrets", "swh-system"), true);
  deepStrictEqual(await canI(CONTROLLER, "patch", "services", "default"), true);
  // Granted verbs are the used ones: nothing updates Services or patches Events.
  deepStrictEqual(await canI(CONTROLLER, "update", "services", "default"), false);
  deepStrictEqual(await canI(CONTROLLER, "patch", "events", "default"), false);
  deepStrictEqual(await canI(AGENT, "update", "endpointslices.discovery.k8s.io", "default"), false);
  deepStrictEqual(await canI(CONTROLLER, "update", "leases.coordination.k8s.io", "swh-system"), true);
  deepStrictEqual(await canI(CONTROLLER, "update", "leases.coordination.k8s.io", "default"), false);
  // Only to withdraw endpoints of gone pods from nodes whose agent stopped its heartbeat.
  deepStrictEqual(await canI(CONTROLLER, "patch", "endpointslices.discovery.k8s.io", "default"), true);
  deepStrictEqual(await canI(CONTROLLER, "create", "endpointslices.discovery.k8s.io", "default"), false);
  deepStrictEqual(await canI(AGENT, "patch", "leases.coordination.k8s.io", "swh-system"), true);
  deepStrictEqual(await canI(AGENT, "patch", "leases.coordination.k8s.io", "default"), false);
  deepStrictEqual(await canI(CONTROLLER, "delete", "pods", "default"), false);
});
