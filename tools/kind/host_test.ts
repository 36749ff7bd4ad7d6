import { deepStrictEqual, ok } from "node:assert";
import { containersConf, hardLimits } from "./host.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             96365                96365                processes
Max open files            1024                 20000                files
`;

Deno.test("containers default to the host's hard limits (capped by podman's NPROC), which they may not exceed", () => {
  deepStrictEqual(hardLimits(LIMITS), { nofile: 20000, nproc: 32768 });
  deepStrictEqual(
    hardLimits(LIMITS.replace("96365                processes", "1000                 processes")).nproc,
    1000,
  );
  deepStrictEqual(
    hardLimits(LIMITS.replace("20000                files", "unlimited            files")).nofile,
    2 ** 20,
  );
  const conf = containersConf({ nofile: 20000, nproc: 32768 });
  ok(conf.includes('default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'), conf);
  ok(conf.includes('runtime = "runc"') && conf.includes('network_backend = "netavark"'), conf);
});
