/** Shared setup of the controller's cluster tests: the CRD, fresh namespaces, an in-process controller. */
import { installSwhCrd } from "../support/crd.ts";
import { requireTestKubeconfig } from "../support/env.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { waitFor } from "../support/wait.ts";
import { createTestNamespace } from "../support/namespace.ts";
import { Api, HttpTransport, loadKubeconfig, Namespaces } from "../../kube/mod.ts";
import type { KubeTransport } from "../../kube/mod.ts";
import { createLogger } from "../../ops/log.ts";
import type { ServiceWithHealthchecks, ServiceWithHealthchecksInput } from "../../crds/schema.ts";
import { startController, SwhResource } from "../../controller/mod.ts";
import type { ControllerHandle, ControllerOptions } from "../../controller/mod.ts";

/** An admin transport to the test cluster. */
export async function adminTransport(): Promise<HttpTransport> {
  return new HttpTransport(await loadKubeconfig({ paths: [requireTestKubeconfig()] }));
}

/** What a controller test gets. */
export interface ControllerTestContext {
  transport: KubeTransport;
  /** The test's namespace for SWHs. */
  ns: string;
  /** The operator namespace of this test's controller. */
  opNs: string;
  controller: ControllerHandle;
  swhs: Api<ServiceWithHealthchecks>;
}

/**
 * Runs `fn` with a fresh namespace, a fresh operator namespace and a controller (no leader election)
 * running in-process; everything is stopped and deleted afterwards, even on failure.
 */
export async function withController(
  prefix: string,
  fn: (ctx: ControllerTestContext) => Promise<void>,
  options: Partial<ControllerOptions> = {},
): Promise<void> {
  await installSwhCrd();
  const transport = await adminTransport();
  const id = crypto.randomUUID().slice(0, 6);
  const ns = `${prefix}-${id}`;
  const opNs = `${prefix}-op-${id}`;
  const namespaces = Api.cluster(transport, Namespaces);
  for (const name of [ns, opNs]) await createTestNamespace(transport, name);
  const controller = await startController({
    transport,
    operatorNamespace: opNs,
    leaderElection: false,
    backoffInitialMs: 200,
    logger: createLogger("controller", { level: (Deno.env.get("SWH_LOG_LEVEL") as "info") ?? "error" }),
    ...options,
  });
  try {
    await controller.synced;
    await fn({ transport, ns, opNs, controller, swhs: Api.namespaced(transport, SwhResource, ns) });
  } finally {
    await controller.stop();
    for (const name of [ns, opNs]) await namespaces.delete(name).catch(() => {});
    transport.close();
  }
}

/** A ServiceWithHealthchecks body with one TCP probe; `spec` fields override. */
export function swhBody(
  name: string,
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): ServiceWithHealthchecksInput {
  return {
    apiVersion: "network.deckhouse.io/v1alpha1",
    kind: "ServiceWithHealthchecks",
    metadata: { name, ...metadata },
    spec: {
      selector: { app: name },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 8080 } }] },
      ...spec,
    },
  } as ServiceWithHealthchecksInput;
}

/** Applies an SWH as a user would (kubectl's field manager stand-in). */
export async function applySwh(
  swhs: Api<ServiceWithHealthchecks>,
  body: ServiceWithHealthchecksInput,
): Promise<ServiceWithHealthchecks> {
  return await swhs.apply(body as ServiceWithHealthchecks, { fieldManager: "test-user", force: true });
}

/** Waits for condition `type` of SWH `name` to satisfy `check`, returning the SWH. */
export async function waitForCondition(
  swhs: Api<ServiceWithHealthchecks>,
  name: string,
  type: string,
  check: (c: { status: string; reason: string; message: string; observedGeneration?: number }) => boolean,
  timeoutMs = 15_000,
): Promise<ServiceWithHealthchecks> {
  let last: unknown;
  try {
    return await waitFor(async () => {
      const swh = await swhs.get(name);
      const c = swh.status?.conditions?.find((x) => x.type === type);
      last = c;
      return c && check(c) ? swh : undefined;
    }, { timeoutMs, what: `condition ${type} of ${name}` });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** Events recorded about object `name` in `ns`, as `reason: message` lines. */
export async function eventsAbout(ns: string, name: string): Promise<string[]> {
  const out = await kubectlOk([
    "-n",
    ns,
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${name}`,
    "-o",
    'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
  ]);
  return out.split("\n").filter((l) => l !== "");
}
