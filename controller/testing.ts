/** Test fixtures shared by the controller's unit and integration tests: SWH objects as the apiserver stores them. */
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { SWH_API_VERSION, SWH_KIND } from "../crds/schema.ts";

/** Options of {@link makeSwh}. */
export interface SwhFixture {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Partial<ServiceWithHealthchecks["spec"]>;
  status?: ServiceWithHealthchecks["status"];
}

/** A defaulted SWH with one TCP probe and one port, overridable field by field. */
export function makeSwh(f: SwhFixture = {}): ServiceWithHealthchecks {
  return {
    apiVersion: SWH_API_VERSION,
    kind: SWH_KIND,
    metadata: {
      name: f.name ?? "web",
      namespace: f.namespace ?? "app",
      uid: f.uid ?? "uid-1",
      generation: f.generation ?? 1,
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.annotations ? { annotations: f.annotations } : {}),
    },
    spec: {
      type: "ClusterIP",
      selector: { app: "web" },
      ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }],
      healthcheck: {
        initialDelaySeconds: 0,
        periodSeconds: 10,
        probes: [{
          mode: "TCP",
          timeoutSeconds: 1,
          successThreshold: 1,
          failureThreshold: 3,
          tcp: { targetPort: 8080 },
        }],
      },
      ...f.spec,
    } as ServiceWithHealthchecks["spec"],
    ...(f.status ? { status: f.status } : {}),
  };
}

/** A PostgreSQL probe block referencing `secret`, for credential tests. */
export function postgresProbe(
  secret: string,
): ServiceWithHealthchecks["spec"]["healthcheck"]["probes"][number] {
  return {
    mode: "PostgreSQL",
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
    postgreSQL: { targetPort: 5432, dbName: "postgres", authSecretName: secret, query: "SELECT 1" },
  };
}
