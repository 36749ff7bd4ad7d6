/**
 * The whole agent process (agent/main.ts, the deployed permissions, a candidate's runtime flags) against the
 * fake apiserver: RSS and CPU idle (no SWH, no pods), then with N pods on its node selected by one SWH with a
 * TCP probe at period 1 s (the shape of `./deno task bench agent`'s 1,000-endpoint run), without a cluster.
 *
 * Pods are shaped like a Deployment's pods on a real cluster (one container, projected token volume, default
 * tolerations, kubelet status, managedFields), ~5 KiB of JSON each, so informer caches cost what they would.
 *
 * @module
 */
import { AGENT_PERMISSIONS, withReadablePaths } from "../../deploy/permissions.ts";
import { parseSwh } from "../../crds/validate.ts";
import {
  selectorAnnotation,
  SERVICE_GENERATION_ANNOTATION,
  SERVICE_SELECTOR_ANNOTATION,
} from "../../crds/conventions.ts";
import { makeTestPki } from "../../tests/support/postgres.ts";
import { startFakeApiserver } from "./fake_apiserver.ts";
import type { FakeApiserver, StoredObject } from "./fake_apiserver.ts";
import { startListeners } from "./listeners.ts";
import { connectInspector } from "./inspect.ts";
import type { Inspector } from "./inspect.ts";
import { median, procCpuSeconds, procMemory, sleep } from "./proc.ts";

const NODE = "node-a";
const NS = "bench";
const PODS = "v1/pods";
const SWHS = "network.deckhouse.io/v1alpha1/servicewithhealthchecks";
const SERVICES = "v1/services";
const SLICES = "discovery.k8s.io/v1/endpointslices";

/** What one agent run measured. */
export interface AgentRunReport {
  /** Candidate label. */
  label: string;
  /** Idle: median RSS of 1 s samples / anon part at the end / CPU share. */
  idleRss: number;
  idleAnon: number;
  idleCpu: number;
  /** Seconds from the SWH's creation until every pod address was in the agent's slices. */
  publishSeconds: number;
  /** Loaded: median and peak RSS of 1 s samples, anon part at the end, CPU share, API writes in the window. */
  loadedRss: number;
  loadedPeak: number;
  loadedAnon: number;
  loadedCpu: number;
  loadedWrites: number;
  /**
   * The machine starved the agent: not every address was published within 120 s, or it wrote during the
   * loaded window (endpoints flipped although every backend accepts). Such a run says nothing about flags.
   */
  starved: boolean;
  /** Size of one stored pod object (with managedFields) as JSON, bytes. */
  podBytes: number;
  /** With `inspect`: JS heap in use after a full GC, idle and loaded (MiB), and RSS right after that GC. */
  idleHeap?: number;
  loadedHeap?: number;
  loadedRssAfterGc?: number;
}

/** A Deployment-made pod as a real apiserver returns it (trimmed to the usual fields). */
export function realisticPod(i: number, ip: string, port: number): StoredObject {
  const name = `web-7d9f8b6c5-${i.toString(36).padStart(5, "x")}`;
  const time = "2026-11-30T10:00:00Z";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      generateName: "web-7d9f8b6c5-",
      labels: { app: "web", "pod-template-hash": "7d9f8b6c5" },
      annotations: { "kubectl.kubernetes.io/restartedAt": time },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "web-7d9f8b6c5",
        uid: "6f1c1e9e-2b0c-4a55-9d7e-3c3d3f1f0a01",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      nodeName: NODE,
      containers: [{
        name: "web",
        image: "registry.example/web:1.27.3",
        ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
        env: [{ name: "MODE", value: "production" }, { name: "LOG_LEVEL", value: "info" }],
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
        volumeMounts: [{
          name: `kube-api-access-${i.toString(36).padStart(5, "q")}`,
          readOnly: true,
          mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        }],
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "File",
        imagePullPolicy: "IfNotPresent",
      }],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      serviceAccount: "default",
      securityContext: {},
      schedulerName: "default-scheduler",
      tolerations: [
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
        {
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
      volumes: [{
        name: `kube-api-access-${i.toString(36).padStart(5, "q")}`,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            {
              downwardAPI: {
                items: [{
                  path: "namespace",
                  fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" },
                }],
              },
            },
          ],
        },
      }],
    },
    status: {
      phase: "Running",
      conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        .map(
          (type) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: time }),
        ),
      hostIP: "10.0.0.10",
      hostIPs: [{ ip: "10.0.0.10" }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: time,
      containerStatuses: [{
        name: "web",
        state: { running: { startedAt: time } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: "registry.example/web:1.27.3",
        imageID: "registry.example/web@sha256:" + "4f".repeat(32),
        containerID: "containerd://" + (i.toString(16) + "ab").repeat(64).slice(0, 64),
        started: true,
      }],
      qosClass: "Burstable",
    },
  };
}

/** Only the pod fields the agent reads (agent/endpoints.ts, probe_specs.ts): a compact cache's content. */
export function compactPod(pod: StoredObject): StoredObject {
  const spec = pod.spec as { nodeName: string; containers: { name: string; ports?: unknown[] }[] };
  const status = pod.status as { phase: string; podIP: string; podIPs: unknown[] };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, labels: pod.metadata.labels },
    spec: {
      nodeName: spec.nodeName,
      containers: spec.containers.map((c) => ({ name: c.name, ports: c.ports })),
    },
    status: { phase: status.phase, podIP: status.podIP, podIPs: status.podIPs },
  };
}

/** Addresses in the stored slices (the agent is the only writer). */
function publishedAddresses(api: FakeApiserver): number {
  return api.list(SLICES)
    .flatMap((s) => (s.endpoints as { addresses: string[] }[] | undefined) ?? [])
    .length;
}

function totalWrites(api: FakeApiserver): number {
  // The heartbeat Lease is renewed every 10 s by design: not a sign of a starved agent.
  return Object.entries(api.stats.requests)
    .filter(([k]) => /^(PATCH|PUT|POST|DELETE) /.test(k) && !/ leases$/.test(k))
    .reduce((n, [, v]) => n + v, 0);
}

/** Samples a process's RSS once a second for `seconds`; returns the samples and the CPU share meanwhile. */
async function sample(pid: number, seconds: number): Promise<{ rss: number[]; cpu: number }> {
  const cpu0 = procCpuSeconds(pid);
  const t0 = performance.now();
  const rss: number[] = [];
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    rss.push(procMemory(pid).rss);
  }
  return { rss, cpu: (procCpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000) };
}

/** Free TCP port on loopback for the agent's ops server. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Options of {@link runAgent}. */
export interface RunAgentOptions {
  /** Label of the candidate in reports. */
  label: string;
  /** Runtime flags for `deno run`. */
  flags: readonly string[];
  /** Extra environment of the agent. */
  env: Record<string, string>;
  /** Checkout whose agent/main.ts runs (default this one). */
  root?: string;
  /** Entry module instead of agent/main.ts (e.g. a bundle of it). */
  entry?: string;
  /** Pods to create on the agent's node (0: idle only). */
  pods: number;
  /** Seconds of each measured window. */
  seconds: number;
  /** Kubeconfig as YAML (the local backend's) or JSON (parsed without the yaml package, like in-cluster). */
  kubeconfigFormat: "yaml" | "json";
  /**
   * Diagnosis: run the agent with `--inspect` and after each window force a GC, read the JS heap, and print a
   * heap snapshot summary of the loaded agent. Changes RSS a little; not for the headline numbers.
   */
  inspect?: boolean;
  /**
   * What-ifs for the agent's caches: `compact` pods carry only what the agent reads (no managedFields, no
   * unused spec or status); `hideSwhStatus` keeps SWH status out of what the agent receives.
   */
  podShape?: "full" | "compact";
  hideSwhStatus?: boolean;
}

/** One agent process: idle window, then the loaded window. */
export async function runAgent(opts: RunAgentOptions): Promise<AgentRunReport> {
  const pki = await makeTestPki(["localhost"]);
  await using api = startFakeApiserver({
    cert: pki.serverCert,
    key: pki.serverKey,
    hideStatusOf: opts.hideSwhStatus ? [SWHS] : [],
  });
  const dir = await Deno.makeTempDir({ prefix: "swh-bench-memory-" });
  const listeners = opts.pods > 0 ? await startListeners(opts.pods) : undefined;
  let agent: Deno.ChildProcess | undefined;
  try {
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "fake",
        cluster: { server: api.url, "certificate-authority-data": btoa(pki.caCert) },
      }],
      users: [{ name: "agent", user: { token: "bench-token" } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "agent", namespace: "default" } }],
      "current-context": "fake",
    };
    const path = `${dir}/kubeconfig`;
    await Deno.writeTextFile(
      path,
      opts.kubeconfigFormat === "json" ? JSON.stringify(kubeconfig) : toYaml(kubeconfig),
    );
    const opsPort = freePort();
    const inspectPort = opts.inspect ? freePort() : undefined;
    agent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...withReadablePaths(AGENT_PERMISSIONS, [dir]),
        ...opts.flags,
        ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
        opts.entry ?? "agent/main.ts",
      ],
      cwd: opts.root ?? new URL("../../", import.meta.url).pathname,
      env: {
        NODE_NAME: NODE,
        KUBECONFIG: path,
        SWH_OPS_PORT: String(opsPort),
        SWH_LOG_LEVEL: "warn",
        ...opts.env,
      },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const pid = agent.pid;
    for (let i = 0;; i++) {
      const ok = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then((r) =>
        r.body?.cancel().then(() => r.ok)
      )
        .catch(() => false);
      if (ok) break;
      if (i > 300) throw new Error("agent not ready after 30 s");
      await sleep(100);
    }
    const inspector: Inspector | undefined = inspectPort ? await connectInspector(inspectPort) : undefined;
    // Idle: ready, nothing to probe. A few seconds for start-up garbage to be collected first.
    await sleep(5000);
    const idle = await sample(pid, opts.seconds);
    const idleEnd = procMemory(pid);
    const idleHeap = (await inspector?.heapAfterGc())?.used;
    let loadedHeap: number | undefined;
    let loadedRssAfterGc: number | undefined;
    let loaded = { rss: [NaN], cpu: NaN };
    let loadedEnd = { anon: NaN };
    let publishSeconds = NaN;
    let loadedWrites = NaN;
    let podBytes = NaN;
    let starved = false;
    if (listeners) {
      const compact = opts.podShape === "compact";
      for (const [i, ip] of listeners.ips.entries()) {
        const pod = realisticPod(i, ip, listeners.port);
        api.put(PODS, compact ? compactPod(pod) : pod, { managedFields: !compact });
      }
      const t0 = performance.now();
      const uid = crypto.randomUUID();
      // Agents publish only for a Service their SWH owns, and take the spec at the generation noted on it (the
      // controller's job; there is none here).
      api.put(SERVICES, {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "web",
          namespace: NS,
          annotations: {
            [SERVICE_GENERATION_ANNOTATION]: "1",
            [SERVICE_SELECTOR_ANNOTATION]: selectorAnnotation({ app: "web" }),
          },
          ownerReferences: [{
            apiVersion: "network.deckhouse.io/v1alpha1",
            kind: "ServiceWithHealthchecks",
            name: "web",
            uid,
            controller: true,
          }],
        },
        spec: { ports: [{ port: 80 }] },
      } as unknown as StoredObject);
      api.put(
        SWHS,
        parseSwh({
          apiVersion: "network.deckhouse.io/v1alpha1",
          kind: "ServiceWithHealthchecks",
          metadata: { name: "web", namespace: NS, uid },
          spec: {
            selector: { app: "web" },
            ports: [{ port: 80, targetPort: listeners.port }],
            healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: listeners.port } }] },
          },
        }) as unknown as StoredObject,
      );
      while (publishedAddresses(api) < opts.pods && performance.now() - t0 < 120_000) await sleep(100);
      publishSeconds = (performance.now() - t0) / 1000;
      if (publishedAddresses(api) < opts.pods) starved = true;
      // Let status writes and the first garbage settle, as bench/agent.ts does.
      await sleep(5000);
      const writes0 = totalWrites(api);
      loaded = await sample(pid, opts.seconds);
      loadedEnd = procMemory(pid);
      loadedWrites = totalWrites(api) - writes0;
      if (loadedWrites > 0) starved = true;
      podBytes = JSON.stringify(api.list(PODS)[0]).length;
      if (inspector) {
        const fmt = (rows: { space: string; committed: number; used: number }[]) =>
          rows.map((r) => `${r.space} ${r.committed.toFixed(1)}/${r.used.toFixed(1)}`).join(", ");
        console.log(
          `${opts.label}: V8 spaces under load, committed/used MiB: ${fmt(await inspector.spaces())}`,
        );
        loadedHeap = (await inspector.heapAfterGc()).used;
        console.log(`${opts.label}: V8 spaces after a full GC: ${fmt(await inspector.spaces())}`);
        loadedRssAfterGc = procMemory(pid).rss;
        console.log(`${opts.label}: heap snapshot of the loaded agent, self size by constructor (MiB):`);
        for (const row of await inspector.snapshotSummary()) {
          console.log(`  ${row.mib.toFixed(2).padStart(7)}  ${String(row.count).padStart(8)}  ${row.name}`);
        }
      }
    }
    inspector?.close();
    return {
      label: opts.label,
      idleRss: median(idle.rss),
      idleAnon: idleEnd.anon,
      idleCpu: idle.cpu,
      publishSeconds,
      loadedRss: median(loaded.rss),
      loadedPeak: Math.max(...loaded.rss),
      loadedAnon: loadedEnd.anon,
      loadedCpu: loaded.cpu,
      loadedWrites,
      starved,
      podBytes,
      idleHeap,
      loadedHeap,
      loadedRssAfterGc,
    };
  } finally {
    try {
      agent?.kill("SIGKILL");
      await agent?.status;
    } catch { /* already gone */ }
    await listeners?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Block-style YAML of plain JSON data (enough for a kubeconfig; the local backend's kubeconfigs are YAML). */
function toYaml(value: unknown, indent = ""): string {
  if (Array.isArray(value)) {
    return value.map((v) => `${indent}- ${toYaml(v, indent + "  ").trimStart()}`).join("");
  }
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) =>
      v && typeof v === "object"
        ? `${indent}${k}:\n${toYaml(v, indent + "  ")}`
        : `${indent}${k}: ${JSON.stringify(v)}\n`
    ).join("");
  }
  return `${JSON.stringify(value)}\n`;
}
