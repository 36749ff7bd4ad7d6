/**
 * Benchmark of the kube client against a real apiserver: list+watch of 10,000 pods into an informer
 * (time, RSS), server-side applies per second for 1,000 EndpointSlices (create and update passes), and the
 * metadata-only watch: bytes a full vs a metadata watch receive for status writes.
 *
 * Run: `./deno run -A bench/kube.ts` with SWH_TEST_KUBECONFIG or KUBECONFIG pointing at a test cluster.
 * Options: `--pods N` (default 10000), `--slices N` (default 1000), `--concurrency N` (default 32),
 * `--only pods|slices|metadata-watch` (one part).
 *
 * @module
 */
import {
  Api,
  EndpointSlices,
  HttpTransport,
  Informer,
  loadKubeconfig,
  Namespaces,
  Nodes,
  Pods,
  stripManagedFields,
} from "../kube/mod.ts";
import type { WatchReceived } from "../kube/mod.ts";
import { bigStatus, Gadgets, installGadgets, specOnly } from "../tests/support/gadget_crd.ts";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const POD_COUNT = flag("pods", 10_000);
const SLICE_COUNT = flag("slices", 1_000);
const CONCURRENCY = flag("concurrency", 32);
const ONLY = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : undefined;
const part = (name: "pods" | "slices" | "metadata-watch") => ONLY === undefined || ONLY === name;

/** Runs `task(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function pod(i: number, node: string): IPod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `bench-${i}`, labels: { app: "bench", shard: String(i % 10) } },
    spec: {
      nodeName: node,
      containers: [{
        name: "app",
        image: "registry.invalid/bench:1",
        ports: [{ containerPort: 8080, name: "http" }],
      }],
    },
  };
}

function slice(i: number, generation: number): IEndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `svc-${i % 100}-node-${Math.floor(i / 100)}`,
      labels: {
        "kubernetes.io/service-name": `svc-${i % 100}`,
        "endpointslice.kubernetes.io/managed-by": "bench",
      },
    },
    addressType: "IPv4",
    endpoints: Array.from({ length: 4 }, (_, k) => ({
      addresses: [`10.${(i >> 8) & 255}.${i & 255}.${k + 1}`],
      conditions: { ready: (k + generation) % 2 === 0, serving: true, terminating: false },
      nodeName: `node-${Math.floor(i / 100)}`,
    })),
    ports: [{ name: "http", port: 8080 + generation, protocol: "TCP" }],
  };
}

interface SyncReport {
  count: number;
  seconds: number;
  rssStart: number;
  rssSynced: number;
  heapSynced: number;
}

/** Child mode: sync an informer on the pods of namespace `ns`, report time and memory as JSON on stdout. */
async function syncOnly(ns: string, strip: boolean): Promise<void> {
  const rssStart = Deno.memoryUsage().rss;
  const kubeconfig = Deno.env.get("SWH_TEST_KUBECONFIG") ?? Deno.env.get("KUBECONFIG") ?? "";
  const transport = new HttpTransport(await loadKubeconfig({ paths: kubeconfig.split(":") }));
  const informer = new Informer(Api.namespaced(transport, Pods, ns), {
    pageSize: 500,
    transform: strip ? stripManagedFields : undefined,
  });
  const ac = new AbortController();
  const t0 = performance.now();
  const stopped = informer.start(ac.signal);
  await informer.synced;
  const seconds = (performance.now() - t0) / 1000;
  const rssSynced = Deno.memoryUsage().rss;
  // Collect the list pages' garbage so heapUsed is what the cache retains (V8 keeps the RSS).
  (globalThis as { gc?: () => void }).gc?.();
  const mem = Deno.memoryUsage();
  const report: SyncReport = {
    count: informer.size,
    seconds,
    rssStart,
    rssSynced,
    heapSynced: mem.heapUsed,
  };
  ac.abort();
  await stopped;
  transport.close();
  console.log(JSON.stringify(report));
}

/** Pod rows: creates, list+watch into an informer in fresh processes (RSS), watch throughput. */
async function podRows(
  transport: HttpTransport,
  ns: string,
  node: string,
  row: (label: string, value: string) => void,
): Promise<void> {
  const pods = Api.namespaced(transport, Pods, ns);
  // The ServiceAccount admission plugin needs the namespace's default ServiceAccount first.
  for (let i = 0; i < 100; i++) {
    try {
      await pods.create(pod(0, node));
      break;
    } catch (err) {
      if (i === 99) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let t0 = performance.now();
  await pool(POD_COUNT - 1, CONCURRENCY, (i) => pods.create(pod(i + 1, node)));
  let seconds = (performance.now() - t0) / 1000;
  row(
    `create ${POD_COUNT} pods (${CONCURRENCY} concurrent)`,
    `${seconds.toFixed(1)} s (${(POD_COUNT / seconds).toFixed(0)}/s)`,
  );

  // List+watch in a fresh process, so its RSS is the informer's and not this process's create garbage.
  for (const strip of [false, true]) {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--sync-only",
        ns,
        ...(strip ? ["--strip"] : []),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!child.success) throw new Error("the --sync-only child failed");
    const sync = JSON.parse(new TextDecoder().decode(child.stdout)) as SyncReport;
    if (sync.count !== POD_COUNT) throw new Error(`informer has ${sync.count} pods, expected ${POD_COUNT}`);
    const how = strip ? "managedFields stripped" : "objects as served";
    row(
      `list+watch ${POD_COUNT} pods into informer (fresh process, ${how})`,
      `${sync.seconds.toFixed(2)} s`,
    );
    row(
      `  RSS at start → synced; JS heap used after GC`,
      `${mib(sync.rssStart)} → ${mib(sync.rssSynced)} MiB; ${mib(sync.heapSynced)} MiB`,
    );
  }

  const informer = new Informer(pods, { pageSize: 500 });
  const ac = new AbortController();
  const stopped = informer.start(ac.signal);
  await informer.synced;
  // Watch throughput: label 1,000 pods and time until the informer has seen every change.
  const changed = Math.min(1_000, POD_COUNT);
  let seen = 0;
  let allSeen!: () => void;
  const done = new Promise<void>((r) => (allSeen = r));
  informer.subscribe((e) => {
    if (e.type === "update" && e.object.metadata?.labels?.bench === "touched" && ++seen === changed) {
      allSeen();
    }
  });
  t0 = performance.now();
  await pool(
    changed,
    CONCURRENCY,
    (i) => pods.patch(`bench-${i}`, { type: "merge", body: { metadata: { labels: { bench: "touched" } } } }),
  );
  await done;
  seconds = (performance.now() - t0) / 1000;
  row(
    `patch ${changed} pods, all seen by the watch`,
    `${seconds.toFixed(2)} s (${(changed / seconds).toFixed(0)}/s)`,
  );
  row("RSS with informer watching", `${mib(Deno.memoryUsage().rss)} MiB`);
  ac.abort();
  await stopped;
}

/** EndpointSlice rows: server-side applies per second (create, update, no-op). */
async function sliceRows(
  transport: HttpTransport,
  ns: string,
  row: (label: string, value: string) => void,
): Promise<void> {
  const slices = Api.namespaced(transport, EndpointSlices, ns);
  for (const [pass, generation] of [["create", 0], ["update", 1], ["no-op re-apply", 1]] as const) {
    const t0 = performance.now();
    await pool(
      SLICE_COUNT,
      CONCURRENCY,
      (i) => slices.apply(slice(i, generation), { fieldManager: "bench-agent" }),
    );
    const seconds = (performance.now() - t0) / 1000;
    row(
      `server-side apply ${SLICE_COUNT} EndpointSlices: ${pass}`,
      `${seconds.toFixed(2)} s (${(SLICE_COUNT / seconds).toFixed(0)} applies/s)`,
    );
  }
  const stored = await slices.listAll();
  if (stored.items.length !== SLICE_COUNT) throw new Error(`${stored.items.length} slices stored`);
}

/**
 * Metadata-only watch row: 10 objects × 20 status writes of ~8 KiB seen by a full Informer and by an Informer of
 * the metadata view (bytes per event) — what agents save by watching Services as metadata.
 */
async function metadataWatchRows(
  transport: HttpTransport,
  ns: string,
  row: (label: string, value: string) => void,
): Promise<void> {
  await installGadgets(transport, ns);
  const gadgets = Api.namespaced(transport, Gadgets, ns);
  const objects = 10;
  const writesEach = 20;
  for (let i = 0; i < objects; i++) await gadgets.create({ metadata: { name: `status-${i}` }, spec: { i } });
  const tally = () => ({ events: 0, bytes: 0 });
  const full = tally();
  const meta = tally();
  const count = (t: { events: number; bytes: number }) => (r: WatchReceived) => {
    if (r.type === "MODIFIED") {
      t.events++;
      t.bytes += r.bytes;
    }
  };
  const fullInformer = new Informer(gadgets, { transform: specOnly, onReceive: count(full) });
  const metaInformer = new Informer(gadgets.metadata(), { onReceive: count(meta) });
  const ac = new AbortController();
  const stopped = [fullInformer.start(ac.signal), metaInformer.start(ac.signal)];
  try {
    await Promise.all([fullInformer.synced, metaInformer.synced]);
    const writes = objects * writesEach;
    await pool(writes, CONCURRENCY, (k) =>
      gadgets.patch(`status-${k % objects}`, {
        type: "merge",
        body: { status: bigStatus(8, k) },
      }, { subresource: "status" }));
    await until(
      () => full.events === writes && meta.events === writes,
      30_000,
      "both watches to see every write",
    );
    row(
      `${writes} status writes (~8 KiB status): bytes received, full watch → metadata watch`,
      `${(full.bytes / writes).toFixed(0)} → ${(meta.bytes / writes).toFixed(0)} B/event ` +
        `(${(full.bytes / meta.bytes).toFixed(1)}x less)`,
    );
  } finally {
    ac.abort();
    await Promise.all(stopped);
  }
}

/** Polls `done` every 50 ms until it holds, or throws after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const kubeconfig = Deno.env.get("SWH_TEST_KUBECONFIG") ?? Deno.env.get("KUBECONFIG");
  if (!kubeconfig) {
    throw new Error('set SWH_TEST_KUBECONFIG or KUBECONFIG (e.g. eval "$(./deno task cluster env)")');
  }
  const transport = new HttpTransport(await loadKubeconfig({ paths: kubeconfig.split(":") }));
  const ns = `bench-kube-${crypto.randomUUID().slice(0, 6)}`;
  const node = `${ns}-node`;
  const namespaces = Api.cluster(transport, Namespaces);
  const nodes = Api.cluster(transport, Nodes);
  const rows: Array<[string, string]> = [];
  const row = (label: string, value: string) => {
    rows.push([label, value]);
    console.error(`[bench] ${label}: ${value}`);
  };
  await namespaces.create({ metadata: { name: ns } });
  // A Node object keeps kube-controller-manager's pod GC from deleting pods bound to a missing node.
  await nodes.create({ metadata: { name: node } });
  try {
    if (part("pods")) await podRows(transport, ns, node, row);
    if (part("slices")) await sliceRows(transport, ns, row);
    if (part("metadata-watch")) await metadataWatchRows(transport, ns, row);
  } finally {
    await namespaces.delete(ns, { propagationPolicy: "Background" }).catch(() => {});
    await nodes.delete(node).catch(() => {});
    transport.close();
  }
  const width = Math.max(...rows.map(([l]) => l.length));
  console.log(`kube client benchmark (${new Date().toISOString()}, Deno ${Deno.version.deno})`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--sync-only");
  if (i >= 0) await syncOnly(Deno.args[i + 1], Deno.args.includes("--strip"));
  else await main();
}
