/** Unit tests of desiredService: no selector, every ServiceSpec field carried, metadata filtered, owner set. */
import { deepStrictEqual, ok } from "node:assert";
import { adoptionRequested, desiredService, serviceOwnership } from "./desired_service.ts";
import { makeSwh } from "./testing.ts";
import {
  ADOPT_SERVICE_ANNOTATION,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SELECTOR_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
} from "../crds/conventions.ts";

Deno.test("desiredService: same name/namespace, no selector, ports as written, ownerReference", () => {
  const svc = desiredService(makeSwh());
  deepStrictEqual(svc.metadata?.name, "web");
  deepStrictEqual(svc.metadata?.namespace, "app");
  deepStrictEqual(svc.spec?.selector, undefined);
  ok(!("selector" in (svc.spec ?? {})), "selector key must be absent, not null");
  deepStrictEqual(svc.spec?.ports, [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }]);
  deepStrictEqual(svc.spec?.type, "ClusterIP");
  deepStrictEqual(svc.metadata?.ownerReferences, [{
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    name: "web",
    uid: "uid-1",
    controller: true,
    blockOwnerDeletion: true,
  }]);
  ok(!("clusterIP" in (svc.spec ?? {})), "clusterIP is only sent when the user set it");
});

Deno.test("desiredService carries every ServiceSpec field the user set", () => {
  const spec = {
    type: "LoadBalancer" as const,
    ports: [
      {
        name: "http",
        protocol: "TCP" as const,
        appProtocol: "kubernetes.io/h2c",
        port: 80,
        targetPort: "web",
        nodePort: 30080,
      },
      { name: "dns", protocol: "UDP" as const, port: 53 },
    ],
    clusterIP: "10.96.0.50",
    clusterIPs: ["10.96.0.50"],
    ipFamilies: ["IPv4" as const],
    ipFamilyPolicy: "SingleStack" as const,
    sessionAffinity: "ClientIP" as const,
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    externalIPs: ["192.0.2.1"],
    externalTrafficPolicy: "Local" as const,
    internalTrafficPolicy: "Local" as const,
    healthCheckNodePort: 31000,
    loadBalancerClass: "example.com/lb",
    loadBalancerIP: "192.0.2.2",
    loadBalancerSourceRanges: ["10.0.0.0/8"],
    allocateLoadBalancerNodePorts: false,
    publishNotReadyAddresses: true,
    trafficDistribution: "PreferSameNode" as const,
  };
  const svc = desiredService(makeSwh({ spec }));
  const { ports: _p, ...rest } = spec;
  for (const [key, value] of Object.entries(rest)) {
    deepStrictEqual((svc.spec as Record<string, unknown>)[key], value, key);
  }
  deepStrictEqual(svc.spec?.ports, [
    {
      name: "http",
      protocol: "TCP",
      appProtocol: "kubernetes.io/h2c",
      port: 80,
      targetPort: "web",
      nodePort: 30080,
    },
    { name: "dns", protocol: "UDP", port: 53 },
  ]);
  ok(!("selector" in (svc.spec ?? {})));
  ok(!("healthcheck" in (svc.spec ?? {})));
});

Deno.test("desiredService propagates labels and annotations except tool bookkeeping", () => {
  const svc = desiredService(makeSwh({
    labels: { app: "web", "argocd.argoproj.io/instance": "x" },
    annotations: {
      team: "db",
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
      "meta.helm.sh/release-name": "r",
      "meta.helm.sh/release-namespace": "n",
      "argocd.argoproj.io/tracking-id": "t",
      [ADOPT_SERVICE_ANNOTATION]: "true",
      // Ours, not the user's: the controller's notes of the selector and generation win.
      [SERVICE_SELECTOR_ANNOTATION]: "{}",
      [SERVICE_GENERATION_ANNOTATION]: "99",
    },
  }));
  deepStrictEqual(svc.metadata?.labels, { app: "web" });
  const note = { [SERVICE_SELECTOR_ANNOTATION]: '{"app":"web"}', [SERVICE_GENERATION_ANNOTATION]: "1" };
  deepStrictEqual(svc.metadata?.annotations, { team: "db", ...note });
  const bare = desiredService(makeSwh({ annotations: { "meta.helm.sh/release-name": "r" } }));
  deepStrictEqual(bare.metadata?.annotations, note, "the notes alone");
});

Deno.test("serviceOwnership and adoptionRequested", () => {
  const swh = makeSwh();
  deepStrictEqual(serviceOwnership(swh, undefined), "absent");
  const ours = desiredService(swh);
  deepStrictEqual(serviceOwnership(swh, ours), "owned");
  deepStrictEqual(serviceOwnership(makeSwh({ uid: "uid-2" }), ours), "stale");
  deepStrictEqual(
    serviceOwnership(swh, { apiVersion: "v1", kind: "Service", metadata: { name: "web" } }),
    "foreign",
  );
  ok(!adoptionRequested(swh));
  ok(adoptionRequested(makeSwh({ annotations: { [ADOPT_SERVICE_ANNOTATION]: "true" } })));
});

Deno.test("desiredService notes a stored spec without the schema's defaults, and only then", () => {
  const annotations = (svc: ReturnType<typeof desiredService>) => svc.metadata?.annotations ?? {};
  ok(!(SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION in annotations(desiredService(makeSwh()))));
  deepStrictEqual(
    annotations(
      desiredService(makeSwh(), { defaultsMissing: true }),
    )[SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION],
    "true",
  );
  // A user's copy of the note is never propagated.
  const swh = makeSwh();
  swh.metadata.annotations = { [SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION]: "true" };
  ok(!(SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION in annotations(desiredService(swh))));
});
