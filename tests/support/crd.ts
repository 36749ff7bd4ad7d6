/** Installs the committed ServiceWithHealthchecks CRD into the test cluster (one helper for every suite). */
import { buildSwhCrd } from "../../crds/crd.ts";
import { swhCrdEstablished } from "../../tools/lab/operator.ts";
import { kubectlOk } from "./kubectl.ts";
import { waitFor } from "./wait.ts";

/** deploy/crd.yaml holds both CRDs: ServiceWithHealthchecks and the agents' node reports. */
const CRD_FILE = new URL("../../deploy/crd.yaml", import.meta.url).pathname;

/** Server-side-applies both CRDs and waits until they are established and ServiceWithHealthchecks is served. */
export async function installSwhCrd(): Promise<void> {
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD_FILE]);
  await waitFor(() => swhCrdEstablished(kubectlOk), { timeoutMs: 30_000, what: "the CRD to be established" });
  await waitFor(
    () => kubectlOk(["get", "servicewithhealthchecks", "-A", "--chunk-size=1"]).then(() => true),
    {
      timeoutMs: 30_000,
      what: "the ServiceWithHealthchecks kind to be served",
    },
  );
}

/**
 * Server-side-applies the real ServiceWithHealthchecks CRD with its schema changed by `edit` — a CRD that
 * disagrees with the programs (looser rules, missing defaults); {@link installSwhCrd} puts the real one back.
 */
// deno-lint-ignore no-explicit-any
export async function applyEditedSwhCrd(edit: (openAPIV3Schema: any) => void): Promise<void> {
  const crd = buildSwhCrd();
  edit(crd.spec.versions[0].schema!.openAPIV3Schema!);
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(crd));
}
