/** What the e2e scenarios observe in the cluster, and the timings they report. */
import { waitFor } from "../support/wait.ts";
import type { GuideBackend } from "./backend.ts";

interface SliceList {
  items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
}

/** Sorted ready addresses over every EndpointSlice of Service `name` in `ns`. */
export async function sliceAddresses(backend: GuideBackend, ns: string, name: string): Promise<string[]> {
  const list = JSON.parse(
    await backend.kubectl([
      "-n",
      ns,
      "get",
      "endpointslices",
      "-l",
      `kubernetes.io/service-name=${name}`,
      "-o",
      "json",
    ]),
  ) as SliceList;
  return list.items.flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .flatMap((e) => e.addresses)
    .sort();
}

/** Waits until the Service's slices list exactly `addresses`; returns the seconds it took. */
export async function waitForEndpoints(
  backend: GuideBackend,
  ns: string,
  name: string,
  addresses: string[],
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  const wanted = JSON.stringify([...addresses].sort());
  let last: string[] = [];
  try {
    await waitFor(async () => {
      last = await sliceAddresses(backend, ns, name);
      return JSON.stringify(last) === wanted;
    }, { timeoutMs, intervalMs: 100, what: `${ns}/${name} endpoints to be ${wanted}` });
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : error}; last seen ${JSON.stringify(last)}`);
  }
  return (performance.now() - started) / 1000;
}

/** The ClusterIP of Service `name` once it has one. */
export async function clusterIP(backend: GuideBackend, ns: string, name: string): Promise<string> {
  return await waitFor(async () => {
    const ip = (await backend.kubectl(["-n", ns, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}"]))
      .trim();
    return ip || undefined;
  }, { timeoutMs: 60_000, what: `Service ${ns}/${name} (created by the controller)` });
}

const lines: string[] = [];

/** Records one measured number; printed at the end of the suite and appended to $SWH_E2E_REPORT. */
export function report(line: string): void {
  lines.push(line);
  console.log(`[e2e] ${line}`);
  const file = Deno.env.get("SWH_E2E_REPORT");
  if (file) Deno.writeTextFileSync(file, `${line}\n`, { append: true });
}
