/** Watches and informers on the real apiserver: events in order, abort, selectors, synced, store. */
import { assert, assertEquals } from "./assert.ts";
import { withNamespace } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";
import { Api, ConfigMaps, Informer, watcher } from "../../kube/mod.ts";
import type { InformerEvent, WatchEvent } from "../../kube/mod.ts";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";

Deno.test("watch: one connection from a list's resourceVersion sees ADDED, MODIFIED, DELETED in order; abort ends it", async () => {
  await withNamespace("kwatch", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    const { resourceVersion } = await cms.listAll();
    await cms.create({ metadata: { name: "w" }, data: { v: "1" } });
    await cms.patch("w", { type: "merge", body: { data: { v: "2" } } });
    await cms.delete("w");

    const ac = new AbortController();
    const seen: WatchEvent<IConfigMap>[] = [];
    let aborted: unknown;
    try {
      for await (const event of cms.watch({ resourceVersion, signal: ac.signal })) {
        if (event.object.metadata?.name !== "w") continue;
        seen.push(event);
        if (event.type === "DELETED") ac.abort(new Error("done"));
      }
    } catch (err) {
      aborted = err;
    }
    assertEquals((aborted as Error)?.message, "done");
    assertEquals(seen.map((e) => [e.type, e.object.data?.v]), [["ADDED", "1"], ["MODIFIED", "2"], [
      "DELETED",
      "2",
    ]]);
    const rvs = seen.map((e) => Number(e.object.metadata?.resourceVersion));
    assert(rvs[0] < rvs[1] && rvs[1] < rvs[2], "resourceVersions increase");
  });
});

Deno.test("watcher: lists first (Restarted with the full state), then streams changes; stops on abort", async () => {
  await withNamespace("kwatcher", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    for (let i = 0; i < 5; i++) await cms.create({ metadata: { name: `pre-${i}`, labels: { k: "x" } } });
    const ac = new AbortController();
    const events: string[] = [];
    const done = (async () => {
      for await (const ev of watcher(cms, { signal: ac.signal, labelSelector: "k=x", pageSize: 2 })) {
        if (ev.type === "Restarted") {
          events.push(`Restarted:${ev.objects.map((o) => o.metadata?.name).sort()}`);
        } else events.push(`${ev.type}:${ev.object.metadata?.name}`);
      }
    })();
    await waitFor(() => events.length === 1, { what: "initial list" });
    assertEquals(events[0], "Restarted:pre-0,pre-1,pre-2,pre-3,pre-4");
    await cms.create({ metadata: { name: "new", labels: { k: "x" } } });
    await cms.create({ metadata: { name: "unlabelled" } });
    await cms.patch("pre-0", { type: "merge", body: { data: { a: "b" } } });
    await cms.delete("pre-1");
    await waitFor(() => events.length === 4, { what: "three watch events" });
    ac.abort();
    await done; // ends without throwing
    assertEquals(events.slice(1), ["Added:new", "Modified:pre-0", "Deleted:pre-1"]);
  });
});

Deno.test("informer: synced after the initial list, cache keyed by namespace/name with selectors, typed events, clean stop", async () => {
  await withNamespace("kinformer", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    await cms.create({ metadata: { name: "a", labels: { app: "web" } }, data: { v: "1" } });
    await cms.create({ metadata: { name: "other", labels: { app: "db" } } });
    const informer = new Informer(cms, { labelSelector: "app=web" });
    const events: InformerEvent<IConfigMap>[] = [];
    informer.subscribe((e) => events.push(e));
    assertEquals(informer.hasSynced, false);
    const ac = new AbortController();
    const stopped = informer.start(ac.signal);
    await informer.synced;
    assertEquals(informer.hasSynced, true);
    assertEquals(informer.list().map((o) => o.metadata?.name), ["a"]);
    assertEquals(informer.get(ns, "a")?.data, { v: "1" });
    assertEquals(informer.get(ns, "other"), undefined);
    assertEquals(events.map((e) => `${e.type}:${e.object.metadata?.name}`), ["add:a"]);

    await cms.patch("a", { type: "merge", body: { data: { v: "2" } } });
    await cms.create({ metadata: { name: "b", labels: { app: "web" } } });
    await cms.patch("other", { type: "merge", body: { data: { ignored: "yes" } } });
    await cms.delete("a");
    await waitFor(() => events.length === 4, { what: "informer events" });
    const summary = events.map((e) =>
      e.type === "update"
        ? `update:${e.object.metadata?.name}:${e.old.data?.v}->${e.object.data?.v}`
        : `${e.type}:${e.object.metadata?.name}`
    );
    assertEquals(summary, ["add:a", "update:a:1->2", "add:b", "delete:a"]);
    assertEquals(informer.size, 1);
    assertEquals(informer.get(ns, "b")?.metadata?.name, "b");

    ac.abort();
    await stopped;
  });
});

Deno.test("informer: synced rejects when stopped before the initial list", async () => {
  await withNamespace("kinfstop", async ({ transport, ns }) => {
    const informer = new Informer(Api.namespaced(transport, ConfigMaps, ns));
    const ac = new AbortController();
    ac.abort(new Error("shutdown"));
    await informer.start(ac.signal);
    let reason: unknown;
    await informer.synced.catch((err) => (reason = err));
    assertEquals((reason as Error).message, "shutdown");
  });
});
