import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { runCli } from "./main.ts";
import { captureIo, type FakeApi, fakeTransport } from "./testing.ts";

const SWH_PATH = "/apis/network.deckhouse.io/v1alpha1/namespaces/my-ns/servicewithhealthchecks";

function pod(name: string, ip: string, node: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "my-ns", labels: { app: "postgres" } },
    spec: { nodeName: node, containers: [{ name: "pg", ports: [{ name: "pg", containerPort: 5432 }] }] },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  };
}

/** The guide's postgres-write in the middle of a fail-over: db-0 in and failing 1/3, db-1 out, db-2 out. */
const CLUSTER: FakeApi = {
  [`${SWH_PATH}/postgres-write`]: {
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: { name: "postgres-write", namespace: "my-ns", uid: "u1", generation: 2 },
    spec: {
      selector: { app: "postgres" },
      ports: [{ name: "pg", port: 5432, targetPort: "pg", protocol: "TCP" }],
      healthcheck: {
        probes: [{
          mode: "PostgreSQL",
          postgreSQL: {
            targetPort: 5432,
            query: "SELECT NOT pg_is_in_recovery()",
            authSecretName: "cred-secret",
          },
        }],
      },
    },
    status: {
      observedGeneration: 2,
      readyEndpoints: 1,
      totalEndpoints: 3,
      clusterIP: "10.96.5.35",
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "EndpointsReady",
          message: "1/3 endpoints ready",
          lastTransitionTime: "2026-11-26T09:28:00Z",
        },
        {
          type: "ServiceReady",
          status: "True",
          reason: "ServiceApplied",
          message: "",
          lastTransitionTime: "2026-11-26T09:20:00Z",
        },
      ],
    },
  },
  "/api/v1/namespaces/my-ns/services/postgres-write": {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "postgres-write", namespace: "my-ns" },
    spec: {
      type: "ClusterIP",
      clusterIP: "10.96.5.35",
      ports: [{ name: "pg", port: 5432, targetPort: "pg" }],
    },
  },
  "/api/v1/namespaces/my-ns/pods": {
    metadata: {},
    items: [
      pod("db-0", "10.244.1.1", "node-a"),
      pod("db-1", "10.244.1.2", "node-b"),
      pod("db-2", "10.244.1.3", "node-a"),
      { ...pod("web-0", "10.244.1.9", "node-a"), metadata: { name: "web-0", labels: { app: "web" } } },
    ],
  },
  "/apis/discovery.k8s.io/v1/namespaces/my-ns/endpointslices": {
    metadata: {},
    items: [{
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      addressType: "IPv4",
      metadata: { name: "postgres-write-abc" },
      endpoints: [{ addresses: ["10.244.1.1"], targetRef: { kind: "Pod", name: "db-0" } }],
    }],
  },
  "/apis/network.deckhouse.io/v1alpha1/namespaces/swh-system/servicewithhealthchecksnodereports": {
    metadata: {},
    items: [
      {
        swh: { namespace: "my-ns", name: "postgres-write", uid: "u1" },
        node: "node-a",
        endpoints: [
          {
            pod: "db-0",
            ready: true,
            lastTransitionTime: "2026-11-26T09:28:00Z",
            failingProbes: [{ index: 0, mode: "PostgreSQL", reason: "Timeout", consecutiveFailures: 1 }],
          },
          {
            pod: "db-2",
            ready: false,
            lastTransitionTime: "2026-11-26T09:29:48Z",
            failingProbes: [{
              index: 0,
              mode: "PostgreSQL",
              reason: "QueryFalse",
              message: "query returned false",
            }],
          },
        ],
      },
      {
        swh: { namespace: "my-ns", name: "postgres-write", uid: "u1" },
        node: "node-b",
        endpoints: [{
          pod: "db-1",
          ready: false,
          lastTransitionTime: "2026-11-26T09:25:00Z",
          failingProbes: [{
            index: 0,
            mode: "PostgreSQL",
            reason: "QueryFalse",
            message: "query returned false",
          }],
        }],
      },
      { swh: { namespace: "my-ns", name: "other", uid: "u2" }, node: "node-a", endpoints: [] },
    ],
  },
  "/api/v1/namespaces/my-ns/events": {
    metadata: {},
    items: [
      {
        type: "Warning",
        reason: "EndpointUnhealthy",
        message: "db-2 withdrawn: QueryFalse",
        count: 2,
        lastTimestamp: "2026-11-26T09:29:48Z",
        metadata: { name: "e2" },
      },
      {
        type: "Normal",
        reason: "ServiceApplied",
        message: "Service my-ns/postgres-write applied",
        count: 1,
        lastTimestamp: "2026-11-26T09:20:00Z",
        metadata: { name: "e1" },
      },
    ],
  },
};

Deno.test("status shows the SWH at a glance: Ready with reason and age, counts, Service, probes, pods, reports, Events", async () => {
  const transport = fakeTransport(CLUSTER, "my-ns");
  const io = captureIo({ transport });
  strictEqual(await runCli(["status", "postgres-write"], io), 0, io.stderr.join("\n"));
  const text = io.stdout.join("\n");
  for (
    const line of [
      "  Name:        my-ns/postgres-write",
      "  Ready:       True EndpointsReady for 2m: 1/3 endpoints ready",
      "  Endpoints:   1/3 ready; 1 of 3 selected pods in the EndpointSlices",
      "  Service:     ClusterIP 10.96.5.35, ports pg 5432→pg/TCP",
      '  0 PostgreSQL: port 5432, database postgres, "SELECT NOT pg_is_in_recovery()", credentials from Secret ' +
      "cred-secret; every 10s, timeout 1s, out after 3 failures, in after 1 success",
      "Ready         True    EndpointsReady  2m ago   1/3 endpoints ready",
      "db-0  node-a  10.244.1.1  yes  2m ago   probe 0 (PostgreSQL) failing 1/3: Timeout",
      "db-1  node-b  10.244.1.2  no   5m ago   probe 0 (PostgreSQL) QueryFalse: query returned false",
      "db-2  node-a  10.244.1.3  no   12s ago  probe 0 (PostgreSQL) QueryFalse: query returned false",
      "node-a  db-2     db-0",
      "node-b  db-1     -",
      "12s ago    Warning  EndpointUnhealthy  2      db-2 withdrawn: QueryFalse",
    ]
  ) ok(text.includes(line), `missing line:\n${line}\nin:\n${text}`);
  ok(text.indexOf("ServiceApplied  1") < text.indexOf("EndpointUnhealthy  2"), "Events oldest first");
  ok(!text.includes("web-0"), "pods outside the selector are not listed");
  ok(!/\d{4}-\d\d-\d\dT/.test(text), "no ISO stamps: ages");
  ok(transport.closed);
  deepStrictEqual(
    transport.requests.find((r) => r.path.endsWith("/events"))?.query?.fieldSelector,
    "involvedObject.name=postgres-write,involvedObject.kind=ServiceWithHealthchecks",
  );
});

Deno.test("the namespace comes from -n, NAMESPACE/NAME or the context; --context and --kubeconfig reach the connection", async () => {
  const io = captureIo({ transport: fakeTransport(CLUSTER, "default") });
  strictEqual(
    await runCli(["status", "postgres-write", "-n", "my-ns", "--context=lab", "--kubeconfig", "/k"], io),
    0,
  );
  strictEqual(await runCli(["explain", "my-ns/postgres-write"], io), 0);
  deepStrictEqual(io.connects, [{ kubeconfig: "/k", context: "lab" }, {
    kubeconfig: undefined,
    context: undefined,
  }]);
  const context = captureIo({ transport: fakeTransport(CLUSTER, "my-ns") });
  strictEqual(await runCli(["explain", "postgres-write", "-o", "wide"], context), 0, context.stderr.join());
  ok(context.stdout[0].includes("PORTS") && context.stdout[0].includes("5432/TCP"), context.stdout[0]);

  const missing = captureIo({ transport: fakeTransport(CLUSTER, "default") });
  strictEqual(await runCli(["status", "postgres-write"], missing), 1);
  deepStrictEqual(missing.stderr, [
    'Error from server (NotFound): servicewithhealthchecks.network.deckhouse.io "postgres-write" not found',
  ]);
  const conflict = captureIo({ transport: fakeTransport(CLUSTER) });
  strictEqual(await runCli(["status", "my-ns/postgres-write", "-n", "other"], conflict), 1);
  ok(conflict.stderr[0].includes("--namespace says other"), conflict.stderr[0]);
  deepStrictEqual(conflict.connects, [], "usage is checked before connecting");
});

Deno.test("-o json and -o yaml print the same data as documents", async () => {
  const json = captureIo({ transport: fakeTransport(CLUSTER, "my-ns") });
  strictEqual(await runCli(["status", "postgres-write", "-o", "json"], json), 0);
  const view = JSON.parse(json.stdout.join(""));
  deepStrictEqual([view.ready.reason, view.endpoints, view.service.clusterIP], [
    "EndpointsReady",
    { ready: 1, total: 3, inSlices: 1, selected: 3 },
    "10.96.5.35",
  ]);
  deepStrictEqual(view.reports.map((r: { node: string }) => r.node), ["node-a", "node-b"]);
  const yaml = captureIo({ transport: fakeTransport(CLUSTER, "my-ns") });
  strictEqual(await runCli(["explain", "postgres-write", "-o", "yaml"], yaml), 0);
  deepStrictEqual(parse(yaml.stdout.join("")).rows.map((r: { pod: string }) => r.pod), [
    "db-0",
    "db-1",
    "db-2",
  ]);
});

Deno.test("help goes to stdout with exit 0; unknown commands, flags and values fail with exit 1 on stderr", async () => {
  for (
    const args of [[], ["--help"], ["-h"], ["help"], ["status", "-h"], ["help", "convert"], [
      "convert",
      "--help",
    ]]
  ) {
    const io = captureIo();
    strictEqual(await runCli(args, io), 0, args.join(" "));
    ok(io.stdout.join("\n").includes("Usage:"), args.join(" "));
    deepStrictEqual(io.stderr, []);
  }
  const cases: [string[], string][] = [
    [["stauts", "x"], 'unknown command "stauts"'],
    [["status", "x", "--bogus"], "unknown flag: --bogus"],
    [["status"], "a ServiceWithHealthchecks NAME is required"],
    [["status", "a", "b"], "one NAME expected, got 2"],
    [["status", "x", "-o", "table"], 'invalid value "table" for -o'],
    [["status", "x", "-w", "-o", "json"], "--watch prints text only"],
    [["convert", "--probe", "grpc"], 'invalid value "grpc" for --probe'],
    [["convert", "--probes=http"], "unknown flag: --probes"],
    [["convert", "--http-path", "/x"], "--http-path needs --probe http"],
    [["convert", "a.yaml", "b.yaml"], "one FILE expected, got 2"],
    [["convert", "missing.yaml"], "No such file or directory"],
  ];
  for (const [args, text] of cases) {
    const io = captureIo();
    strictEqual(await runCli(args, io), 1, args.join(" "));
    ok(io.stderr.join("\n").includes(text), `${args.join(" ")}: ${io.stderr.join("\n")}`);
    deepStrictEqual(io.stdout, []);
    deepStrictEqual(io.connects, [], `${args.join(" ")}: refused before connecting`);
  }
});

const SERVICE = (name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "my-ns" },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
});

Deno.test("convert: --probe=http is read (not ignored), kind: List is accepted, -o json prints a List for several", async () => {
  const list = JSON.stringify({ apiVersion: "v1", kind: "List", items: [SERVICE("a"), SERVICE("b")] });
  const io = captureIo({ stdin: list });
  strictEqual(await runCli(["convert", "--probe=http", "--http-path=/ready", "-"], io), 0, io.stderr.join());
  const docs = parseAllDocuments(io.stdout.join("\n")).map((d) => d.toJS());
  deepStrictEqual(docs.map((d) => [d.metadata.name, d.spec.healthcheck.probes[0]]), [
    ["a", { mode: "HTTP", http: { targetPort: 8080, path: "/ready" } }],
    ["b", { mode: "HTTP", http: { targetPort: 8080, path: "/ready" } }],
  ]);
  const json = captureIo({ files: { "svc.json": list } });
  strictEqual(await runCli(["convert", "-f", "svc.json", "-o", "json"], json), 0);
  const out = JSON.parse(json.stdout.join(""));
  deepStrictEqual([out.kind, out.items.length, out.items[0].kind], ["List", 2, "ServiceWithHealthchecks"]);
  const bad = captureIo({
    stdin: JSON.stringify({ apiVersion: "v1", kind: "List", items: [SERVICE("a"), { kind: "Pod" }] }),
  });
  strictEqual(await runCli(["convert"], bad), 1);
  ok(bad.stderr[0].includes("document 0: List item 1: expected apiVersion v1, kind Service"), bad.stderr[0]);
});

Deno.test("--watch redraws the view until stopped", async () => {
  const stop = new AbortController();
  const io = captureIo({ transport: fakeTransport(CLUSTER, "my-ns"), signal: stop.signal });
  const run = runCli(["status", "postgres-write", "-w"], io);
  while (io.stdout.length < 1) await new Promise((r) => setTimeout(r, 10));
  stop.abort();
  strictEqual(await run, 0);
  ok(
    io.stdout[0].startsWith(
      "\x1b[2J\x1b[HEvery 2s: kubectl swh status my-ns/postgres-write\n\nServiceWithHealthchecks",
    ),
  );
});

Deno.test("version", async () => {
  const io = captureIo();
  strictEqual(await runCli(["version"], io), 0);
  ok(/^kubectl-swh \d+\.\d+\.\d+$/.test(io.stdout[0]), io.stdout[0]);
});
