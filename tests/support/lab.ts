/** The local backend's lab (nodes and pods as network namespaces) for e2e tests, always destroyed. */
import { readState } from "../../tools/cluster/mod.ts";
import { Lab } from "../../tools/lab/lab.ts";
import { requireTestClusterDir } from "./env.ts";

/** Creates a lab on the test cluster, runs `work`, and destroys the lab whatever happens. */
export async function withLab<T>(work: (lab: Lab) => Promise<T>): Promise<T> {
  const dir = requireTestClusterDir();
  const state = readState(dir);
  if (!state) throw new Error(`no cluster state in ${dir}`);
  const lab = await Lab.create(state);
  try {
    return await work(lab);
  } finally {
    await lab.destroy();
  }
}
