/**
 * The agent's heartbeat: a Lease per node in the operator namespace, renewed every `renewMs` (like a kubelet's
 * node lease). While it is fresh the controller leaves the node's slices to the agent; when it goes stale (the
 * agent crashed, was evicted, or cannot reach the apiserver), the controller withdraws the endpoints whose pods
 * are gone, not running, or have another IP — the pod objects are the truth it can read.
 *
 * RBAC: create/patch leases in the operator namespace (a ValidatingAdmissionPolicy confines each agent to its own).
 *
 * @module
 */
import { microTime } from "../kube/time.ts";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { AGENT_LEASE_LABEL, agentFieldManager, agentLeaseName } from "../crds/conventions.ts";
import { Api, Leases } from "../kube/mod.ts";
import type { KubeTransport } from "../kube/mod.ts";
import type { Logger } from "../ops/log.ts";

/** Defaults: kubelet's node lease (renewed every 10 s, valid for 40 s). */
export const HEARTBEAT_DEFAULTS = { renewMs: 10_000, leaseDurationSeconds: 40 } as const;

/** Renews `node`'s Lease until the signal aborts (see the module docs). */
export async function runHeartbeat(opts: {
  transport: KubeTransport;
  node: string;
  namespace: string;
  log: Logger;
  signal: AbortSignal;
  renewMs?: number;
  leaseDurationSeconds?: number;
  /** Called after each attempt (metrics). */
  onRenew?: (ok: boolean) => void;
}): Promise<void> {
  const api = Api.namespaced(opts.transport, Leases, opts.namespace);
  const renewMs = opts.renewMs ?? HEARTBEAT_DEFAULTS.renewMs;
  const body = (): ILease => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: agentLeaseName(opts.node),
      namespace: opts.namespace,
      labels: { [AGENT_LEASE_LABEL]: "true" },
    },
    spec: {
      holderIdentity: opts.node,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? HEARTBEAT_DEFAULTS.leaseDurationSeconds,
      renewTime: microTime(new Date()),
    },
  });
  let failing = false;
  while (!opts.signal.aborted) {
    try {
      await api.apply(body(), {
        fieldManager: agentFieldManager(opts.node),
        force: true,
        signal: opts.signal,
      });
      if (failing) opts.log.info("heartbeat renewed again");
      failing = false;
      opts.onRenew?.(true);
    } catch (error) {
      if (opts.signal.aborted) return;
      if (!failing) opts.log.warn("heartbeat not renewed; retrying", { error });
      failing = true;
      opts.onRenew?.(false);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, renewMs);
      opts.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
