/** The controller's Service: created without selector and with every carried field; updates; GC; zero writes. */
import { deepStrictEqual, ok } from "node:assert";
import { waitFor } from "../support/wait.ts";
import { Api, Services } from "../../kube/mod.ts";
import { SERVICE_GENERATION_ANNOTATION, SERVICE_SELECTOR_ANNOTATION } from "../../crds/conventions.ts";
import { applySwh, eventsAbout, swhBody, waitForCondition, withController } from "./helpers.ts";

Deno.test("SWH → selector-less Service with every carried field; status, update, removal of labels, zero writes", async () => {
  await withController("svc", async ({ transport, ns, swhs, controller }) => {
    const services = Api.namespaced(transport, Services, ns);
    await applySwh(
      swhs,
      swhBody("web", {
        type: "NodePort",
        ports: [
          {
            name: "http",
            port: 80,
            targetPort: "web",
            protocol: "TCP",
            appProtocol: "http",
            nodePort: 30080,
          },
          { name: "dns", port: 53, targetPort: 5353, protocol: "UDP" },
        ],
        ipFamilies: ["IPv4"],
        ipFamilyPolicy: "SingleStack",
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        externalIPs: ["192.0.2.10"],
        externalTrafficPolicy: "Local",
        internalTrafficPolicy: "Local",
        publishNotReadyAddresses: true,
        trafficDistribution: "PreferSameNode",
      }, {
        labels: { app: "web", tier: "front" },
        annotations: {
          team: "payments",
          "kubectl.kubernetes.io/last-applied-configuration": "{}",
          "meta.helm.sh/release-name": "rel",
        },
      }),
    );
    const svc = await waitFor(() => services.getOpt("web"), { what: "Service web" });
    deepStrictEqual(svc.spec?.selector, undefined);
    deepStrictEqual(svc.spec?.type, "NodePort");
    deepStrictEqual(svc.spec?.ports, [
      { name: "http", port: 80, targetPort: "web", protocol: "TCP", appProtocol: "http", nodePort: 30080 },
      { name: "dns", port: 53, targetPort: 5353, protocol: "UDP", nodePort: svc.spec?.ports?.[1].nodePort },
    ]);
    deepStrictEqual(svc.spec?.ipFamilies, ["IPv4"]);
    deepStrictEqual(svc.spec?.ipFamilyPolicy, "SingleStack");
    deepStrictEqual(svc.spec?.sessionAffinity, "ClientIP");
    deepStrictEqual(svc.spec?.sessionAffinityConfig, { clientIP: { timeoutSeconds: 600 } });
    deepStrictEqual(svc.spec?.externalIPs, ["192.0.2.10"]);
    deepStrictEqual(svc.spec?.externalTrafficPolicy, "Local");
    deepStrictEqual(svc.spec?.internalTrafficPolicy, "Local");
    deepStrictEqual(svc.spec?.publishNotReadyAddresses, true);
    deepStrictEqual(svc.spec?.trafficDistribution, "PreferSameNode");
    deepStrictEqual(svc.metadata?.labels, { app: "web", tier: "front" });
    // The user's annotations, and the selector and generation noted for the agents (they fetch only SWHs
    // selecting their pods, again when the noted generation is newer than theirs).
    deepStrictEqual(svc.metadata?.annotations, {
      team: "payments",
      [SERVICE_SELECTOR_ANNOTATION]: '{"app":"web"}',
      [SERVICE_GENERATION_ANNOTATION]: "1",
    });
    const owner = svc.metadata?.ownerReferences?.[0];
    deepStrictEqual([owner?.kind, owner?.name, owner?.controller, owner?.blockOwnerDeletion], [
      "ServiceWithHealthchecks",
      "web",
      true,
      true,
    ]);

    const swh = await waitForCondition(swhs, "web", "ServiceReady", (c) => c.status === "True");
    deepStrictEqual(swh.status?.clusterIP, svc.spec?.clusterIP);
    deepStrictEqual(swh.status?.clusterIPs, svc.spec?.clusterIPs);
    deepStrictEqual(swh.status?.endpointSummary, "0/0");
    const ready = swh.status?.conditions?.find((c) => c.type === "Ready");
    // The SWH's selector matches no pod in its namespace: the reason says so.
    deepStrictEqual([ready?.status, ready?.reason, ready?.observedGeneration], [
      "False",
      "NoPodsSelected",
      1,
    ]);
    ok((await eventsAbout(ns, "web")).some((l) => l.startsWith("ServiceCreated:")));

    // Steady state: a resync with nothing changed makes zero writes and moves no resourceVersion.
    await controller.idle();
    const before = controller.writes(ns);
    const rvs = [
      (await services.get("web")).metadata?.resourceVersion,
      (await swhs.get("web")).metadata?.resourceVersion,
    ];
    controller.resync();
    await controller.idle();
    deepStrictEqual(
      controller.writes(ns) - before,
      0,
      `writes during a resync without changes: ${controller.metrics.apiWrites.expose().join("\n")}`,
    );
    deepStrictEqual(
      [
        (await services.get("web")).metadata?.resourceVersion,
        (await swhs.get("web")).metadata?.resourceVersion,
      ],
      rvs,
    );

    // An update propagates; labels/annotations and fields removed from the SWH are removed from the Service.
    await applySwh(
      swhs,
      swhBody("web", {
        type: "ClusterIP",
        ports: [{ name: "http", port: 8080, targetPort: 8080, protocol: "TCP" }],
      }, { labels: { app: "web" } }),
    );
    const updated = await waitFor(async () => {
      const s = await services.get("web");
      return s.spec?.ports?.[0].port === 8080 && s.spec.type === "ClusterIP" ? s : undefined;
    }, { what: "Service web updated" });
    deepStrictEqual(updated.spec?.ports?.length, 1);
    deepStrictEqual(updated.metadata?.labels, { app: "web" });
    deepStrictEqual(updated.metadata?.annotations, {
      [SERVICE_SELECTOR_ANNOTATION]: '{"app":"web"}',
      [SERVICE_GENERATION_ANNOTATION]: "2",
    });
    deepStrictEqual(updated.spec?.sessionAffinity, "None", "removed field back to the default");
    deepStrictEqual(updated.spec?.externalIPs, undefined);
    deepStrictEqual(updated.spec?.clusterIP, svc.spec?.clusterIP, "cluster IP kept across updates");
    await waitForCondition(swhs, "web", "ServiceReady", (c) => c.observedGeneration === 2);

    // Deleting the SWH cascades to the Service through garbage collection. On a cluster younger than the CRD's
    // first discovery round (this file run alone) the collector learns the kind only at its next 30 s resync.
    await swhs.delete("web");
    await waitFor(async () => (await services.getOpt("web")) === undefined, {
      what: "Service web garbage-collected",
      timeoutMs: 60_000,
    });
  });
});
