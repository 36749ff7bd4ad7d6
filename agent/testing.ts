/** Builders of SWH and Pod objects for the agent's unit and integration tests. */
import type { IPod } from "kubernetes-models/v1/Pod";
import { parseSwh } from "../crds/validate.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";

/** Loose input of {@link makeSwh}: a spec as a user writes it. */
export interface SwhFixture {
  /** SWH name (default `web`). */
  name?: string;
  /** Namespace (default `ns`). */
  namespace?: string;
  /** uid (default a fixed one). */
  uid?: string;
  /** `spec` as a user writes it (defaults are applied by the schema). */
  spec: Record<string, unknown>;
}

/** A defaulted SWH object, as the apiserver would store it. */
export function makeSwh(fixture: SwhFixture): ServiceWithHealthchecks {
  return parseSwh({
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: {
      name: fixture.name ?? "web",
      namespace: fixture.namespace ?? "ns",
      uid: fixture.uid ?? "swh-uid-1",
    },
    spec: fixture.spec,
  });
}

/** Options of {@link makePod}. */
export interface PodFixture {
  /** Pod name. */
  name: string;
  /** Namespace (default `ns`). */
  namespace?: string;
  /** uid (default `uid-<name>`). */
  uid?: string;
  /** Node (default `node-a`). */
  node?: string;
  /** Labels (default `{ app: "web" }`). */
  labels?: Record<string, string>;
  /** Pod IPs (first is `podIP`). */
  ips?: string[];
  /** Phase (default Running). */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  /** Named container ports. */
  ports?: { name: string; containerPort: number; protocol?: "TCP" | "UDP" | "SCTP" }[];
  /** Sets a deletionTimestamp. */
  terminating?: boolean;
}

/** A Pod object with status filled in as a kubelet would. */
export function makePod(f: PodFixture): IPod {
  const ips = f.ips ?? ["10.0.0.1"];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: f.name,
      namespace: f.namespace ?? "ns",
      uid: f.uid ?? `uid-${f.name}`,
      labels: f.labels ?? { app: "web" },
      ...(f.terminating ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    },
    spec: {
      nodeName: f.node ?? "node-a",
      containers: [{ name: "main", image: "none", ports: f.ports }],
    },
    status: {
      phase: f.phase ?? "Running",
      ...(ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    },
  };
}
