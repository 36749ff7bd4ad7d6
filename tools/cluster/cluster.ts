/**
 * The local control plane: etcd, kube-apiserver and kube-controller-manager as real processes, with
 * their state (PKI, data, logs, kubeconfig, PIDs) in one directory so `down` can remove all of it.
 */
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { createAddressInterface, deleteInterface, freePort } from "./network.ts";
import { generatePki, type Pki } from "./pki.ts";
import { isRunning, type ManagedProcess, startDetached, stopProcess, tailLog, waitUntil } from "./process.ts";
import { cacheRoot } from "./versions.ts";
import { LAB_GATEWAY, SERVICE_CIDR } from "../lab/addresses.ts";

/** A process of the cluster together with how to start it again. */
export interface Component extends ManagedProcess {
  args: string[];
}

/** What `up` records in `<dir>/state.json`; everything `down` and `restartApiserver` need. */
export interface ClusterState {
  name: string;
  dir: string;
  kubeconfig: string;
  apiserverUrl: string;
  etcdUrl: string;
  advertiseAddress: string;
  interfaceName: string;
  serviceClusterIpRange: string;
  binaries: Binaries;
  pki: Pki;
  components: Component[];
}

/** A step of `up` failed; names the step and carries the tail of that component's log. */
export class ClusterStepError extends Error {
  /** Wraps `cause` with the failing step's name and its log tail. */
  constructor(readonly step: string, cause: unknown, readonly logTail = "") {
    super(
      `cluster step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}` +
        (logTail ? `\n--- last lines of the ${step} log ---\n${logTail}` : ""),
      { cause },
    );
    this.name = "ClusterStepError";
  }
}

/** Options for {@link up}. */
export interface UpOptions {
  /** Instance name; one machine can run several (tests use their own). Default `default`. */
  name?: string;
  /** State directory; default `<cache>/clusters/<name>`. */
  dir?: string;
  /** Progress lines go here (default stderr). */
  log?: (line: string) => void;
}

/** Default state directory of a named instance. */
export function clusterDir(name = "default"): string {
  return `${cacheRoot()}/clusters/${name}`;
}

const FIRST_SERVICE_IP = "10.96.0.1";

/** Deterministic small hash of the instance name: interface name and advertise address per instance. */
function instanceHash(name: string): number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

function advertiseAddressFor(name: string): string {
  const h = instanceHash(name);
  // 169.254.0.0/16 is link-local: never routed off the machine, so nothing can leave through it.
  // Avoid .0/.255 and the 169.254.169.x metadata block.
  return `169.254.${1 + (h & 0x7f)}.${1 + ((h >>> 8) % 254)}`;
}

/** Reads the state of instance directory `dir`, or undefined when no cluster was brought up there. */
export function readState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/state.json`)) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(state: ClusterState): void {
  Deno.writeTextFileSync(`${state.dir}/state.json`, JSON.stringify(state, null, 2) + "\n");
}

/** An HTTP client authenticated as the cluster admin (client certificate). */
function adminClient(pki: Pki): Deno.HttpClient {
  return Deno.createHttpClient({
    caCerts: [Deno.readTextFileSync(pki.caCert)],
    cert: Deno.readTextFileSync(pki.adminCert),
    key: Deno.readTextFileSync(pki.adminKey),
  });
}

async function httpOk(url: string, client?: Deno.HttpClient): Promise<boolean> {
  try {
    const response = await fetch(url, { client, signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** True when every component runs and the apiserver answers `/readyz`. */
export async function isHealthy(state: ClusterState): Promise<boolean> {
  if (!state.components.every(isRunning)) return false;
  const client = adminClient(state.pki);
  try {
    return await httpOk(`${state.apiserverUrl}/readyz`, client);
  } finally {
    client.close();
  }
}

async function waitApiserverReady(state: ClusterState, timeoutMs = 90_000): Promise<void> {
  const client = adminClient(state.pki);
  const apiserver = state.components.find((c) => c.name === "kube-apiserver")!;
  try {
    await waitUntil(
      "kube-apiserver /readyz",
      async () => {
        if (!isRunning(apiserver)) throw new Error("kube-apiserver exited");
        return await httpOk(`${state.apiserverUrl}/readyz`, client);
      },
      timeoutMs,
      200,
    );
  } finally {
    client.close();
  }
}

/**
 * The admin kubeconfig, written as JSON (which YAML readers, kubectl included, accept): programs started with
 * it (agents in tests and `bench agent`) then parse it without loading the npm `yaml` package, as they would
 * in a cluster with their service account; the parser would add ~10 MiB to an idle agent (bench/memory.ts).
 */
function kubeconfigJson(state: Pick<ClusterState, "name" | "apiserverUrl" | "pki">): string {
  const context = `swh-${state.name}`;
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: context,
        cluster: { server: state.apiserverUrl, "certificate-authority": state.pki.caCert },
      }],
      users: [{
        name: `${context}-admin`,
        user: { "client-certificate": state.pki.adminCert, "client-key": state.pki.adminKey },
      }],
      contexts: [{ name: context, context: { cluster: context, user: `${context}-admin` } }],
      "current-context": context,
    },
    null,
    2,
  ) + "\n";
}

async function step<T>(name: string, action: () => Promise<T>, log: (l: string) => void, logFile?: string) {
  const started = performance.now();
  try {
    const result = await action();
    log(`[cluster] ${name}: ok (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    throw new ClusterStepError(name, error, logFile ? tailLog(logFile) : "");
  }
}

/**
 * Brings the cluster up, or returns the running one when it is already healthy (so `up` twice is
 * safe). A stale instance (crashed processes) is torn down first. On failure everything started so
 * far is stopped again and a {@link ClusterStepError} names the step.
 */
export async function up(options: UpOptions = {}): Promise<ClusterState> {
  const name = options.name ?? "default";
  const dir = options.dir ?? clusterDir(name);
  const log = options.log ?? ((line: string) => console.error(line));
  const existing = readState(dir);
  if (existing) {
    if (await isHealthy(existing)) {
      log(`[cluster] ${name} is already up (${existing.apiserverUrl})`);
      return existing;
    }
    log(`[cluster] ${name}: found a stale instance, removing it first`);
    await down({ dir, log });
  }
  const binaries = await step("binaries", () => ensureBinaries(log), log);
  // Ports are picked free and then handed to the components, so another process can take one in
  // between (several instances starting at once). A component that dies while starting is therefore
  // retried with fresh ports; a real misconfiguration fails the same way three times and is reported.
  for (let attempt = 1;; attempt++) {
    try {
      return await start(name, dir, binaries, log);
    } catch (error) {
      const componentDied = error instanceof ClusterStepError &&
        ["etcd", "kube-apiserver", "kube-controller-manager"].includes(error.step);
      if (!componentDied || attempt === 3) throw error;
      log(
        `[cluster] ${name}: ${error.message.split("\n")[0]}; retrying with new ports (attempt ${
          attempt + 1
        })`,
      );
    }
  }
}

async function start(
  name: string,
  dir: string,
  binaries: Binaries,
  log: (line: string) => void,
): Promise<ClusterState> {
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  const advertiseAddress = advertiseAddressFor(name);
  const interfaceName = `swh${instanceHash(name).toString(16).padStart(8, "0")}`;
  const etcdPort = freePort();
  const etcdPeerPort = freePort();
  const apiserverPort = freePort();
  const kcmPort = freePort();
  const state: ClusterState = {
    name,
    dir,
    kubeconfig: `${dir}/kubeconfig`,
    apiserverUrl: `https://127.0.0.1:${apiserverPort}`,
    etcdUrl: `http://127.0.0.1:${etcdPort}`,
    advertiseAddress,
    interfaceName,
    serviceClusterIpRange: SERVICE_CIDR,
    binaries,
    pki: undefined as unknown as Pki,
    components: [],
  };
  // Written before anything starts, so a failed or interrupted `up` can still be cleaned by `down`.
  writeState(state);
  try {
    await step("network", () => createAddressInterface(interfaceName, advertiseAddress), log);
    state.pki = await step("pki", () =>
      generatePki({
        dir: `${dir}/pki`,
        ipSans: ["127.0.0.1", advertiseAddress, FIRST_SERVICE_IP, LAB_GATEWAY],
        dnsSans: [
          "localhost",
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local",
        ],
      }), log);
    writeState(state);

    const start = (component: string, binary: string, args: string[]): Component => {
      const proc = startDetached(component, binary, args, `${dir}/logs/${component}.log`);
      const entry = { ...proc, args };
      state.components.push(entry);
      writeState(state);
      return entry;
    };

    const etcd = start("etcd", binaries.etcd, [
      `--name=swh-${name}`,
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${state.etcdUrl}`,
      `--advertise-client-urls=${state.etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=swh-${name}=http://127.0.0.1:${etcdPeerPort}`,
      // Throwaway test data: skipping fsync makes every write an order of magnitude cheaper.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await step(
      "etcd",
      () =>
        waitUntil("etcd /health", () => {
          if (!isRunning(etcd)) throw new Error("etcd exited");
          return httpOk(`${state.etcdUrl}/health`);
        }, 30_000),
      log,
      etcd.log,
    );

    const apiserver = start("kube-apiserver", binaries.kubeApiserver, apiserverArgs(state, apiserverPort));
    await step("kube-apiserver", () => waitApiserverReady(state), log, apiserver.log);
    await Deno.writeTextFile(state.kubeconfig, kubeconfigJson(state));

    const kcm = start("kube-controller-manager", binaries.kubeControllerManager, [
      `--kubeconfig=${state.kubeconfig}`,
      `--authentication-kubeconfig=${state.kubeconfig}`,
      `--authorization-kubeconfig=${state.kubeconfig}`,
      `--bind-address=127.0.0.1`,
      `--secure-port=${kcmPort}`,
      `--tls-cert-file=${state.pki.servingCert}`,
      `--tls-private-key-file=${state.pki.servingKey}`,
      `--service-account-private-key-file=${state.pki.serviceAccountKey}`,
      `--root-ca-file=${state.pki.caCert}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--leader-elect=false",
      "--use-service-account-credentials=false",
      // Nodes of the local backend have no kubelet: the lifecycle controller would mark them NotReady
      // and evict every pod after five minutes.
      "--controllers=*,-node-lifecycle-controller",
    ]);
    await step(
      "kube-controller-manager",
      () =>
        waitUntil(
          "kube-controller-manager /healthz",
          () => {
            if (!isRunning(kcm)) throw new Error("kube-controller-manager exited");
            return httpOkWithCa(`https://127.0.0.1:${kcmPort}/healthz`, state.pki);
          },
          60_000,
          200,
        ),
      log,
      kcm.log,
    );
    writeState(state);
    log(`[cluster] ${name} is up: KUBECONFIG=${state.kubeconfig}`);
    return state;
  } catch (error) {
    log(`[cluster] ${name}: bringing up failed, cleaning up`);
    await down({ dir, log: () => {} }).catch(() => {});
    throw error;
  }
}

async function httpOkWithCa(url: string, pki: Pki): Promise<boolean> {
  const client = adminClient(pki);
  try {
    return await httpOk(url, client);
  } finally {
    client.close();
  }
}

function apiserverArgs(state: ClusterState, port: number): string[] {
  const { pki } = state;
  return [
    `--etcd-servers=${state.etcdUrl}`,
    `--etcd-prefix=/registry`,
    "--bind-address=0.0.0.0",
    `--secure-port=${port}`,
    `--advertise-address=${state.advertiseAddress}`,
    `--cert-dir=${state.dir}/pki`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${state.serviceClusterIpRange}`,
    "--authorization-mode=RBAC",
    "--anonymous-auth=false",
    "--allow-privileged=true",
    "--profiling=false",
  ];
}

/** Options for {@link down}. */
export interface DownOptions {
  name?: string;
  dir?: string;
  log?: (line: string) => void;
}

/** Stops every process of the instance, deletes its interface and its state directory. Idempotent. */
export async function down(options: DownOptions = {}): Promise<void> {
  const dir = options.dir ?? clusterDir(options.name ?? "default");
  const log = options.log ?? ((line: string) => console.error(line));
  const state = readState(dir);
  if (!state) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    log(`[cluster] nothing to stop in ${dir}`);
    return;
  }
  for (const component of [...state.components].reverse()) {
    await stopProcess(component);
  }
  await deleteInterface(state.interfaceName);
  await Deno.remove(dir, { recursive: true });
  log(`[cluster] ${state.name} is down`);
}

function apiserverOf(dir: string): { state: ClusterState; index: number } {
  const state = readState(dir);
  if (!state) throw new Error(`no cluster state in ${dir}`);
  return { state, index: state.components.findIndex((c) => c.name === "kube-apiserver") };
}

/** Stops kube-apiserver of the instance in `dir` (an outage; {@link startApiserver} ends it). */
export async function stopApiserver(dir: string): Promise<void> {
  const { state, index } = apiserverOf(dir);
  await stopProcess(state.components[index]);
}

/** Starts kube-apiserver of the instance in `dir` again (same flags) and waits until it is ready. */
export async function startApiserver(dir: string): Promise<void> {
  const { state, index } = apiserverOf(dir);
  const old = state.components[index];
  if (isRunning(old)) return;
  const proc = startDetached(old.name, old.binary, old.args, old.log);
  state.components[index] = { ...proc, args: old.args };
  writeState(state);
  await waitApiserverReady(state);
}

/** Stops and restarts kube-apiserver of the instance in `dir` and waits until it is ready again. */
export async function restartApiserver(dir: string): Promise<void> {
  await stopApiserver(dir);
  await startApiserver(dir);
}
