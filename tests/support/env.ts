/**
 * Test environment contract: what `deno task test` (tools/test.ts) hands to cluster tests.
 *
 * Cluster tests never start their own control plane; they read the one the runner started, and fail
 * loudly (not skip) when it is absent, so a missing prerequisite can never pass as green.
 */

/** Environment variable naming the kubeconfig of the test control plane. */
export const TEST_KUBECONFIG_ENV = "SWH_TEST_KUBECONFIG";
/** Environment variable naming the state directory of the test control plane (for restarts). */
export const TEST_CLUSTER_DIR_ENV = "SWH_TEST_CLUSTER_DIR";

/** Path of the test cluster's kubeconfig; throws with instructions when the runner did not provide one. */
export function requireTestKubeconfig(): string {
  const path = Deno.env.get(TEST_KUBECONFIG_ENV);
  if (!path) {
    throw new Error(
      `${TEST_KUBECONFIG_ENV} is not set: cluster tests run under \`./deno task test\`, which starts a ` +
        `local control plane; or run \`./deno task cluster up\` and export ${TEST_KUBECONFIG_ENV}=<its kubeconfig>`,
    );
  }
  return path;
}

/** State directory of the test cluster (see tools/cluster); throws when the runner did not provide one. */
export function requireTestClusterDir(): string {
  const dir = Deno.env.get(TEST_CLUSTER_DIR_ENV);
  if (!dir) {
    throw new Error(`${TEST_CLUSTER_DIR_ENV} is not set: run the tests with \`./deno task test\``);
  }
  return dir;
}

/** Environment variable naming the kubectl binary that matches the test control plane. */
export const TEST_KUBECTL_ENV = "SWH_TEST_KUBECTL";

/** Path of a kubectl matching the test cluster's version; throws when the runner did not provide one. */
export function requireTestKubectl(): string {
  const path = Deno.env.get(TEST_KUBECTL_ENV);
  if (!path) {
    throw new Error(`${TEST_KUBECTL_ENV} is not set: run the tests with \`./deno task test\``);
  }
  return path;
}
