/** Typed resource access against the real apiserver: CRUD, paging, selectors, patches, typed errors. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { withNamespace } from "./helpers.ts";
import {
  Api,
  ConfigMaps,
  EndpointSlices,
  Events,
  KubeApiError,
  Leases,
  Namespaces,
  Nodes,
  Pods,
  Secrets,
  Services,
} from "../../kube/mod.ts";
import type { KubeStatus } from "../../kube/mod.ts";
import type { IPod } from "kubernetes-models/v1/Pod";

function pod(name: string, labels: Record<string, string>, nodeName = "node-a"): IPod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { nodeName, containers: [{ name: "c", image: "registry.invalid/none:1" }] },
  };
}

Deno.test("api: create, get, list with paging and label/field selectors, replace, patch, delete", async () => {
  await withNamespace("kapi", async ({ transport, ns }) => {
    const pods = Api.namespaced(transport, Pods, ns);
    for (let i = 0; i < 7; i++) {
      await pods.create(
        pod(`p${i}`, { app: i % 2 === 0 ? "even" : "odd", idx: String(i) }, i < 3 ? "node-a" : "node-b"),
      );
    }
    const got = await pods.get("p3");
    assertEquals(got.metadata?.labels?.app, "odd");
    assertEquals(await pods.getOpt("missing"), undefined);
    const notFound = await assertRejects(() => pods.get("missing"), KubeApiError);
    assertEquals([notFound.code, notFound.reason], [404, "NotFound"]);

    // Paging: 3 + 3 + 1, one consistent snapshot.
    const page1 = await pods.list({ limit: 3 });
    assertEquals(page1.items.length, 3);
    assert(page1.metadata.continue, "first page has a continue token");
    const page2 = await pods.list({ limit: 3, continue: page1.metadata.continue });
    const page3 = await pods.list({ limit: 3, continue: page2.metadata.continue });
    assertEquals(page3.items.length, 1);
    assertEquals(page3.metadata.continue ?? "", "");
    const names = [...page1.items, ...page2.items, ...page3.items].map((p) => p.metadata?.name).sort();
    assertEquals(names, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    const all = await pods.listAll({ limit: 2 });
    assertEquals(all.items.length, 7);
    assert(/^\d+$/.test(all.resourceVersion), "snapshot resourceVersion");
    // `map` reaches every item of every page, in order; the pages are 2 + 2 + 2 + 1 requests.
    const seen: number[] = [];
    const mapped = await pods.listAll({
      limit: 2,
      map: (
        p,
      ) => (seen.push(seen.length), { apiVersion: "v1", kind: "Pod", metadata: { name: p.metadata?.name } }),
    });
    assertEquals(mapped.items.map((p) => p.metadata?.name), all.items.map((p) => p.metadata?.name));
    assertEquals([seen.length, mapped.requests, mapped.items[0].spec], [7, 4, undefined]);

    const even = await pods.list({ labelSelector: "app=even" });
    assertEquals(even.items.map((p) => p.metadata?.name).sort(), ["p0", "p2", "p4", "p6"]);
    const onB = await pods.list({ fieldSelector: "spec.nodeName=node-b", labelSelector: "app=odd" });
    assertEquals(onB.items.map((p) => p.metadata?.name).sort(), ["p3", "p5"]);

    // Create twice → AlreadyExists; invalid object → Invalid with field causes.
    const dup = await assertRejects(() => pods.create(pod("p0", {})), KubeApiError);
    assertEquals([dup.code, dup.reason], [409, "AlreadyExists"]);
    const invalid = await assertRejects(
      () => pods.create({ metadata: { name: "bad" }, spec: { containers: [] } }),
      KubeApiError,
    );
    assertEquals([invalid.code, invalid.reason], [422, "Invalid"]);
    assert(
      invalid.causes.some((c) => c.field === "spec.containers"),
      `causes name spec.containers: ${JSON.stringify(invalid.causes)}`,
    );

    // Replace with optimistic concurrency: a stale resourceVersion is a Conflict.
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    const cm = await cms.create({ metadata: { name: "cfg" }, data: { a: "1" } });
    const replaced = await cms.replace({ ...cm, data: { a: "2" } });
    assertEquals(replaced.data, { a: "2" });
    const stale = await assertRejects(() => cms.replace({ ...cm, data: { a: "3" } }), KubeApiError);
    assertEquals([stale.code, stale.reason], [409, "Conflict"]);

    // Merge patch and JSON patch (a failing `test` op is rejected, not retried).
    const merged = await cms.patch("cfg", { type: "merge", body: { data: { b: "x", a: null } } });
    assertEquals(merged.data, { b: "x" });
    const jsonPatched = await cms.patch("cfg", {
      type: "json",
      ops: [{ op: "test", path: "/data/b", value: "x" }, { op: "add", path: "/data/c", value: "y" }],
    });
    assertEquals(jsonPatched.data, { b: "x", c: "y" });
    const failedTest = await assertRejects(
      () => cms.patch("cfg", { type: "json", ops: [{ op: "test", path: "/data/b", value: "nope" }] }),
      KubeApiError,
    );
    assertEquals(failedTest.code, 422);

    // Delete with a wrong uid precondition → Conflict; then for real with a propagation policy.
    const wrongUid = await assertRejects(
      () => pods.delete("p0", { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } }),
      KubeApiError,
    );
    assertEquals(wrongUid.code, 409);
    const p0 = await pods.get("p0");
    const deleted = await pods.delete("p0", {
      preconditions: { uid: p0.metadata?.uid },
      propagationPolicy: "Background",
      gracePeriodSeconds: 0,
    });
    assertEquals((deleted as IPod).metadata?.name, "p0");
    assertEquals(await pods.getOpt("p0"), undefined);
    const cmDeleted = await cms.delete("cfg");
    assertEquals((cmDeleted as KubeStatus).status ?? "Success", "Success");
    // Dry-run create persists nothing.
    await pods.create(pod("dry", {}), { dryRun: true });
    assertEquals(await pods.getOpt("dry"), undefined);
  });
});

Deno.test("api: every typed resource round-trips (Services, Secrets, Events, EndpointSlices, Leases, Nodes, Namespaces)", async () => {
  await withNamespace("ktypes", async ({ transport, ns }) => {
    const svc = await Api.namespaced(transport, Services, ns).create({
      metadata: { name: "web" },
      spec: { ports: [{ port: 80, protocol: "TCP" }] },
    });
    assert(svc.spec?.clusterIP, "clusterIP allocated");
    const secret = await Api.namespaced(transport, Secrets, ns).create({
      metadata: { name: "creds" },
      type: "Opaque",
      stringData: { user: "u" },
    });
    assertEquals(secret.data?.user, btoa("u"));
    const event = await Api.namespaced(transport, Events, ns).create({
      metadata: { name: "e1" },
      involvedObject: { kind: "Service", name: "web", namespace: ns },
      reason: "Tested",
      message: "hello",
      type: "Normal",
    });
    assertEquals(event.reason, "Tested");
    const slice = await Api.namespaced(transport, EndpointSlices, ns).create({
      metadata: { name: "web-1", labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.1.0.5"], conditions: { ready: true } }],
      ports: [{ port: 8080, protocol: "TCP", name: "" }],
    });
    assertEquals(slice.endpoints?.[0].addresses, ["10.1.0.5"]);
    const lease = await Api.namespaced(transport, Leases, ns).create({
      metadata: { name: "leader" },
      spec: { holderIdentity: "me", leaseDurationSeconds: 15 },
    });
    assertEquals(lease.spec?.holderIdentity, "me");

    const nodes = Api.cluster(transport, Nodes);
    const nodeName = `${ns}-node`;
    try {
      const node = await nodes.create({ metadata: { name: nodeName, labels: { test: ns } } });
      assertEquals(node.metadata?.name, nodeName);
      assertEquals((await nodes.list({ labelSelector: `test=${ns}` })).items.length, 1);
    } finally {
      await nodes.delete(nodeName).catch(() => {});
    }
    const namespace = await Api.cluster(transport, Namespaces).get(ns);
    assertEquals(namespace.status?.phase, "Active");
    // Api.all spans namespaces for list; named access needs a namespace.
    const allSecrets = await Api.all(transport, Secrets).list({ fieldSelector: `metadata.namespace=${ns}` });
    assertEquals(allSecrets.items.map((s) => s.metadata?.name), ["creds"]);
  });
});
