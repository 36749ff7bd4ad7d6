/**
 * deploy/admission.yaml on a real apiserver: an agent authenticated with a token bound to a pod on node X may
 * write its own node's slices, report and heartbeat, and nothing else — another node's slice, a foreign Service's
 * slice, an unlabelled slice, another node's Lease or report are denied; so is any write with an unbound token.
 */
import { deepStrictEqual, ok } from "node:assert";
import { kubectl, kubectlOk } from "../support/kubectl.ts";
import { requireTestKubeconfig, requireTestKubectl } from "../support/env.ts";
import { createAgentPod } from "../../tools/lab/operator.ts";
import { NODE_ANNOTATION, nodeLabelValue } from "../../crds/conventions.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

/** kubectl authenticating with `token` only (no client certificate from the admin kubeconfig). */
async function as(token: string, args: string[], input: string): Promise<{ ok: boolean; text: string }> {
  const admin = JSON.parse(await kubectlOk(["config", "view", "--raw", "-o", "json"]));
  const cluster = admin.clusters[0].cluster;
  const dir = Deno.makeTempDirSync();
  try {
    const config = `${dir}/config`;
    Deno.writeTextFileSync(
      config,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster }],
        users: [{ name: "u", user: { token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    const child = new Deno.Command(requireTestKubectl(), {
      args: ["--kubeconfig", config, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
    const out = await child.output();
    const dec = new TextDecoder();
    return { ok: out.success, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("deploy/admission.yaml: each agent writes only its own node's slices, report and heartbeat", async () => {
  requireTestKubeconfig();
  for (const file of ["namespace.yaml", "crd.yaml", "rbac.yaml", "admission.yaml"]) {
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}${file}`]);
  }
  const id = crypto.randomUUID().slice(0, 6);
  const node = `node-adm-${id}`, other = `node-other-${id}`, ns = `adm-${id}`, pod = `swh-agent-${node}`;
  // Node names may have 253 characters, label values 63: two that share their first 63.
  const long = `${`node-adm-long-${id}`.padEnd(60, "x")}.rack-12.datacenter-east.example.com`;
  const longOther = `${long.slice(0, 70)}.other.example.com`;
  const nodes = [node, other, long, longOther];
  /** A token bound to a stand-in for the agent's DaemonSet pod on node `n` (and so to the node). */
  const boundToken = async (n: string) => {
    const name = await createAgentPod(kubectlOk, "swh-system", n);
    const uid = (await kubectlOk(["-n", "swh-system", "get", "pod", name, "-o", "jsonpath={.metadata.uid}"]))
      .trim();
    return (await kubectlOk([
      "-n",
      "swh-system",
      "create",
      "token",
      "swh-agent",
      "--bound-object-kind=Pod",
      `--bound-object-name=${name}`,
      `--bound-object-uid=${uid}`,
    ])).trim();
  };
  await kubectlOk(["create", "namespace", ns]);
  try {
    for (const n of nodes) {
      await kubectlOk(
        ["create", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: n } }),
      );
    }
    const bound = await boundToken(node);
    const unbound = (await kubectlOk(["-n", "swh-system", "create", "token", "swh-agent"])).trim();
    // An SWH to own the slices (else garbage collection removes them as orphans while the test runs).
    await kubectlOk(
      ["-n", ns, "apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        metadata: { name: "web" },
        spec: {
          selector: { app: "web" },
          ports: [{ port: 80 }],
          healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 80 } }] },
        },
      }),
    );
    const swhUid = (await kubectlOk(["-n", ns, "get", "swh", "web", "-o", "jsonpath={.metadata.uid}"]))
      .trim();
    const slice = (
      name: string,
      n: string,
      managedBy: string,
      owner: string,
      nodeNote: { label?: string; annotation?: string } = {},
    ) =>
      JSON.stringify({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name,
          namespace: ns,
          labels: {
            "kubernetes.io/service-name": "web",
            "endpointslice.kubernetes.io/managed-by": managedBy,
            "network.deckhouse.io/swh-node": nodeNote.label ?? n,
          },
          ...(nodeNote.annotation ? { annotations: { [NODE_ANNOTATION]: nodeNote.annotation } } : {}),
          ownerReferences: [{
            apiVersion: "network.deckhouse.io/v1alpha1",
            kind: "ServiceWithHealthchecks",
            name: owner,
            uid: swhUid,
          }],
        },
        addressType: "IPv4",
        endpoints: [{ addresses: ["192.0.2.1"], nodeName: n }],
      });
    const apply = (token: string, body: string) =>
      as(token, ["apply", "--server-side", "--field-manager=swh-agent-test", "-f", "-"], body);
    const ours = "swh-agent.network.deckhouse.io";
    const allowed = await apply(bound, slice("own", node, ours, "web"));
    ok(allowed.ok, allowed.text);
    for (
      const [what, body] of [
        ["another node's slice", slice("theirs", other, ours, "web")],
        ["a slice for a Service the SWH is not named after", slice("foreign", node, ours, "other")],
        ["a slice not labelled as ours", slice("unlabelled", node, "endpointslice-controller.k8s.io", "web")],
        ["a slice naming another node in full", slice("named", node, ours, "web", { annotation: other })],
      ]
    ) {
      const denied = await apply(bound, body);
      deepStrictEqual(denied.ok, false, `${what} must be denied: ${denied.text}`);
      ok(denied.text.includes("swh-agent-endpointslices"), denied.text);
    }
    const noNode = await apply(unbound, slice("own", node, ours, "web"));
    deepStrictEqual(noNode.ok, false, noNode.text);
    ok(noNode.text.includes("pod-bound service-account token"), noNode.text);

    const lease = (n: string) =>
      JSON.stringify({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: `swh-agent-${n}`, namespace: "swh-system" },
        spec: { holderIdentity: n },
      });
    ok((await apply(bound, lease(node))).ok);
    deepStrictEqual((await apply(bound, lease(other))).ok, false, "another node's heartbeat");
    const report = (n: string) =>
      JSON.stringify({
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecksNodeReport",
        metadata: { name: `r-${n}`, namespace: "swh-system", labels: { "network.deckhouse.io/swh-node": n } },
        swh: { namespace: ns, name: "web", uid: swhUid },
        node: n,
        endpoints: [],
      });
    ok((await apply(bound, report(node))).ok);
    deepStrictEqual((await apply(bound, report(other))).ok, false, "another node's report");

    // A node whose name is longer than a label value (63): its label is the name's first 63 characters (without a
    // trailing '-' or '.'), and its slices name it in full in an annotation, which must be there.
    const longToken = await boundToken(long);
    const label = nodeLabelValue(long);
    ok(label !== long && long.startsWith(label));
    const longOwn = await apply(longToken, slice("long-own", long, ours, "web", { label, annotation: long }));
    ok(longOwn.ok, longOwn.text);
    for (
      const [what, body] of [
        ["no full name", slice("long-bare", long, ours, "web", { label })],
        [
          "a shorter prefix",
          slice("long-short", long, ours, "web", { label: label.slice(0, 20), annotation: long }),
        ],
        [
          "another node's full name",
          slice("long-other", long, ours, "web", { label, annotation: longOther }),
        ],
        [
          "a long node's slice of another node",
          slice("long-theirs", node, ours, "web", { annotation: node }),
        ],
      ]
    ) {
      const denied = await apply(longToken, body);
      deepStrictEqual(denied.ok, false, `${what} must be denied: ${denied.text}`);
      ok(denied.text.includes("swh-agent-endpointslices"), denied.text);
    }
    const longReport = JSON.stringify({
      apiVersion: "network.deckhouse.io/v1alpha1",
      kind: "ServiceWithHealthchecksNodeReport",
      metadata: {
        name: `r-${long}`,
        namespace: "swh-system",
        labels: { "network.deckhouse.io/swh-node": label },
      },
      swh: { namespace: ns, name: "web", uid: swhUid },
      node: long,
      endpoints: [],
    });
    const reported = await apply(longToken, longReport);
    ok(reported.ok, reported.text);
  } finally {
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
    await kubectl([
      "-n",
      "swh-system",
      "delete",
      "pod,lease,servicewithhealthchecksnodereports",
      pod,
      `swh-agent-${long}`,
      `swh-agent-${node}`,
      `r-${node}`,
      `r-${long}`,
      "--ignore-not-found",
      // The pods are bound to nodes without a kubelet: nobody would confirm a graceful deletion.
      "--grace-period=0",
      "--force",
    ]);
    await kubectl(["delete", "node", ...nodes, "--ignore-not-found"]);
  }
});

Deno.test("deploy/admission.yaml: the garbage collector may not delete a Service an SWH adopted; others may", async () => {
  requireTestKubeconfig();
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", `${DEPLOY}admission.yaml`]);
  const ns = `adm-gc-${crypto.randomUUID().slice(0, 6)}`;
  await kubectlOk(["create", "namespace", ns]);
  try {
    const service = (name: string, annotations: Record<string, string>) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: ns, annotations },
        spec: { ports: [{ port: 80 }] },
      });
    await kubectlOk(
      ["create", "-f", "-"],
      service("adopted", { "network.deckhouse.io/adopted-selector": "{}" }),
    );
    await kubectlOk(["create", "-f", "-"], service("plain", {}));
    // kube-controller-manager without per-controller service accounts runs its garbage collector as itself: let
    // that identity delete Services here (authorization comes before admission), as such clusters grant it.
    await kubectlOk([
      "-n",
      ns,
      "create",
      "rolebinding",
      "kcm-deletes",
      "--clusterrole=edit",
      "--user=system:kube-controller-manager",
    ]);
    // Server-side dry runs: admission decides, nothing is deleted. Both identities kube-controller-manager may use.
    const deleteAs = (user: string, name: string) =>
      kubectl(["--as", user, "-n", ns, "delete", "service", name, "--dry-run=server"]);
    for (
      const gc of [
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "system:kube-controller-manager",
      ]
    ) {
      const denied = await deleteAs(gc, "adopted");
      deepStrictEqual(denied.code === 0, false, `${gc} deleting an adopted Service: ${denied.stdout}`);
      ok(denied.stderr.includes("swh-adopted-services"), denied.stderr);
      const plain = await deleteAs(gc, "plain");
      deepStrictEqual(plain.code, 0, `${gc} deleting another Service: ${plain.stderr}`);
    }
    // A user (here the admin) deletes an adopted Service like any other.
    await kubectlOk(["-n", ns, "delete", "service", "adopted"]);
  } finally {
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
