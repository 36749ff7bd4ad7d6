/**
 * A CRD older than the programs (Helm never upgrades a chart's CRDs) stores SWHs without defaults the programs'
 * schema applies. Agents take a spec the controller accepted as stored — except when the controller notes on
 * the Service that the stored spec lacks defaults: then they validate it themselves, which applies them. Here
 * the CRD lost its healthcheck defaults, and an SWH that leaves failureThreshold to its default (3) must still
 * withdraw a failing endpoint. With the real CRD, the controller notes nothing: what the apiserver stores is
 * what the schema's parse returns.
 */
import { ok, strictEqual } from "node:assert";
import {
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION,
} from "../../crds/conventions.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Services } from "../../kube/mod.ts";
import { applyEditedSwhCrd, installSwhCrd } from "../support/crd.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  httpBackend,
  startTestAgent,
  startTestController,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

/** Drops every `default` under `value` (a JSON schema). */
function withoutDefaults(value: unknown): void {
  if (Array.isArray(value)) value.forEach(withoutDefaults);
  else if (value && typeof value === "object") {
    delete (value as Record<string, unknown>).default;
    Object.values(value).forEach(withoutDefaults);
  }
}

clusterTest(
  "older CRD without defaults: the controller says so on the Service; agents apply them",
  async () => {
    await withCluster("agent-older-crd", async (ctx) => {
      const backend = httpBackend(ctx.net.v4(0));
      let controller = await startTestController(ctx);
      const agent = await startTestAgent(ctx);
      const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
      const services = Api.namespaced(ctx.transport, Services, ctx.ns);
      const spec = {
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: backend.port }],
        // failureThreshold, timeoutSeconds and the HTTP path are left to their defaults.
        healthcheck: { periodSeconds: 1, probes: [{ mode: "HTTP", http: { targetPort: backend.port } }] },
      };
      const create = (name: string) =>
        swhs.create(
          {
            apiVersion: "network.deckhouse.io/v1alpha1",
            kind: "ServiceWithHealthchecks",
            metadata: { name },
            spec,
          } as never,
        );
      const notedService = (name: string) =>
        waitFor(async () => {
          const svc = await services.getOpt(name);
          return svc?.metadata?.annotations?.[SERVICE_GENERATION_ANNOTATION] ? svc : undefined;
        }, { what: `the controller's Service ${name}` });
      try {
        await createPod(ctx, { name: "web-0", node: ctx.node, ips: [ctx.net.v4(0)] });

        // The current CRD: stored as parsed, nothing noted.
        await create("current");
        const current = await notedService("current");
        strictEqual(current.metadata?.annotations?.[SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION], undefined);
        await waitForAddresses(ctx, "current", [ctx.net.v4(0)]);

        // The older CRD: wait until the apiserver stores without defaults (a dry run shows it), then create. The
        // controller starts anew: a watch opened before a CRD changes is served on by the storage of the old one,
        // which applies the old defaults on read (the older CRD is there first in the case this test stands for).
        await controller.stop();
        await applyEditedSwhCrd((schema) => withoutDefaults(schema.properties.spec.properties.healthcheck));
        await waitFor(async () => {
          const dry = await swhs.create(
            {
              apiVersion: "network.deckhouse.io/v1alpha1",
              kind: "ServiceWithHealthchecks",
              metadata: { name: "dry" },
              spec,
            } as never,
            { dryRun: true },
          );
          return dry.spec.healthcheck.probes[0].failureThreshold === undefined;
        }, { what: "the older CRD in effect" });
        controller = await startTestController(ctx);
        await create("older");
        const older = await notedService("older");
        strictEqual(older.metadata?.annotations?.[SERVICE_SPEC_DEFAULTS_MISSING_ANNOTATION], "true");
        const stored = await swhs.get("older");
        ok(stored.spec.healthcheck.probes[0].failureThreshold === undefined, "stored without the default");
        await waitForAddresses(ctx, "older", [ctx.net.v4(0)]);

        // The default failureThreshold (3) applies: a failing backend leaves both Services' slices.
        backend.healthy = false;
        await waitForAddresses(ctx, "older", [], 15_000);
        await waitForAddresses(ctx, "current", [], 15_000);
      } finally {
        await installSwhCrd(); // the real CRD back for the tests that follow
        await agent.stop();
        await controller.stop();
        await backend.close();
      }
    });
  },
);
