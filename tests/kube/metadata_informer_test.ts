/**
 * Metadata-only reads and the MetadataWatchInformer on the real apiserver, with a test CRD whose status is a
 * subresource: status writes arrive as small metadata events without a fetch, spec changes are fetched,
 * bursts are served by LISTs, deletes win over fetches in flight, a 410 relists full objects, and the bytes
 * a metadata watch receives are compared with a full watch's.
 *
 * The transport is the real one, wrapped to record requests and, where a race must be made certain, to hold
 * a response that already came back from the apiserver (a slow network, not a fake server).
 */
import { assert, assertEquals } from "./assert.ts";
import { adminConnection, withNamespace } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";
import { requireTestClusterDir } from "../support/env.ts";
import { bigStatus, Gadgets, installGadgets, specOnly } from "../support/gadget_crd.ts";
import type { Gadget } from "../support/gadget_crd.ts";
import { restartApiserver } from "../../tools/cluster/mod.ts";
import {
  Api,
  ConfigMaps,
  HttpTransport,
  Informer,
  isApiError,
  MetadataWatchInformer,
  resourceType,
  ServiceAccounts,
  staticToken,
  WatchExpiredError,
} from "../../kube/mod.ts";
import type {
  FetchInfo,
  InformerEvent,
  KubeObject,
  KubeTransport,
  MetadataWatchInformerError,
  Query,
  RequestOptions,
  WatchReceived,
} from "../../kube/mod.ts";

interface Role extends KubeObject {
  rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
}
const Roles = resourceType<Role>({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural: "roles",
  kind: "Role",
  namespaced: true,
});
interface RoleBinding extends KubeObject {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}
const RoleBindings = resourceType<RoleBinding>({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural: "rolebindings",
  kind: "RoleBinding",
  namespaced: true,
});

/** What an informer received (watch events by type, bytes) and fetched (GETs, LISTs). */
class Counts {
  readonly events: Record<string, number> = {};
  bytes = 0;
  gets = 0;
  getsNotFound = 0;
  lists = 0;
  listRequests = 0;
  listServed = 0;
  readonly onReceive = (r: WatchReceived): void => {
    this.events[r.type] = (this.events[r.type] ?? 0) + 1;
    this.bytes += r.bytes;
  };
  readonly onFetch = (f: FetchInfo): void => {
    if (f.via === "get") {
      this.gets++;
      if (!f.found) this.getsNotFound++;
    } else {
      this.lists++;
      this.listRequests += f.requests;
      this.listServed += f.pending;
    }
  };
  get fetches(): { gets: number; lists: number } {
    return { gets: this.gets, lists: this.lists };
  }
}

interface Recorded {
  verb: "get" | "list" | "watch" | "write";
  name: string | undefined;
  query: Query;
}

/**
 * The real transport, recording every request; it can hold the response of the next GET of a name (already
 * answered by the apiserver) and hold watch requests before they are sent, until released.
 */
class RecordingTransport implements KubeTransport {
  readonly namespace: string;
  readonly requests: Recorded[] = [];
  readonly #inner: KubeTransport;
  readonly #heldGets = new Map<string, { arrived: () => void; release: Promise<void> }>();
  #watchGate: Promise<void> | undefined;

  constructor(inner: KubeTransport) {
    this.#inner = inner;
    this.namespace = inner.namespace;
  }

  /** Holds the next GET response for `name`; `arrived` resolves once it is held. */
  holdNextGet(name: string): { arrived: Promise<void>; release: () => void } {
    let arrived!: () => void;
    let release!: () => void;
    const arrivedP = new Promise<void>((r) => (arrived = r));
    const releaseP = new Promise<void>((r) => (release = r));
    this.#heldGets.set(name, { arrived, release: releaseP });
    return { arrived: arrivedP, release };
  }

  /** Holds every watch request (before sending it) until the returned function is called. */
  pauseWatches(): () => void {
    let resume!: () => void;
    this.#watchGate = new Promise<void>((r) => (resume = r));
    return () => {
      this.#watchGate = undefined;
      resume();
    };
  }

  request(opts: RequestOptions & { expect?: "json" }): Promise<unknown>;
  request(opts: RequestOptions & { expect: "stream" }): Promise<ReadableStream<Uint8Array>>;
  async request(opts: RequestOptions & { expect?: "json" | "stream" }): Promise<unknown> {
    const parts = opts.path.split("/");
    const named = parts.at(-2) === Gadgets.plural;
    const name = named ? parts.at(-1) : undefined;
    const verb = opts.method !== "GET" ? "write" : opts.query?.watch ? "watch" : named ? "get" : "list";
    this.requests.push({ verb, name, query: opts.query ?? {} });
    if (verb === "watch") {
      while (this.#watchGate) await this.#watchGate;
    }
    const result = await (this.#inner.request as (o: typeof opts) => Promise<unknown>)(opts);
    const held = verb === "get" && name ? this.#heldGets.get(name) : undefined;
    if (held) {
      this.#heldGets.delete(name!);
      held.arrived();
      await held.release;
    }
    return result;
  }
}

/** Awaits `promise`, failing after `ms` with what was awaited. */
async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await task(next++);
  }));
}

function describe(e: InformerEvent<Gadget>): string {
  return `${e.type}:${e.object.metadata?.name}:${JSON.stringify(e.object.spec ?? null)}`;
}

/** Starts `informer` and returns its stop function (which waits until it stopped). */
async function started(informer: { start(s: AbortSignal): Promise<void>; synced: Promise<void> }) {
  const ac = new AbortController();
  const stopped = informer.start(ac.signal);
  await informer.synced;
  return async () => {
    ac.abort();
    await stopped;
  };
}

Deno.test("metadata view: get, list and watch answer PartialObjectMetadata; get at a resourceVersion; paged listAll with NotOlderThan", async () => {
  await withNamespace("kmeta", async ({ transport, ns }) => {
    await installGadgets(transport, ns);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    const meta = gadgets.metadata();
    assertEquals([gadgets.metadataOnly, meta.metadataOnly], [false, true]);
    // An empty metadata list arrives as `"items": null`: it is an empty list, not an error.
    assertEquals((await meta.list()).items, []);
    for (let i = 0; i < 5; i++) {
      await gadgets.create({ metadata: { name: `g${i}`, labels: { i: String(i) } }, spec: { v: i } });
    }
    await gadgets.patch("g0", { type: "merge", body: { status: bigStatus(4, 0) } }, {
      subresource: "status",
    });

    const one = await meta.get("g0");
    assertEquals([one.apiVersion, one.kind], ["meta.k8s.io/v1", "PartialObjectMetadata"]);
    assertEquals([one.metadata?.name, one.metadata?.generation, one.metadata?.labels], ["g0", 1, { i: "0" }]);
    assert(!("spec" in one) && !("status" in one), `metadata only: ${Object.keys(one)}`);
    const list = await meta.list();
    assertEquals(list.kind, "PartialObjectMetadataList");
    assertEquals(
      list.items.map((o) => [o.kind, o.metadata?.name]),
      [0, 1, 2, 3, 4].map((i) => [
        "PartialObjectMetadata",
        `g${i}`,
      ]),
    );

    // A full GET at a resourceVersion is served from the watch cache, at least that new.
    const rv = list.metadata.resourceVersion!;
    const full = await gadgets.get("g0", { resourceVersion: rv });
    assertEquals([full.spec, (full.status as { n: number }).n], [{ v: 0 }, 0]);
    // Pages after the first follow the continue token alone (the apiserver refuses it with a resourceVersion).
    const paged = await gadgets.listAll({
      limit: 2,
      resourceVersion: rv,
      resourceVersionMatch: "NotOlderThan",
    });
    assertEquals(paged.items.map((o) => o.metadata?.name), ["g0", "g1", "g2", "g3", "g4"]);
    assertEquals(paged.requests, 3);
    const metaPaged = await meta.listAll({
      limit: 2,
      resourceVersion: rv,
      resourceVersionMatch: "NotOlderThan",
    });
    assertEquals(metaPaged.items.map((o) => o.kind), Array(5).fill("PartialObjectMetadata"));

    // A metadata watch: a status write arrives as a small MODIFIED event without spec or status.
    const received: WatchReceived[] = [];
    const ac = new AbortController();
    const watching = (async () => {
      for await (
        const e of meta.watch({
          resourceVersion: rv,
          signal: ac.signal,
          onReceive: (r) => received.push(r),
        })
      ) {
        if (e.type === "MODIFIED") return e;
      }
    })();
    await gadgets.patch("g1", { type: "merge", body: { status: bigStatus(16, 1) } }, {
      subresource: "status",
    });
    const event = await watching;
    ac.abort();
    assertEquals([event?.object.kind, event?.object.metadata?.name], ["PartialObjectMetadata", "g1"]);
    assert(event && !("status" in event.object), "no status in a metadata event");
    const modified = received.find((r) => r.type === "MODIFIED");
    assert(modified && modified.bytes > 100 && modified.bytes < 4_000, `event size ${modified?.bytes}`);
  });
});

Deno.test("metadata-watch informer: status writes are merged without a fetch or an update; labels update without a fetch; spec changes and new objects are fetched", async () => {
  await withNamespace("kmwi", async ({ transport: base, ns }) => {
    await installGadgets(base, ns);
    const transport = new RecordingTransport(base);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    await gadgets.create({ metadata: { name: "a" }, spec: { v: 1 } });
    await gadgets.create({ metadata: { name: "b" }, spec: { v: 1 } });
    const counts = new Counts();
    const informer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      onReceive: counts.onReceive,
      onFetch: counts.onFetch,
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      assertEquals(events.sort(), ['add:a:{"v":1}', 'add:b:{"v":1}']);
      events.length = 0;

      // (a) Ten status writes: ten metadata events, no fetch, no handler call, the cache follows silently.
      let last: Gadget | undefined;
      for (let n = 0; n < 10; n++) {
        last = await gadgets.patch("a", { type: "merge", body: { status: bigStatus(8, n) } }, {
          subresource: "status",
        });
      }
      await waitFor(
        () => informer.get(ns, "a")?.metadata?.resourceVersion === last?.metadata?.resourceVersion,
        {
          what: "the cache to reach the last status write",
          lastSeen: () => informer.get(ns, "a")?.metadata?.resourceVersion,
        },
      );
      assertEquals(counts.fetches, { gets: 0, lists: 0 });
      assertEquals(events, []);
      assert((counts.events.MODIFIED ?? 0) >= 10, `MODIFIED events: ${counts.events.MODIFIED}`);
      const cachedA = informer.get(ns, "a")!;
      assertEquals([cachedA.spec, cachedA.status, cachedA.metadata?.managedFields], [
        { v: 1 },
        undefined,
        undefined,
      ]);

      // A label and a finalizer: metadata merged into the cached object, an update, still no fetch.
      await gadgets.patch("b", {
        type: "merge",
        body: { metadata: { labels: { tier: "gold" }, finalizers: ["kubewatch.test/hold"] } },
      });
      await waitFor(() => events.length === 1, { what: "the label update", lastSeen: () => events });
      assertEquals(events, ['update:b:{"v":1}']);
      assertEquals(informer.get(ns, "b")?.metadata?.labels, { tier: "gold" });
      assertEquals(informer.get(ns, "b")?.metadata?.finalizers, ["kubewatch.test/hold"]);
      assertEquals(counts.fetches, { gets: 0, lists: 0 });

      // (b) A spec change bumps the generation: one GET, an update with the new spec.
      await gadgets.patch("a", { type: "merge", body: { spec: { v: 2 } } });
      await waitFor(() => events.length === 2, { what: "the spec update", lastSeen: () => events });
      assertEquals(events[1], 'update:a:{"v":2}');
      assertEquals(counts.fetches, { gets: 1, lists: 0 });
      assertEquals(informer.get(ns, "a")?.metadata?.generation, 2);
      assertEquals(informer.get(ns, "a")?.status, undefined, "transform applies to fetched objects");

      // A new object: one GET, an add with the full spec.
      await gadgets.create({ metadata: { name: "c" }, spec: { v: 7, nested: { x: [1, 2] } } });
      await waitFor(() => events.length === 3, { what: "the add", lastSeen: () => events });
      assertEquals(events[2], 'add:c:{"nested":{"x":[1,2]},"v":7}');
      assertEquals(counts.fetches, { gets: 2, lists: 0 });

      // Delete with a finalizer: deletionTimestamp bumps the generation (a fetch); removing it deletes.
      await gadgets.delete("b");
      await waitFor(() => informer.get(ns, "b")?.metadata?.deletionTimestamp, { what: "deletionTimestamp" });
      await gadgets.patch("b", { type: "merge", body: { metadata: { finalizers: null } } });
      await waitFor(() => events.at(-1) === 'delete:b:{"v":1}', {
        what: "the delete",
        lastSeen: () => events,
      });
      assertEquals(informer.list().map((o) => o.metadata?.name).sort(), ["a", "c"]);
      assertEquals(informer.pendingFetches, 0);
      // Every fetch asked the watch cache for a state at least as new as the event's.
      const gets = transport.requests.filter((r) => r.verb === "get");
      assert(
        gets.length >= 2 && gets.every((r) => /^\d+$/.test(String(r.query.resourceVersion))),
        JSON.stringify(gets),
      );
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata-watch informer: fetchWhen keeps unwanted objects as metadata (no fetch, no spec) until recheck finds them wanted; once fetched they stay full", async () => {
  await withNamespace("kmwf", async ({ transport: base, ns }) => {
    await installGadgets(base, ns);
    const gadgets = Api.namespaced(base, Gadgets, ns);
    const counts = new Counts();
    const wanted = new Set<string>();
    const informer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      onFetch: counts.onFetch,
      fetchWhen: (meta) => wanted.has(meta.metadata?.name ?? ""),
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      // Created while unwanted: an add without spec, no fetch.
      await gadgets.create({ metadata: { name: "a" }, spec: { v: 1 } });
      await waitFor(() => events.length === 1, { what: "the shell's add", lastSeen: () => events });
      assertEquals(events, ["add:a:null"]);
      assertEquals([informer.shells, counts.fetches], [1, { gets: 0, lists: 0 }]);

      // A spec change of a shell: its metadata (the new generation) is merged, still no fetch.
      await gadgets.patch("a", { type: "merge", body: { spec: { v: 2 } } });
      await waitFor(() => informer.get(ns, "a")?.metadata?.generation === 2, {
        what: "the shell's new generation",
        lastSeen: () => informer.get(ns, "a")?.metadata,
      });
      assertEquals(counts.fetches, { gets: 0, lists: 0 });
      assertEquals(informer.get(ns, "a")?.spec, undefined);

      // recheck while still unwanted: nothing; once wanted: one GET, an update with the spec.
      informer.recheck(ns, "a");
      wanted.add("a");
      informer.recheck(ns, "a");
      await waitFor(() => events.at(-1) === 'update:a:{"v":2}', {
        what: "the fetch",
        lastSeen: () => events,
      });
      assertEquals([informer.shells, counts.fetches], [0, { gets: 1, lists: 0 }]);

      // Wanted no more: fetched objects stay full and follow spec changes as before.
      wanted.clear();
      await gadgets.patch("a", { type: "merge", body: { spec: { v: 3 } } });
      await waitFor(() => events.at(-1) === 'update:a:{"v":3}', {
        what: "the refetch",
        lastSeen: () => events,
      });
      assertEquals(counts.fetches, { gets: 2, lists: 0 });

      // A shell's delete reaches handlers like any other.
      await gadgets.create({ metadata: { name: "b" }, spec: { v: 1 } });
      await waitFor(() => informer.shells === 1, { what: "b as a shell", lastSeen: () => events });
      await gadgets.delete("b");
      await waitFor(() => events.at(-1) === "delete:b:null", {
        what: "the shell's delete",
        lastSeen: () => events,
      });
      assertEquals([informer.shells, informer.pendingFetches, counts.fetches], [0, 0, { gets: 2, lists: 0 }]);
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata-watch informer on all namespaces (selector): fetches address each object's namespace", async () => {
  await withNamespace("kmwiall", async ({ transport, ns }) => {
    await installGadgets(transport, ns);
    const counts = new Counts();
    const informer = new MetadataWatchInformer(Api.all(transport, Gadgets), {
      labelSelector: `suite=${ns}`,
      transform: specOnly,
      onFetch: counts.onFetch,
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      const gadgets = Api.namespaced(transport, Gadgets, ns);
      await gadgets.create({ metadata: { name: "n", labels: { suite: ns } }, spec: { v: 1 } });
      await gadgets.create({ metadata: { name: "unlabelled" }, spec: { v: 1 } });
      await gadgets.patch("n", { type: "merge", body: { spec: { v: 2 } } });
      await waitFor(() => events.at(-1) === 'update:n:{"v":2}' || events.at(-1) === 'add:n:{"v":2}', {
        what: "n at v2",
        lastSeen: () => events,
      });
      assertEquals(informer.get(ns, "n")?.metadata?.namespace, ns);
      assertEquals(informer.size, 1);
      assert(
        counts.gets >= 1 && counts.getsNotFound === 0,
        `GETs ${counts.gets}, 404s ${counts.getsNotFound}`,
      );
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata-watch informer: objects without metadata.generation (ConfigMaps) are fetched on every change", async () => {
  await withNamespace("kmwicm", async ({ transport, ns }) => {
    const cms = Api.namespaced(transport, ConfigMaps, ns);
    const counts = new Counts();
    const informer = new MetadataWatchInformer(cms, { onFetch: counts.onFetch });
    const events: string[] = [];
    // (kube-controller-manager adds kube-root-ca.crt to every namespace: only "cm" is looked at.)
    informer.subscribe((e) =>
      e.object.metadata?.name === "cm" &&
      events.push(`${e.type}:${e.object.metadata?.name}:${e.object.data?.v}`)
    );
    const stop = await started(informer);
    try {
      await cms.create({ metadata: { name: "cm" }, data: { v: "1" } });
      await waitFor(() => events.length === 1, { what: "the add", lastSeen: () => events });
      const getsBefore = counts.gets;
      await cms.patch("cm", { type: "merge", body: { data: { v: "2" } } });
      await waitFor(() => events.length === 2, { what: "the update", lastSeen: () => events });
      assertEquals(events, ["add:cm:1", "update:cm:2"]);
      assertEquals(counts.gets - getsBefore, 1);
      assert(counts.gets >= 2, "the add was fetched too");
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata-watch informer: a refused fetch (403, no `get`) is reported and retried until RBAC allows it", async () => {
  await withNamespace("kmwi403", async ({ transport: admin, ns }) => {
    await installGadgets(admin, ns);
    const rule = (verbs: string[]) => ({ apiGroups: [Gadgets.group], resources: [Gadgets.plural], verbs });
    const roles = Api.namespaced(admin, Roles, ns);
    await roles.apply({ metadata: { name: "gadget-reader" }, rules: [rule(["list", "watch"])] }, {
      fieldManager: "kubewatch-test",
    });
    await Api.namespaced(admin, ServiceAccounts, ns).create({ metadata: { name: "watcher" } });
    await Api.namespaced(admin, RoleBindings, ns).create({
      metadata: { name: "watcher" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "gadget-reader" },
      subjects: [{ kind: "ServiceAccount", name: "watcher", namespace: ns }],
    });
    const tokenRequest = (await admin.request({
      method: "POST",
      path: Api.namespaced(admin, ServiceAccounts, ns).path("watcher", "token"),
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      },
      signal: AbortSignal.timeout(10_000),
    })) as { status: { token: string } };
    const conn = await adminConnection();
    const transport = new HttpTransport({
      server: conn.server,
      caCerts: conn.caCerts,
      token: staticToken(tokenRequest.status.token),
      namespace: ns,
      source: "watcher service account",
    });
    const errors: MetadataWatchInformerError[] = [];
    const informer = new MetadataWatchInformer(Api.namespaced(transport, Gadgets, ns), {
      transform: specOnly,
      backoff: { initialMs: 200, maxMs: 1_000 },
      onError: (e) => errors.push(e),
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      await Api.namespaced(admin, Gadgets, ns).create({ metadata: { name: "g" }, spec: { v: 1 } });
      await waitFor(() => errors.some((e) => e.action === "fetch" && isApiError(e.error, 403)), {
        what: "the refused GET to be reported",
        lastSeen: () => errors.map((e) => `${e.action}: ${e.error}`),
      });
      assertEquals(events, []);
      await roles.apply({ metadata: { name: "gadget-reader" }, rules: [rule(["list", "watch", "get"])] }, {
        fieldManager: "kubewatch-test",
      });
      await waitFor(() => events.length === 1, { what: "the fetch to succeed", lastSeen: () => events });
      assertEquals(events, ['add:g:{"v":1}']);
      assert(
        errors.every((e) => e.action === "fetch" && isApiError(e.error, 403)),
        `${errors.map((e) => e.error)}`,
      );
    } finally {
      await stop();
      transport.close();
    }
  });
});

Deno.test("metadata-watch informer: a delete wins over a fetch in flight; a fetch older than the watch's generation is fetched again", async () => {
  await withNamespace("kmwirace", async ({ transport: base, ns }) => {
    await installGadgets(base, ns);
    const transport = new RecordingTransport(base);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    await gadgets.create({ metadata: { name: "x" }, spec: { v: 1 } });
    await gadgets.create({ metadata: { name: "z" }, spec: { v: 1 } });
    const counts = new Counts();
    const informer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      onReceive: counts.onReceive,
      onFetch: counts.onFetch,
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      events.length = 0;
      // (d) x's spec changes; the GET's answer (v2) is held until x has been deleted: it must not come back.
      const heldX = transport.holdNextGet("x");
      await gadgets.patch("x", { type: "merge", body: { spec: { v: 2 } } });
      await within(heldX.arrived, "x's GET");
      await gadgets.delete("x");
      await waitFor(() => events.includes('delete:x:{"v":1}'), {
        what: "x's delete",
        lastSeen: () => events,
      });
      heldX.release();
      // A new object deleted while its GET is held: never announced, neither added nor deleted.
      const heldY = transport.holdNextGet("y");
      const receivedBefore = counts.events.DELETED ?? 0;
      await gadgets.create({ metadata: { name: "y" }, spec: { v: 1 } });
      await within(heldY.arrived, "y's GET");
      await gadgets.delete("y");
      await waitFor(() => (counts.events.DELETED ?? 0) > receivedBefore, { what: "y's delete to arrive" });
      heldY.release();
      await waitFor(() => counts.gets === 2 && informer.pendingFetches === 0, {
        what: "both held fetches to return",
        lastSeen: () => ({ gets: counts.gets, pending: informer.pendingFetches }),
      });
      assertEquals(events, ['delete:x:{"v":1}']);
      assertEquals([informer.get(ns, "x"), informer.get(ns, "y")], [undefined, undefined]);

      // z: the GET answers generation 2 while the watch has already shown generation 3: fetched again.
      const heldZ = transport.holdNextGet("z");
      await gadgets.patch("z", { type: "merge", body: { spec: { v: 2 } } });
      await within(heldZ.arrived, "z's GET");
      const modifiedBefore = counts.events.MODIFIED ?? 0;
      await gadgets.patch("z", { type: "merge", body: { spec: { v: 3 } } });
      await waitFor(() => (counts.events.MODIFIED ?? 0) > modifiedBefore, { what: "z's generation 3 event" });
      heldZ.release();
      await waitFor(() => events.length === 2, { what: "z's update", lastSeen: () => events });
      await waitFor(() => informer.pendingFetches === 0, { what: "no fetch pending" });
      assertEquals(events[1], 'update:z:{"v":3}', "never the stale v2");
      assertEquals(counts.gets, 4);
      assertEquals(transport.requests.filter((r) => r.verb === "get" && r.name === "z").length, 2);
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata-watch informer: a burst of creations is served by LISTs (NotOlderThan), not a GET each", async () => {
  await withNamespace("kmwiburst", async ({ transport: base, ns }) => {
    await installGadgets(base, ns);
    const transport = new RecordingTransport(base);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    const counts = new Counts();
    const informer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      pageSize: 100,
      onReceive: counts.onReceive,
      onFetch: counts.onFetch,
    });
    const adds = new Set<string>();
    informer.subscribe((e) =>
      e.type === "add" && e.object.spec?.i !== undefined && adds.add(e.object.metadata!.name!)
    );
    const stop = await started(informer);
    try {
      const n = 300;
      const t0 = performance.now();
      await pool(n, 16, (i) => gadgets.create({ metadata: { name: `burst-${i}` }, spec: { i } }));
      const createSeconds = (performance.now() - t0) / 1000;
      await waitFor(() => adds.size === n && informer.pendingFetches === 0, {
        what: `${n} adds with their spec`,
        timeoutMs: 60_000,
        lastSeen: () => ({ adds: adds.size, pending: informer.pendingFetches, ...counts.fetches }),
      });
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `[burst] ${n} creations in ${createSeconds.toFixed(1)} s (${
          (n / createSeconds).toFixed(0)
        }/s), all in ` +
          `the cache after ${seconds.toFixed(1)} s: ${counts.gets} GETs, ${counts.lists} LISTs ` +
          `(${counts.listRequests} requests, serving ${counts.listServed} fetches) instead of ${n} GETs`,
      );
      assert(counts.lists >= 1, "at least one LIST");
      assert(
        counts.gets + counts.listRequests < n / 5,
        `${counts.gets} GETs + ${counts.listRequests} list pages`,
      );
      assert(counts.gets + counts.listServed >= n, "every creation was fetched");
      // Fetch lists ask the watch cache for a state not older than the watch showed; only the first page.
      const fetchLists = transport.requests.filter((r) => r.verb === "list").slice(1); // [0]: the informer's list
      assert(fetchLists.length >= counts.lists, "recorded");
      for (const r of fetchLists) {
        if (r.query.continue) {
          assertEquals([r.query.resourceVersion, r.query.resourceVersionMatch], [undefined, undefined]);
        } else {assert(
            r.query.resourceVersionMatch === "NotOlderThan" && r.query.resourceVersion,
            JSON.stringify(r),
          );}
      }
    } finally {
      await stop();
    }
  });
});

Deno.test("metadata watch vs full watch: bytes received for status-heavy writes", async () => {
  await withNamespace("kmwibytes", async ({ transport, ns }) => {
    await installGadgets(transport, ns);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    const objects = 5;
    const writesEach = 20;
    for (let i = 0; i < objects; i++) await gadgets.create({ metadata: { name: `s${i}` }, spec: { i } });
    const full = new Counts();
    const metadata = new Counts();
    const fullInformer = new Informer(gadgets, { transform: specOnly, onReceive: full.onReceive });
    const metaInformer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      onReceive: metadata.onReceive,
      onFetch: metadata.onFetch,
    });
    const stopFull = await started(fullInformer);
    const stopMeta = await started(metaInformer);
    try {
      const last = new Map<string, string>();
      for (let n = 0; n < writesEach; n++) {
        for (let i = 0; i < objects; i++) {
          const written = await gadgets.patch(`s${i}`, { type: "merge", body: { status: bigStatus(8, n) } }, {
            subresource: "status",
          });
          last.set(`s${i}`, written.metadata!.resourceVersion!);
        }
      }
      const caught = (inf: { get(ns: string, name: string): Gadget | undefined }) =>
        [...last].every(([name, rv]) => inf.get(ns, name)?.metadata?.resourceVersion === rv);
      await waitFor(() => caught(fullInformer) && caught(metaInformer), {
        what: "both informers to see the last writes",
        timeoutMs: 30_000,
      });
      const writes = objects * writesEach;
      console.log(
        `[bytes] ${writes} status writes (~8 KiB status each): full watch ${full.events.MODIFIED} events, ` +
          `${full.bytes} B (${(full.bytes / writes).toFixed(0)} B/event); metadata watch ` +
          `${metadata.events.MODIFIED} events, ${metadata.bytes} B (${
            (metadata.bytes / writes).toFixed(0)
          } ` +
          `B/event): ${(full.bytes / metadata.bytes).toFixed(1)}x fewer bytes, ${metadata.gets} fetches`,
      );
      // The same number of events — status writes still each send one — but a fraction of the bytes.
      assertEquals([full.events.MODIFIED, metadata.events.MODIFIED], [writes, writes]);
      assert(metadata.bytes * 5 < full.bytes, `${metadata.bytes} B vs ${full.bytes} B`);
      assertEquals(metadata.fetches, { gets: 0, lists: 0 });
    } finally {
      await stopMeta();
      await stopFull();
    }
  });
});

Deno.test("metadata-watch informer: after a kube-apiserver restart the watch expires (410) and full objects are relisted, paged; lists keep unwanted objects as metadata", async () => {
  const dir = requireTestClusterDir();
  await withNamespace("kmwi410", async ({ transport: base, ns }) => {
    await installGadgets(base, ns);
    const transport = new RecordingTransport(base);
    const gadgets = Api.namespaced(transport, Gadgets, ns);
    for (const name of ["a", "b", "c", "s"]) await gadgets.create({ metadata: { name }, spec: { v: 1 } });
    const counts = new Counts();
    const errors: MetadataWatchInformerError[] = [];
    // s and t are never wanted: both lists keep them as metadata.
    const unwanted = new Set(["s", "t"]);
    const informer = new MetadataWatchInformer(gadgets, {
      transform: specOnly,
      pageSize: 2,
      backoff: { initialMs: 200, maxMs: 1_000 },
      onReceive: counts.onReceive,
      onFetch: counts.onFetch,
      onError: (e) => errors.push(e),
      fetchWhen: (meta) => !unwanted.has(meta.metadata?.name ?? ""),
    });
    const events: string[] = [];
    informer.subscribe((e) => events.push(describe(e)));
    const stop = await started(informer);
    try {
      assertEquals(events.sort(), ['add:a:{"v":1}', 'add:b:{"v":1}', 'add:c:{"v":1}', "add:s:null"]);
      assertEquals(informer.shells, 1);
      events.length = 0;
      // Unwanted now, but cached full: the relist keeps it full (and so shows its new spec).
      unwanted.add("a");
      // Hold the watch's reconnects while the apiserver restarts and things change, so that the changes can
      // only reach the informer through the relist that the 410 forces.
      const resume = transport.pauseWatches();
      await restartApiserver(dir);
      await waitFor(() => gadgets.patch("a", { type: "merge", body: { spec: { v: 2 } } }), {
        what: "the first write after the restart",
        timeoutMs: 30_000,
      });
      await gadgets.patch("c", { type: "merge", body: { status: bigStatus(1, 1) } }, {
        subresource: "status",
      });
      await gadgets.delete("b");
      await gadgets.create({ metadata: { name: "d" }, spec: { v: 1 } });
      await gadgets.create({ metadata: { name: "t" }, spec: { v: 1 } });
      const requestsBefore = transport.requests.length;
      resume();
      await waitFor(() => events.length === 4, { what: "the relist's changes", lastSeen: () => events });
      // c's status write is no update: its status is not cached.
      assertEquals(events.sort(), ['add:d:{"v":1}', "add:t:null", 'delete:b:{"v":1}', 'update:a:{"v":2}']);
      assertEquals(informer.shells, 2);
      assert(
        errors.some((e) => "state" in e && e.action === "relist" && e.error instanceof WatchExpiredError),
        `a relist after 410: ${errors.map((e) => `${e.action}:${e.error}`)}`,
      );
      const after = transport.requests.slice(requestsBefore);
      const relist = after.filter((r) => r.verb === "list");
      assert(
        relist.length >= 2 && relist.some((r) => r.query.continue),
        `paged relist: ${JSON.stringify(relist)}`,
      );
      assertEquals(counts.fetches, { gets: 0, lists: 0 }, "the relist, not fetches, brought the changes");

      // The metadata watch resumed from the relist: the next spec change is fetched as usual.
      await gadgets.patch("c", { type: "merge", body: { spec: { v: 3 } } });
      await waitFor(() => events.includes('update:c:{"v":3}'), {
        what: "c's update",
        lastSeen: () => events,
      });
      assertEquals(counts.gets, 1);
      assertEquals(informer.list().map((o) => `${o.metadata?.name}:${o.spec?.v}`).sort(), [
        "a:2",
        "c:3",
        "d:1",
        "s:undefined",
        "t:undefined",
      ]);
    } finally {
      await stop();
    }
  });
});
