/**
 * What the user guide's scenarios need from a cluster, so one suite runs on two backends: `local` (the
 * lab: network namespaces + kube-proxy) and `kind` (real kubelets: kind through podman with the node image
 * tools/kind builds, `deno task kind-e2e`).
 */

/** The database of the guide: pods db-0 (primary), db-1 and db-2 (replicas). */
export interface GuideDatabase {
  /** Pod IP of `pod`. */
  address(pod: string): string;
  /** Stops the database server in `pod` (the process dies; the pod object stays or fails). */
  stopServer(pod: string): Promise<void>;
  /** Promotes the replica in `pod`. */
  promote(pod: string): Promise<void>;
}

/** A pod running the lab's HTTP (:8080 /healthz) and/or SMTP (:2525) servers. */
export interface GuideServers {
  readonly name: string;
  readonly address: string;
  stop(kind: "http" | "smtp"): Promise<void>;
  start(kind: "http" | "smtp"): Promise<void>;
}

/** A cluster with the operator deployed, able to run the guide's workloads and clients. */
export interface GuideBackend {
  readonly name: "local" | "kind";
  /** kubectl against the cluster. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** Creates namespace `ns` (the guide's manifests use `my-ns`). */
  createNamespace(ns: string): Promise<void>;
  /** Starts the guide's database in `ns`. */
  startDatabase(ns: string): Promise<GuideDatabase>;
  /** Starts a pod with servers in `ns` (the VM: name my-vm, labels vm=my-vm, http+smtp). */
  startServers(
    ns: string,
    name: string,
    labels: Record<string, string>,
    kinds: ("http" | "smtp")[],
  ): Promise<GuideServers>;
  /** SQL through the cluster network as the guide's user (e.g. to a ClusterIP); returns psql's output. */
  sql(host: string, sql: string): Promise<string>;
  /**
   * The lab client from inside the cluster network: `http URL`, `smtp HOST PORT`, `loop URL MS MS` (a
   * long-running loop runs in the background while the caller goes on, until the promise is awaited).
   */
  client(args: string[]): Promise<string>;
  /** Tears down workloads and the operator (the cluster itself belongs to the runner). */
  close(): Promise<void>;
}

/** Backend named by env `SWH_E2E_BACKEND` (`local` by default). */
export async function backendFromEnv(): Promise<GuideBackend> {
  const name = Deno.env.get("SWH_E2E_BACKEND") ?? "local";
  if (name === "local") return await (await import("./local_backend.ts")).LocalBackend.create();
  if (name === "kind") return await (await import("./kind_backend.ts")).KindBackend.create();
  throw new Error(`SWH_E2E_BACKEND must be local or kind, not ${name}`);
}
