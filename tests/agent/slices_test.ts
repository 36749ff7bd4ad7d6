/** The agent against a real control plane: slices follow real backends, pods and the SWH itself. */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  SERVICE_NAME_LABEL,
} from "../../crds/conventions.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Pods } from "../../kube/mod.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  reportsOf,
  slicesOf,
  startTestAgent,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "agent: a backend that stops leaves the slice and comes back; pod and SWH deletion clean up",
  async () => {
    await withCluster("agent-core", async (ctx) => {
      const b1 = tcpBackend(ctx.net.v4(0));
      let b2 = tcpBackend(ctx.net.v4(1), b1.port);
      const agent = await startTestAgent(ctx);
      try {
        await createPod(ctx, { name: "a", node: ctx.node, ips: [ctx.net.v4(0)] });
        await createPod(ctx, { name: "b", node: ctx.node, ips: [ctx.net.v4(1)] });
        // A pod on another node and a pod of another app must never appear.
        await createPod(ctx, { name: "elsewhere", node: "some-other-node", ips: [ctx.net.v4(2)] });
        await createPod(ctx, {
          name: "other-app",
          node: ctx.node,
          ips: [ctx.net.v4(3)],
          labels: { app: "x" },
        });
        const swh = await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ name: "http", port: 80, targetPort: b1.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: b1.port } }],
          },
        });
        const [slice] = await waitForAddresses(ctx, "web", [ctx.net.v4(0), ctx.net.v4(1)]);
        deepStrictEqual(slice.metadata?.labels, {
          [SERVICE_NAME_LABEL]: "web",
          [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
          [NODE_LABEL]: ctx.node,
        });
        strictEqual(slice.metadata?.ownerReferences?.[0].uid, swh.metadata?.uid);
        strictEqual(slice.addressType, "IPv4");
        deepStrictEqual(slice.ports, [{ name: "http", port: b1.port, protocol: "TCP" }]);
        const ep = slice.endpoints!.find((e) => e.addresses[0] === ctx.net.v4(0))!;
        deepStrictEqual(ep.conditions, { ready: true, serving: true, terminating: false });
        strictEqual(ep.nodeName, ctx.node);
        deepStrictEqual([ep.targetRef?.kind, ep.targetRef?.name], ["Pod", "a"]);
        ok(slice.metadata!.managedFields!.some((m) => m.manager === `swh-agent-${ctx.node}`));

        b2.close();
        await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);
        b2 = tcpBackend(ctx.net.v4(1), b1.port);
        await waitForAddresses(ctx, "web", [ctx.net.v4(0), ctx.net.v4(1)]);

        await Api.namespaced(ctx.transport, Pods, ctx.ns).delete("a", { gracePeriodSeconds: 0 });
        await waitForAddresses(ctx, "web", [ctx.net.v4(1)]);

        await Api.namespaced(ctx.transport, SwhResource, ctx.ns).delete("web");
        await waitFor(async () => (await slicesOf(ctx, "web")).length === 0, {
          what: "slices of a deleted SWH to go",
        });
      } finally {
        await agent.stop();
        b1.close();
        b2.close();
      }
    });
  },
);

clusterTest(
  "agent: named ports (service and probe) resolve per pod; dual-stack pods get IPv4 and IPv6 slices, canonical",
  async () => {
    await withCluster("agent-named", async (ctx) => {
      const v4 = httpBackend(ctx.net.v4(4));
      const v6 = httpBackend(ctx.net.v6(0), v4.port);
      const agent = await startTestAgent(ctx);
      try {
        await createPod(ctx, {
          name: "vm",
          node: ctx.node,
          // Pod status accepts IPv6 text an EndpointSlice refuses (fd5a:5748:0::1): the agent publishes it canonical.
          ips: [ctx.net.v4(4), ctx.net.v6(0).replace("::", ":0:0:0::")],
          ports: [{ name: "web", containerPort: v4.port }],
        });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ipFamilyPolicy: "PreferDualStack",
          ports: [{ name: "http", port: 80, targetPort: "web" }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: "web", path: "/healthz" } }],
          },
        });
        const slices = await waitForAddresses(ctx, "web", [ctx.net.v4(4), ctx.net.v6(0)]);
        deepStrictEqual(slices.map((s) => s.addressType).sort(), ["IPv4", "IPv6"]);
        for (const s of slices) deepStrictEqual(s.ports, [{ name: "http", port: v4.port, protocol: "TCP" }]);

        v6.healthy = false;
        await waitForAddresses(ctx, "web", [ctx.net.v4(4)]);
        strictEqual((await slicesOf(ctx, "web")).length, 1, "the empty IPv6 slice is deleted");
        v6.healthy = true;
        await waitForAddresses(ctx, "web", [ctx.net.v4(4), ctx.net.v6(0)]);
      } finally {
        await agent.stop();
        await v4.close();
        await v6.close();
      }
    });
  },
);

clusterTest(
  "agent: a terminating pod stays published as serving, not ready, terminating; then leaves",
  async () => {
    await withCluster("agent-term", async (ctx) => {
      const b = tcpBackend(ctx.net.v4(5));
      const agent = await startTestAgent(ctx);
      try {
        await createPod(ctx, {
          name: "a",
          node: ctx.node,
          ips: [ctx.net.v4(5)],
          finalizers: ["swh.test/hold"],
        });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: b.port }],
          healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: b.port } }] },
        });
        await waitForAddresses(ctx, "web", [ctx.net.v4(5)]);
        const pods = Api.namespaced(ctx.transport, Pods, ctx.ns);
        await pods.delete("a", { gracePeriodSeconds: 0 });
        const ep = await waitFor(async () => {
          const e = (await slicesOf(ctx, "web"))[0]?.endpoints?.[0];
          return e?.conditions?.terminating ? e : undefined;
        }, { what: "the endpoint to be terminating" });
        deepStrictEqual(ep.conditions, { ready: false, serving: true, terminating: true });
        await pods.patch("a", { type: "merge", body: { metadata: { finalizers: null } } });
        await waitForAddresses(ctx, "web", []);
      } finally {
        await agent.stop();
        b.close();
      }
    });
  },
);

clusterTest(
  "agent: headless SWHs publish healthy pods; publishNotReadyAddresses publishes failing ones too",
  async () => {
    await withCluster("agent-headless", async (ctx) => {
      const b = tcpBackend(ctx.net.v4(6));
      const agent = await startTestAgent(ctx);
      try {
        await createPod(ctx, { name: "up", node: ctx.node, ips: [ctx.net.v4(6)] });
        await createPod(ctx, { name: "down", node: ctx.node, ips: [ctx.net.v4(7)] });
        const healthcheck = { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: b.port } }] };
        await createSwh(ctx, "headless", { selector: { app: "web" }, clusterIP: "None", healthcheck });
        await createSwh(ctx, "all", {
          selector: { app: "web" },
          clusterIP: "None",
          publishNotReadyAddresses: true,
          ports: [{ port: 80, targetPort: b.port }],
          healthcheck,
        });
        const [headless] = await waitForAddresses(ctx, "headless", [ctx.net.v4(6)]);
        deepStrictEqual(headless.ports ?? [], []);
        await waitForAddresses(ctx, "all", [ctx.net.v4(6), ctx.net.v4(7)]);
        // Published at once (like a Service); the conditions tell which passed once the probes ran.
        const conditions = await waitFor(async () => {
          const eps = (await slicesOf(ctx, "all"))[0]?.endpoints ?? [];
          const by = Object.fromEntries(eps.map((e) => [e.addresses[0], e.conditions]));
          return by[ctx.net.v4(6)]?.serving ? by : undefined;
        }, { what: "the healthy endpoint to be serving" });
        deepStrictEqual(conditions[ctx.net.v4(6)], { ready: true, serving: true, terminating: false });
        deepStrictEqual(conditions[ctx.net.v4(7)], { ready: true, serving: false, terminating: false });
      } finally {
        await agent.stop();
        b.close();
      }
    });
  },
);

clusterTest(
  "agent: a restart finds the SWH's pods gone from its node: the slice and the report left behind go",
  async () => {
    await withCluster("agent-moved", async (ctx) => {
      const b = tcpBackend(ctx.net.v4(6));
      try {
        await createPod(ctx, { name: "up", node: ctx.node, ips: [ctx.net.v4(6)] });
        await createPod(ctx, { name: "down", node: ctx.node, ips: [ctx.net.v4(7)] }); // nothing listens
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: b.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: b.port } }],
          },
        });
        const first = await startTestAgent(ctx);
        try {
          await waitForAddresses(ctx, "web", [ctx.net.v4(6)]);
          await waitFor(async () => (await reportsOf(ctx, ctx.node)).has("web"), {
            what: "the report of web",
          });
        } finally {
          await first.stop();
        }
        // While no agent runs, the pods leave this node: the next agent never needs the SWH's spec (it does not
        // parse it) but must still take back what the last one published.
        const pods = Api.namespaced(ctx.transport, Pods, ctx.ns);
        for (const name of ["up", "down"]) await pods.delete(name, { gracePeriodSeconds: 0 });
        const second = await startTestAgent(ctx);
        try {
          await waitFor(async () => (await slicesOf(ctx, "web")).length === 0, { what: "the slice to go" });
          await waitFor(async () => !(await reportsOf(ctx, ctx.node)).has("web"), {
            what: "the report to go",
          });
        } finally {
          await second.stop();
        }
      } finally {
        b.close();
      }
    });
  },
);
