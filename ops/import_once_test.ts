import { deepStrictEqual, rejects, strictEqual } from "node:assert";
import { importOnce } from "./import_once.ts";

Deno.test("importOnce loads once for concurrent callers and retries after a failed load", async () => {
  let calls = 0;
  let fail = true;
  const load = importOnce(() => {
    calls++;
    return fail ? Promise.reject(new Error("not yet")) : Promise.resolve({ loaded: calls });
  });
  await rejects(load(), /not yet/);
  fail = false;
  const [a, b] = await Promise.all([load(), load()]);
  strictEqual(a, b);
  deepStrictEqual(a, { loaded: 2 });
  strictEqual(calls, 2);
  strictEqual(await load(), a);
});
