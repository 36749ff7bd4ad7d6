/**
 * Looks inside a running Deno process through its V8 inspector (`--inspect=127.0.0.1:PORT`, diagnosis only:
 * never a production flag): a full GC, the JS heap in use afterwards, and a heap snapshot summarised by
 * constructor, so "the agent holds 90 MiB" becomes "of which N MiB are pod objects".
 *
 * @module
 */

/** A CDP session over the inspector's WebSocket. */
export interface Inspector {
  /** Sends a method and resolves with its result. */
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Full GC, then `Runtime.getHeapUsage` (MiB). */
  heapAfterGc(): Promise<{ used: number; total: number }>;
  /** V8 heap spaces (node:v8 `getHeapSpaceStatistics`, loaded into the inspected process): committed/used MiB. */
  spaces(): Promise<{ space: string; committed: number; used: number }[]>;
  /** Heap snapshot, self sizes summed by node name (constructor or string kind), largest first, MiB. */
  snapshotSummary(top?: number): Promise<{ name: string; count: number; mib: number }[]>;
  close(): void;
}

/** Connects to the first target of the inspector on `port` (retrying while the process starts). */
export async function connectInspector(port: number): Promise<Inspector> {
  let url: string | undefined;
  for (let i = 0; i < 100 && !url; i++) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!url) throw new Error(`no inspector on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let nextId = 1;
  const pending = new Map<number, (message: Record<string, unknown>) => void>();
  let chunks: string[] = [];
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
    else if (message.id) pending.get(message.id)?.(message);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (message) => {
        pending.delete(id);
        if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result as Record<string, unknown>);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("HeapProfiler.enable");
  const mib = (n: unknown) => Number(n) / 1048576;
  return {
    call,
    async heapAfterGc() {
      await call("HeapProfiler.collectGarbage");
      const usage = await call("Runtime.getHeapUsage");
      return { used: mib(usage.usedSize), total: mib(usage.totalSize) };
    },
    async spaces() {
      const result = await call("Runtime.evaluate", {
        expression: `import("node:v8").then((v8) => JSON.stringify(v8.default.getHeapSpaceStatistics()
          .map((s) => ({ space: s.space_name, committed: s.physical_space_size / 1048576,
            used: s.space_used_size / 1048576 })).filter((s) => s.committed > 0)))`,
        awaitPromise: true,
        returnByValue: true,
      });
      return JSON.parse((result.result as { value: string }).value);
    },
    async snapshotSummary(top = 25) {
      chunks = [];
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      const snapshot = JSON.parse(chunks.join(""));
      chunks = [];
      const fields: string[] = snapshot.snapshot.meta.node_fields;
      const types: string[] = snapshot.snapshot.meta.node_types[0];
      const width = fields.length;
      const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
      const sums = new Map<string, { count: number; bytes: number }>();
      const nodes: number[] = snapshot.nodes;
      for (let i = 0; i < nodes.length; i += width) {
        const type = types[nodes[i + typeAt]];
        // Strings and code are grouped by kind; objects by constructor name.
        const name = type === "object" || type === "native" || type === "closure"
          ? `${type}:${snapshot.strings[nodes[i + nameAt]]}`
          : `(${type})`;
        const entry = sums.get(name) ?? { count: 0, bytes: 0 };
        entry.count++;
        entry.bytes += nodes[i + sizeAt];
        sums.set(name, entry);
      }
      return [...sums.entries()]
        .map(([name, { count, bytes }]) => ({ name, count, mib: bytes / 1048576 }))
        .sort((a, b) => b.mib - a.mib)
        .slice(0, top);
    },
    close: () => ws.close(),
  };
}
