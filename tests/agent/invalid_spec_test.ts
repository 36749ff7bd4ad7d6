/**
 * A spec admission accepts but the programs refuse (the CRD's and the runtime's rules disagree — simulated here
 * with a CRD whose http.path pattern is removed) is never ignored in silence: the controller reports InvalidSpec
 * with the validation message and a Warning Event; agents keep serving by the last valid spec, so probes go on
 * and a dead pod still leaves its slice.
 */
import { SwhResource } from "../../crds/resource.ts";
import { Api } from "../../kube/mod.ts";
import { applyEditedSwhCrd, installSwhCrd } from "../support/crd.ts";
import { waitFor } from "../support/wait.ts";
import { eventsAbout } from "../controller/helpers.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  startTestAgent,
  startTestController,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest(
  "invalid spec: InvalidSpec condition and Warning Event; agents keep the last valid spec",
  async () => {
    await withCluster("agent-invalid", async (ctx) => {
      const backend = httpBackend(ctx.net.v4(0));
      const controller = await startTestController(ctx);
      const agent = await startTestAgent(ctx);
      const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
      try {
        await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ctx.net.v4(0)] });
        const spec = (path: string) => ({
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: backend.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: backend.port, path } }],
          },
        });
        await createSwh(ctx, "web", spec("/healthz"));
        await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);

        // The http.path pattern dropped: admission lets through what zod refuses.
        await applyEditedSwhCrd((schema) => {
          delete schema.properties.spec.properties.healthcheck.properties.probes.items.properties.http
            .properties
            .path.pattern;
        });
        // A no-break space: accepted by the loosened CRD, refused by the programs.
        await waitFor(
          () =>
            swhs.patch("web", { type: "merge", body: { spec: spec("/health\u00a0z") } }).then(
              () => true,
              () => false,
            ),
          { what: "the loosened CRD to accept the patch" },
        );
        let seen = "";
        await waitFor(async () => {
          const c = (await swhs.get("web")).status?.conditions?.find((c) => c.type === "Ready");
          seen = `${c?.status} ${c?.reason}: ${c?.message}`;
          return c?.reason === "InvalidSpec" && c.message.includes("spec.healthcheck.probes[0].http.path");
        }, { what: "Ready=False InvalidSpec naming the field", lastSeen: () => seen });
        await waitFor(
          async () => (await eventsAbout(ctx.ns, "web")).some((l) => l.startsWith("InvalidSpec:")),
          {
            what: "an InvalidSpec Warning Event",
          },
        );
        // The agent still serves by the last valid spec: the endpoint stays while it passes, and leaves when it fails.
        await waitForAddresses(ctx, "web", [ctx.net.v4(0)]);
        backend.healthy = false;
        await waitForAddresses(ctx, "web", [], 10_000);
      } finally {
        await installSwhCrd(); // the real CRD back for the tests that follow
        await agent.stop();
        await controller.stop();
        await backend.close();
      }
    });
  },
);
