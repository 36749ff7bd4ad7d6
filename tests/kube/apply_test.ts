/** Server-side apply on the real apiserver: field ownership, conflicts, force, and the /status subresource. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { withNamespace } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";
import { Api, ConfigMaps, KubeApiError, resourceType, Services } from "../../kube/mod.ts";
import type { KubeObject, ObjectMeta } from "../../kube/mod.ts";
import { applyWouldChange, createOnly } from "../../kube/ssa.ts";
import type { IService } from "kubernetes-models/v1/Service";

/** `manager/operation` → owned keys under `data` (or under `status` when `root` says so). */
function owners(meta: ObjectMeta | undefined, root = "f:data"): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const entry of meta?.managedFields ?? []) {
    const fields = (entry.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.[root];
    if (!fields) continue;
    out[`${entry.manager}/${entry.operation}`] = Object.keys(fields).filter((k) => k !== ".").sort();
  }
  return out;
}

Deno.test("apply: two field managers share an object; a conflict is typed with causes; force takes over", async () => {
  await withNamespace("kssa", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    await cms.apply({ metadata: { name: "shared" }, data: { a: "1" } }, { fieldManager: "controller" });
    const both = await cms.apply({ metadata: { name: "shared" }, data: { b: "2" } }, {
      fieldManager: "agent",
    });
    assertEquals(both.data, { a: "1", b: "2" });
    assertEquals(owners(both.metadata), { "controller/Apply": ["f:a"], "agent/Apply": ["f:b"] });

    // Applying an equal value co-owns it; a field left out of a manager's apply is released and, owned by
    // nobody else, removed.
    const shared = await cms.apply({ metadata: { name: "shared" }, data: { a: "1" } }, {
      fieldManager: "agent",
    });
    assertEquals(shared.data, { a: "1" });
    assertEquals(owners(shared.metadata), { "controller/Apply": ["f:a"], "agent/Apply": ["f:a"] });

    // A different value for a field another manager owns: 409 Conflict naming field and manager.
    const conflict = await assertRejects(
      () => cms.apply({ metadata: { name: "shared" }, data: { a: "3" } }, { fieldManager: "agent" }),
      KubeApiError,
    );
    assertEquals([conflict.code, conflict.reason], [409, "Conflict"]);
    assertEquals(conflict.causes.length, 1);
    assertEquals(conflict.causes[0].reason, "FieldManagerConflict");
    assertEquals(conflict.causes[0].field, ".data.a");
    assert(/conflict with "controller"/.test(conflict.causes[0].message ?? ""), conflict.causes[0].message);
    assertEquals((await cms.get("shared")).data, { a: "1" }, "nothing changed");

    // force: the agent takes the field over; the controller no longer owns it and now conflicts itself.
    const forced = await cms.apply({ metadata: { name: "shared" }, data: { a: "3" } }, {
      fieldManager: "agent",
      force: true,
    });
    assertEquals(forced.data, { a: "3" });
    assertEquals(owners(forced.metadata), { "agent/Apply": ["f:a"] });
    const back = await assertRejects(
      () => cms.apply({ metadata: { name: "shared" }, data: { a: "1" } }, { fieldManager: "controller" }),
      KubeApiError,
    );
    assert(/conflict with "agent"/.test(back.causes[0]?.message ?? ""), back.message);

    // Dry-run apply validates without persisting.
    await cms.apply({ metadata: { name: "shared" }, data: { a: "9" } }, {
      fieldManager: "agent",
      dryRun: true,
    });
    assertEquals((await cms.get("shared")).data, { a: "3" });
  });
});

Deno.test("apply: /status of a core resource (Service) is applied separately from its spec", async () => {
  await withNamespace("kstatus", async ({ transport, ns }) => {
    const services = Api.namespaced(transport, Services, ns);
    await services.apply({
      metadata: { name: "lb" },
      spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }] },
    }, { fieldManager: "controller" });
    const withStatus = await services.applyStatus({
      metadata: { name: "lb" },
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } },
    }, { fieldManager: "lb-controller" });
    assertEquals(withStatus.status?.loadBalancer?.ingress?.map((i) => i.ip), ["192.0.2.10"]);
    assertEquals(withStatus.spec?.type, "LoadBalancer");
    const statusOwners = (withStatus.metadata?.managedFields ?? []).filter((m) => m.subresource === "status");
    assertEquals(statusOwners.map((m) => m.manager), ["lb-controller"]);
    // Status sent to the main resource is ignored (status subresource semantics).
    const ignored = await services.apply({
      metadata: { name: "lb" },
      spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }] },
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.99" }] } },
    }, { fieldManager: "controller" });
    assertEquals(ignored.status?.loadBalancer?.ingress?.map((i) => i.ip), ["192.0.2.10"]);
  });
});

interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { ready?: boolean; observedSize?: number };
}
const Widgets = resourceType<Widget>({
  group: "kube-client.test.swh.io",
  version: "v1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
});
interface Crd extends KubeObject {
  spec: unknown;
  status?: { conditions?: Array<{ type: string; status: string }> };
}
const Crds = resourceType<Crd>({
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
});

Deno.test("apply: a custom resource addressed generically, with spec and /status applied by different managers", async () => {
  await withNamespace("kcrd", async ({ transport, ns }) => {
    const crds = Api.cluster(transport, Crds);
    const name = `${Widgets.plural}.${Widgets.group}`;
    await crds.apply({
      metadata: { name },
      spec: {
        group: Widgets.group,
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [{
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } } },
                status: {
                  type: "object",
                  properties: { ready: { type: "boolean" }, observedSize: { type: "integer" } },
                },
              },
            },
          },
        }],
      },
    }, { fieldManager: "kube-client-test" });
    await waitFor(
      async () =>
        (await crds.get(name)).status?.conditions?.some((c) =>
          c.type === "Established" && c.status === "True"
        ),
      { what: `CRD ${name} to be established`, timeoutMs: 20_000 },
    );
    const widgets = Api.namespaced(transport, Widgets, ns);
    // Discovery of a fresh CRD can lag its Established condition by a moment.
    await waitFor(async () => (await widgets.list()).items, {
      what: "widgets to be served",
      timeoutMs: 20_000,
    });
    const created = await widgets.apply({ metadata: { name: "w" }, spec: { size: 3 } }, {
      fieldManager: "user",
    });
    assertEquals(created.spec, { size: 3 });
    assertEquals(created.apiVersion, "kube-client.test.swh.io/v1");
    const status = await widgets.applyStatus(
      { metadata: { name: "w" }, status: { ready: true, observedSize: 3 } },
      { fieldManager: "widget-controller" },
    );
    assertEquals(status.status, { ready: true, observedSize: 3 });
    assertEquals(owners(status.metadata, "f:status"), {
      "widget-controller/Apply": ["f:observedSize", "f:ready"],
    });
    const invalid = await assertRejects(
      () => widgets.apply({ metadata: { name: "w" }, spec: { size: 0 } }, { fieldManager: "user" }),
      KubeApiError,
    );
    assertEquals(invalid.code, 422);
    assert(invalid.causes.some((c) => c.field === "spec.size"), JSON.stringify(invalid.causes));
    await crds.delete(name);
  });
});

Deno.test("create-only apply: an absent Service is created owned as applied; an existing one is refused untouched", async () => {
  await withNamespace("kcreate", async ({ transport, ns }) => {
    const services = Api.namespaced(transport, Services, ns);
    const listKeys = { "spec.ports": ["port", "protocol"] };
    const body: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns, labels: { app: "web" } },
      spec: { type: "ClusterIP", ports: [{ protocol: "TCP", port: 80, targetPort: 8080 }] },
    };
    const created = await services.apply(createOnly(body), { fieldManager: "creator", force: true });
    assertEquals(
      created.metadata?.managedFields?.map((m) => `${m.manager}/${m.operation}`),
      ["creator/Apply"],
    );
    // Owned exactly as a plain apply would own it: applying the body again is a no-op, and dropping a label
    // removes it.
    assertEquals(applyWouldChange(created, body, { manager: "creator", listKeys }), false);
    const again = await services.apply(body, { fieldManager: "creator", force: true });
    assertEquals(again.metadata?.resourceVersion, created.metadata?.resourceVersion, "the apply was a no-op");
    const dropped = await services.apply({ ...body, metadata: { name: "web", namespace: ns } }, {
      fieldManager: "creator",
      force: true,
    });
    assertEquals(dropped.metadata?.labels, undefined);

    // Someone else's Service of the same name: refused (409), whatever force says, and left as it was.
    const theirs = await services.create({
      metadata: { name: "theirs", labels: { owner: "them" } },
      spec: { selector: { app: "theirs" }, ports: [{ protocol: "TCP", port: 80 }] },
    }, { fieldManager: "them" });
    const refused = await assertRejects(
      () =>
        services.apply(createOnly({ ...body, metadata: { name: "theirs", namespace: ns } }), {
          fieldManager: "creator",
          force: true,
        }),
      KubeApiError,
    );
    assertEquals(refused.code, 409);
    const after = await services.get("theirs");
    assertEquals(after.metadata?.resourceVersion, theirs.metadata?.resourceVersion);
    assertEquals(after.spec?.selector, { app: "theirs" });
  });
});
