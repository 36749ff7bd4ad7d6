/**
 * Unit tests of the watcher state machine and the informer's relist diff, driven by a scripted
 * KubeTransport (the cluster tests cover the same code against the real apiserver).
 */
import { assertEquals } from "./assert.ts";
import { waitFor } from "../support/wait.ts";
import { Api, ConfigMaps, Informer, ResettingBackoff } from "../../kube/mod.ts";
import type { KubeTransport, RequestOptions } from "../../kube/mod.ts";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";

const cm = (name: string, rv: string): IConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion: rv },
});

function ndjson(lines: unknown[]): ReadableStream<Uint8Array> {
  const text = lines.map((l) => JSON.stringify(l) + "\n").join("");
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });
}

/** Serves scripted responses: each list/watch call takes the next entry of its queue. */
class ScriptedTransport implements KubeTransport {
  readonly namespace = "ns";
  readonly calls: string[] = [];
  constructor(
    readonly lists: Array<{ items: IConfigMap[]; rv: string }>,
    readonly watches: Array<unknown[] | "hang">,
  ) {}

  request(opts: RequestOptions & { expect?: "json" }): Promise<unknown>;
  request(opts: RequestOptions & { expect: "stream" }): Promise<ReadableStream<Uint8Array>>;
  request(opts: RequestOptions & { expect?: "json" | "stream" }): Promise<unknown> {
    if (opts.query?.watch) {
      this.calls.push(`watch@${opts.query.resourceVersion}`);
      const next = this.watches.shift() ?? "hang";
      if (next === "hang") {
        // An idle watch that ends only when aborted.
        return Promise.resolve(
          new ReadableStream({
            start(c) {
              opts.signal.addEventListener("abort", () => c.error(opts.signal.reason), { once: true });
            },
          }),
        );
      }
      return Promise.resolve(ndjson(next));
    }
    this.calls.push(`list`);
    const next = this.lists.shift();
    if (!next) throw new Error("unexpected list");
    return Promise.resolve({
      kind: "ConfigMapList",
      metadata: { resourceVersion: next.rv },
      items: next.items,
    });
  }
}

Deno.test("informer: watch resumes from the last resourceVersion (bookmarks included); 410 relists and diffs", async () => {
  const transport = new ScriptedTransport(
    [
      { items: [cm("a", "10"), cm("b", "11"), cm("c", "12")], rv: "12" },
      // after the 410: b changed, c gone, d new, a untouched
      { items: [cm("a", "10"), cm("b", "30"), cm("d", "31")], rv: "31" },
    ],
    [
      // first connection: one change, a bookmark, then the server closes the stream
      [
        { type: "MODIFIED", object: cm("a", "13") },
        {
          type: "BOOKMARK",
          object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "20" } },
        },
      ],
      // resumed from 20: the history is gone
      [{
        type: "ERROR",
        object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
      }],
      "hang",
    ],
  );
  const errors: string[] = [];
  const informer = new Informer(Api.namespaced(transport, ConfigMaps, "ns"), {
    backoff: { initialMs: 1, maxMs: 2 },
    onError: (e) => errors.push(e.action),
  });
  const events: string[] = [];
  informer.subscribe((e) =>
    events.push(`${e.type}:${e.object.metadata?.name}@${e.object.metadata?.resourceVersion}`)
  );
  const ac = new AbortController();
  const stopped = informer.start(ac.signal);
  await informer.synced;
  // The third watch (after the relist was applied) hangs until abort: everything before it is processed.
  await waitFor(() => transport.calls.includes("watch@31"), { what: "the watch after the relist" });
  ac.abort();
  await stopped;

  assertEquals(transport.calls, ["list", "watch@12", "watch@20", "list", "watch@31"]);
  assertEquals(errors, ["relist"]);
  assertEquals(events, [
    "add:a@10",
    "add:b@11",
    "add:c@12",
    "update:a@13",
    // relist diff: c deleted; a differs from the cache (13 → 10 as listed); b updated; d added
    "delete:c@12",
    "update:a@10",
    "update:b@30",
    "add:d@31",
  ]);
  assertEquals(informer.list().map((o) => o.metadata?.name).sort(), ["a", "b", "d"]);
});

Deno.test("informer accept: refused objects are never cached nor seen; one that stops being accepted is deleted", async () => {
  const owned = (name: string, rv: string, owner: string): IConfigMap => ({
    ...cm(name, rv),
    data: { owner },
  });
  const transport = new ScriptedTransport(
    [{ items: [owned("a", "10", "me"), owned("x", "11", "other")], rv: "11" }],
    [
      [
        { type: "ADDED", object: owned("y", "12", "other") },
        { type: "MODIFIED", object: owned("x", "13", "other") },
        { type: "DELETED", object: owned("y", "14", "other") },
        { type: "ADDED", object: owned("b", "15", "me") },
        { type: "MODIFIED", object: owned("a", "16", "other") },
      ],
      "hang",
    ],
  );
  const informer = new Informer(Api.namespaced(transport, ConfigMaps, "ns"), {
    accept: (o) => o.data?.owner === "me",
  });
  const events: string[] = [];
  informer.subscribe((e) =>
    events.push(`${e.type}:${e.object.metadata?.name}@${e.object.metadata?.resourceVersion}`)
  );
  const ac = new AbortController();
  const stopped = informer.start(ac.signal);
  await informer.synced;
  await waitFor(() => transport.calls.includes("watch@16"), { what: "the watch after the events" });
  ac.abort();
  await stopped;
  // a: listed, then no longer accepted → deleted (its last accepted state); x and y: never seen.
  assertEquals(events, ["add:a@10", "add:b@15", "delete:a@10"]);
  assertEquals(informer.list().map((o) => o.metadata?.name), ["b"]);
});

Deno.test("watcher backoff: exponential, capped, reset after a quiet period", () => {
  let now = 0;
  const b = new ResettingBackoff({ initialMs: 100, maxMs: 1000, resetAfterMs: 5000 }, () => now);
  const delays = [b.next(), b.next(), b.next(), b.next(), b.next()];
  // equal jitter: each delay in [d/2, d] for d = 100, 200, 400, 800, 1000
  [100, 200, 400, 800, 1000].forEach((d, i) => {
    if (delays[i] < d / 2 || delays[i] > d) {
      throw new Error(`delay ${i} = ${delays[i]} not in [${d / 2}, ${d}]`);
    }
  });
  now += 5001;
  const afterQuiet = b.next();
  if (afterQuiet > 100) throw new Error(`backoff did not reset: ${afterQuiet}`);
});
