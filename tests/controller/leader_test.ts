/** Leader election with two real controller processes: one reconciles; kill -9 → takeover; SIGTERM → prompt release. */
import { deepStrictEqual, ok } from "node:assert";
import { requireTestKubeconfig } from "../support/env.ts";
import { waitFor } from "../support/wait.ts";
import { freePort } from "../../tools/cluster/network.ts";
import { Api, Leases, Namespaces, Services } from "../../kube/mod.ts";
import { SwhResource } from "../../controller/mod.ts";
import { adminTransport, applySwh, swhBody } from "./helpers.ts";
import { installSwhCrd } from "../support/crd.ts";

const LEASE_SECONDS = 3;
const MAIN = new URL("../../controller/main.ts", import.meta.url).pathname;

interface ControllerProcess {
  name: string;
  port: number;
  child: Deno.ChildProcess;
  logFile: string;
}

async function spawnController(name: string, opNs: string, dir: string): Promise<ControllerProcess> {
  const port = freePort();
  const logFile = `${dir}/${name}.log`;
  const log = await Deno.open(logFile, { write: true, create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", MAIN],
    env: {
      KUBECONFIG: requireTestKubeconfig(),
      SWH_NAMESPACE: opNs,
      POD_NAME: name,
      SWH_OPS_PORT: String(port),
      SWH_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
      SWH_RENEW_DEADLINE_SECONDS: "2",
      SWH_RETRY_PERIOD_SECONDS: "0.3",
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Drain stderr into a file so the child never blocks on a full pipe; the file helps when a test fails.
  child.stderr.pipeTo(log.writable).catch(() => {});
  return { name, port, child, logFile };
}

async function leaderMetric(p: ControllerProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
    const m = /^swh_controller_leader (\d+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

Deno.test("two controller processes: one leads; kill -9 → the other takes over within the lease; SIGTERM releases", async () => {
  await installSwhCrd();
  const transport = await adminTransport();
  const id = crypto.randomUUID().slice(0, 6);
  const ns = `leader-${id}`;
  const opNs = `leader-op-${id}`;
  const namespaces = Api.cluster(transport, Namespaces);
  for (const name of [ns, opNs]) await namespaces.create({ metadata: { name } });
  const dir = await Deno.makeTempDir({ prefix: "swh-leader-" });
  const procs: ControllerProcess[] = [];
  const leases = Api.namespaced(transport, Leases, opNs);
  const holder = async () => (await leases.getOpt("swh-controller"))?.spec?.holderIdentity ?? "";
  try {
    const a = await spawnController("ctl-a", opNs, dir);
    procs.push(a);
    await waitFor(async () => (await holder()).startsWith("ctl-a-"), { what: "a leads", timeoutMs: 20_000 });
    const b = await spawnController("ctl-b", opNs, dir);
    procs.push(b);
    await waitFor(async () => (await leaderMetric(b)) === 0 && (await leaderMetric(a)) === 1, {
      what: "a reports leader=1, b leader=0",
      timeoutMs: 20_000,
    });

    // The leader renews (from the record it wrote last: one PUT each) without ever losing the lease.
    const first = await leases.get("swh-controller");
    const renewals = new Set<string>();
    await waitFor(async () => {
      renewals.add((await leases.get("swh-controller")).spec?.renewTime ?? "");
      return renewals.size >= 4;
    }, { what: "four renewals by a", timeoutMs: 10_000 });
    const renewed = await leases.get("swh-controller");
    deepStrictEqual(renewed.spec?.holderIdentity, first.spec?.holderIdentity);
    deepStrictEqual(renewed.spec?.leaseTransitions, first.spec?.leaseTransitions);
    ok(!(await Deno.readTextFile(a.logFile)).includes("stopped leading"), "a never stopped leading");

    const swhs = Api.namespaced(transport, SwhResource, ns);
    const services = Api.namespaced(transport, Services, ns);
    await applySwh(swhs, swhBody("one"));
    await waitFor(() => services.getOpt("one"), { what: "Service one by the leader" });
    const managers = (await services.get("one")).metadata?.managedFields?.map((m) => m.manager);
    ok(managers?.includes("swh-controller"), JSON.stringify(managers));

    // kill -9 the leader: no release, so b must wait out the lease.
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    await a.child.status;
    await waitFor(async () => (await holder()).startsWith("ctl-b-"), {
      what: "b takes over",
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const takeoverMs = Date.now() - killedAt;
    ok(takeoverMs <= LEASE_SECONDS * 1000 + 1500, `takeover took ${takeoverMs} ms`);
    console.log(`takeover after kill -9: ${takeoverMs} ms (lease ${LEASE_SECONDS} s)`);
    await applySwh(swhs, swhBody("two"));
    await waitFor(() => services.getOpt("two"), { what: "Service two by the new leader" });
    await waitFor(async () => (await leaderMetric(b)) === 1, { what: "b reports leader=1" });

    // SIGTERM: the lease is released at once and the process exits cleanly.
    const c = await spawnController("ctl-c", opNs, dir);
    procs.push(c);
    await waitFor(async () => (await leaderMetric(c)) === 0, { what: "c standing by", timeoutMs: 20_000 });
    b.child.kill("SIGTERM");
    const termAt = Date.now();
    const status = await b.child.status;
    deepStrictEqual(status.code, 0);
    await waitFor(async () => (await holder()).startsWith("ctl-c-"), {
      what: "c takes over",
      timeoutMs: 20_000,
    });
    const handoverMs = Date.now() - termAt;
    console.log(`handover after SIGTERM: ${handoverMs} ms`);
    ok(
      handoverMs < LEASE_SECONDS * 1000,
      `handover after SIGTERM took ${handoverMs} ms (lease ${LEASE_SECONDS} s)`,
    );
    await applySwh(swhs, swhBody("three"));
    await waitFor(() => services.getOpt("three"), { what: "Service three by c" });
  } catch (err) {
    for (const p of procs) {
      console.error(`--- ${p.name}\n${(await Deno.readTextFile(p.logFile)).slice(-3000)}`);
    }
    throw err;
  } finally {
    for (const p of procs) {
      try {
        p.child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await p.child.status;
    }
    for (const name of [ns, opNs]) await namespaces.delete(name).catch(() => {});
    await Deno.remove(dir, { recursive: true });
    transport.close();
  }
});
