/**
 * `kubectl swh` as a user meets it: the real kubectl finds the plugin (cli/kubectl-swh) on PATH and runs it
 * against the test control plane, where a controller aggregates what the test writes as two agents would
 * (EndpointSlices and node reports). A scripted terminal session; the transcript is what is asserted.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import {
  agentFieldManager,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  reportName,
  SERVICE_NAME_LABEL,
} from "../../crds/conventions.ts";
import { ReportResource } from "../../crds/resource.ts";
import { Api, EndpointSlices, Nodes, Pods } from "../../kube/mod.ts";
import { requireTestKubeconfig, requireTestKubectl } from "../support/env.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { terminalSession, transcript } from "../support/terminal.ts";
import { waitFor } from "../support/wait.ts";
import { applySwh, swhBody, withController } from "../controller/helpers.ts";

const CLI_DIR = new URL("../../cli/", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("kubectl swh status/explain in a terminal: context namespace, -n, -o json, wide, help, refused flags", async () => {
  await withController("swhcli", async ({ transport, ns, opNs, swhs }) => {
    const id = ns.slice(-6);
    const [nodeA, nodeB] = [`cli-a-${id}`, `cli-b-${id}`];
    for (const name of [nodeA, nodeB]) await Api.cluster(transport, Nodes).create({ metadata: { name } });
    try {
      const pods = Api.namespaced(transport, Pods, ns);
      const placement: [string, string, string][] = [["db-0", nodeA, "192.0.2.10"], [
        "db-1",
        nodeB,
        "192.0.2.11",
      ], [
        "db-2",
        nodeA,
        "192.0.2.12",
      ]];
      for (const [name, node, ip] of placement) {
        await pods.create({
          metadata: { name, labels: { app: "pg" } },
          spec: {
            nodeName: node,
            containers: [{
              name: "pg",
              image: "registry.invalid/pg",
              ports: [{ name: "pg", containerPort: 5432 }],
            }],
          },
        });
        await pods.patch(name, {
          type: "merge",
          body: { status: { phase: "Running", podIP: ip, podIPs: [{ ip }] } },
        }, { subresource: "status" });
      }
      const swh = await applySwh(
        swhs,
        swhBody("pg", {
          selector: { app: "pg" },
          ports: [{ name: "pg", port: 5432, targetPort: "pg", protocol: "TCP" }],
          healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: "pg" } }] },
        }),
      );
      const owner = [{
        apiVersion: "network.deckhouse.io/v1alpha1",
        kind: "ServiceWithHealthchecks",
        name: "pg",
        uid: swh.metadata.uid!,
      }];
      // What node A's agent writes: db-0 published (its probe has failed once), db-2 withdrawn; node B: db-1 out.
      await Api.namespaced(transport, EndpointSlices, ns).apply({
        metadata: {
          name: `pg-${nodeA}`,
          labels: { [SERVICE_NAME_LABEL]: "pg", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NODE_LABEL]: nodeA },
          ownerReferences: owner,
        },
        addressType: "IPv4",
        ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
        endpoints: [{
          addresses: ["192.0.2.10"],
          nodeName: nodeA,
          conditions: { ready: true, serving: true },
          targetRef: { kind: "Pod", namespace: ns, name: "db-0" },
        }],
      }, { fieldManager: agentFieldManager(nodeA) });
      const refused = {
        index: 0,
        mode: "TCP" as const,
        reason: "ConnectionRefused",
        message: "connect: Connection refused",
      };
      const reports = Api.namespaced(transport, ReportResource, opNs);
      const ref = { namespace: ns, name: "pg", uid: swh.metadata.uid! };
      for (
        const [node, endpoints] of [
          [nodeA, [
            {
              pod: "db-0",
              ready: true,
              failingProbes: [{ index: 0, mode: "TCP" as const, reason: "Timeout", consecutiveFailures: 1 }],
            },
            { pod: "db-2", ready: false, failingProbes: [refused] },
          ]],
          [nodeB, [{ pod: "db-1", ready: false, failingProbes: [refused] }]],
        ] as const
      ) {
        await reports.apply({
          apiVersion: "network.deckhouse.io/v1alpha1",
          kind: "ServiceWithHealthchecksNodeReport",
          metadata: { name: reportName(ns, "pg", node), namespace: opNs, labels: { [NODE_LABEL]: node } },
          swh: ref,
          node,
          endpoints: endpoints.map((e) => ({ ...e, failingProbes: [...e.failingProbes] })),
        }, { fieldManager: agentFieldManager(node), force: true });
      }
      await waitFor(async () => {
        const s = (await swhs.get("pg")).status;
        return s?.readyEndpoints === 1 && s.totalEndpoints === 3;
      }, { what: "the controller to aggregate 1/3", timeoutMs: 20_000 });

      // The user's kubeconfig: its context's namespace is the test's, as after `kubectl config set-context`.
      const kubeconfig = await Deno.makeTempFile({ prefix: "swh-cli-kubeconfig-" });
      await Deno.copyFile(requireTestKubeconfig(), kubeconfig);
      await kubectlOk([
        "config",
        "set-context",
        "--current",
        `--namespace=${ns}`,
        "--kubeconfig",
        kubeconfig,
      ]);
      const kubectlDir = requireTestKubectl().replace(/\/kubectl$/, "");
      try {
        const turns = await terminalSession([
          `export KUBECONFIG=${kubeconfig} PATH=${kubectlDir}:${CLI_DIR}:$PATH SWH_NAMESPACE=${opNs}`,
          "kubectl swh status pg",
          "kubectl swh status pg -o json",
          `kubectl swh status pg -n default`,
          `kubectl swh explain ${ns}/pg -o wide`,
          "kubectl swh --help",
          "kubectl swh status pg --bogus",
          "kubectl swh convert --probe=grpc",
        ]);
        const screen = transcript(turns);
        const [, status, json, wrongNs, wide, help, bogus, grpc] = turns;
        deepStrictEqual(turns.map((t) => t.exit), [0, 0, 0, 1, 0, 0, 1, 1], screen);
        for (
          const line of [
            `  Name:        ${ns}/pg`,
            "  Endpoints:   1/3 ready; 1 of 3 selected pods in the EndpointSlices",
            "  0 TCP: connect to port pg; every 10s, timeout 1s, out after 3 failures, in after 1 success",
            `db-0  ${nodeA}  192.0.2.10  yes`,
            "probe 0 (TCP) failing 1/3: Timeout",
            `db-1  ${nodeB}  192.0.2.11  no`,
            "probe 0 (TCP) ConnectionRefused: connect: Connection refused",
            `Node reports (${opNs})`,
          ]
        ) ok(status.output.includes(line), `missing ${JSON.stringify(line)} in\n${screen}`);
        ok(/ {2}Ready: {7}True \S+ for \d+s/.test(status.output), status.output);
        ok(
          / {2}Service: {5}ClusterIP \d+\.\d+\.\d+\.\d+, ports pg 5432→pg\/TCP/.test(status.output),
          status.output,
        );
        ok(
          /^Events\nLAST SEEN/m.test(status.output) || status.output.includes("Events\n(none)"),
          status.output,
        );
        ok(!/\d{4}-\d\d-\d\dT\d\d:/.test(status.output), "ages, not ISO stamps");
        const view = JSON.parse(json.output);
        deepStrictEqual([view.endpoints.ready, view.endpoints.total, view.pods.length], [1, 3, 3]);
        ok(
          wrongNs.output.includes("Error from server (NotFound)") &&
            wrongNs.output.includes('"pg" not found'),
          screen,
        );
        ok(/^POD .* PORTS /m.test(wide.output) && wide.output.includes("5432/TCP"), screen);
        ok(help.output.startsWith("kubectl swh: "), screen);
        ok(bogus.output.includes("error: unknown flag: --bogus"), screen);
        ok(grpc.output.includes('invalid value "grpc" for --probe'), screen);
      } finally {
        await Deno.remove(kubeconfig);
      }
    } finally {
      for (const name of [nodeA, nodeB]) await Api.cluster(transport, Nodes).delete(name).catch(() => {});
    }
  });
});
