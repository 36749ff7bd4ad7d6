/**
 * Watch resilience on the real apiserver: an informer keeps up across a kube-apiserver restart (nothing
 * missed), and 410 Gone — a watch from a resourceVersion the restarted apiserver no longer serves — is a
 * typed error for one watch and a relist for the watcher.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { withNamespace } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";
import { requireTestClusterDir } from "../support/env.ts";
import { restartApiserver } from "../../tools/cluster/mod.ts";
import { Api, ConfigMaps, Informer, isApiError, watcher, WatchExpiredError } from "../../kube/mod.ts";
import type { WatcherErrorInfo } from "../../kube/mod.ts";

Deno.test("informer survives a kube-apiserver restart without missing an event; 410 after restart → relist", async () => {
  const dir = requireTestClusterDir();
  await withNamespace("krestart", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    for (let i = 0; i < 3; i++) await cms.create({ metadata: { name: `pre-${i}` }, data: { v: "before" } });
    const beforeRv = (await cms.listAll()).resourceVersion;

    const errors: WatcherErrorInfo[] = [];
    const informer = new Informer(cms, {
      backoff: { initialMs: 200, maxMs: 2_000 },
      onError: (e) => "state" in e && errors.push(e),
    });
    const events: string[] = [];
    informer.subscribe((e) =>
      events.push(
        `${e.type}:${e.object.metadata?.name}${e.type === "delete" ? "" : `:${e.object.data?.v ?? ""}`}`,
      )
    );
    const ac = new AbortController();
    const stopped = informer.start(ac.signal);
    try {
      await informer.synced;
      await cms.create({ metadata: { name: "before-restart" } });

      // Keep writing while the apiserver goes down and comes back; some writes fail, that is expected.
      let restarting = true;
      const writer = (async () => {
        for (let i = 0; restarting; i++) {
          await cms.create({ metadata: { name: `during-${i}` }, data: { v: "during" } }).catch(() => {});
        }
      })();
      try {
        await restartApiserver(dir);
      } finally {
        restarting = false;
        await writer;
      }

      await cms.delete("pre-0");
      await cms.patch("pre-1", { type: "merge", body: { data: { v: "after" } } });
      await cms.create({ metadata: { name: "after-restart" }, data: { v: "after" } });

      // The informer converges on the apiserver's truth, and saw every object that exists as an add.
      const truth = await cms.listAll();
      const truthKeys = truth.items.map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort();
      await waitFor(
        () =>
          JSON.stringify(
            informer.list().map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort(),
          ) ===
            JSON.stringify(truthKeys),
        { what: "the informer cache to match a fresh list", timeoutMs: 60_000 },
      );
      for (const obj of truth.items) {
        const name = obj.metadata?.name;
        assert(events.some((e) => e.startsWith(`add:${name}:`)), `add event for ${name}: ${events}`);
      }
      assert(events.includes("delete:pre-0"), `delete event for pre-0: ${events}`);
      assert(events.includes("update:pre-1:after"), `update event for pre-1: ${events}`);
      assert(truth.items.some((o) => o.metadata?.name === "after-restart"), "post-restart write exists");
      assert(errors.length >= 1, "the watch connection did break and was recovered");
      assert(errors.every((e) => e.action === "retry" || e.action === "relist"), "only recoverable errors");

      // 410: the restarted apiserver's watch cache starts after beforeRv.
      const expired = await assertRejects(async () => {
        for await (const _ of cms.watch({ resourceVersion: beforeRv, signal: AbortSignal.timeout(10_000) })) {
          // a served watch would block here until the timeout; the assertion is that it is refused
        }
      }, WatchExpiredError);
      assertEquals([expired.status.code, expired.status.reason], [410, "Expired"]);
      assert(/too old resource version/.test(expired.status.message ?? ""), expired.status.message);

      // The watcher started from that resourceVersion relists instead of failing.
      const relistErrors: WatcherErrorInfo[] = [];
      const wac = new AbortController();
      let first: unknown;
      for await (
        const ev of watcher(cms, {
          signal: wac.signal,
          resourceVersion: beforeRv,
          onError: (e) => relistErrors.push(e),
        })
      ) {
        first = ev;
        wac.abort();
      }
      assertEquals(relistErrors.map((e) => [e.action, e.error instanceof WatchExpiredError]), [[
        "relist",
        true,
      ]]);
      const restarted = first as { type: string; objects: Array<{ metadata?: { name?: string } }> };
      assertEquals(restarted.type, "Restarted");
      assertEquals(
        restarted.objects.map((o) => o.metadata?.name).sort(),
        truth.items.map((o) => o.metadata?.name).sort(),
      );

      assert(!isApiError(errors.at(-1)?.error, 403), "no auth failures after restart");
    } finally {
      ac.abort();
      await stopped;
    }
  });
});
