/** Installs the committed ServiceWithHealthchecks CRD into the test cluster (one helper for every suite). */
import { swhCrdEstablished } from "../../tools/lab/operator.ts";
import { kubectlOk } from "./kubectl.ts";
import { waitFor } from "./wait.ts";

const CRD_FILE = new URL("../../crds/servicewithhealthchecks.yaml", import.meta.url).pathname;

/** Server-side-applies crds/servicewithhealthchecks.yaml and waits until the kind is established and served. */
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
