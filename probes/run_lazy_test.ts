/** runProbe loads the HTTP and PostgreSQL probes on first use, and they work from there. */
import assert from "node:assert/strict";
import { runProbe } from "./run.ts";
import { guardProcess, respond, startRawHttpServer } from "./testing.ts";

const common = { timeoutSeconds: 2, successThreshold: 1, failureThreshold: 1 };

Deno.test("run: the lazily loaded HTTP and PostgreSQL probes answer, concurrent first uses included", async () => {
  using guard = guardProcess();
  await using srv = await startRawHttpServer((_req, socket) => respond(socket, 204));
  const target = { ip: "127.0.0.1", port: srv.port };
  const http = { mode: "HTTP", ...common, http: { path: "/", method: "GET", scheme: "HTTP" } } as const;
  // Several first uses at once share one import.
  const results = await Promise.all([runProbe(target, http), runProbe(target, http), runProbe(target, http)]);
  for (const r of results) assert.equal(r.reason, "HTTP 204");
  // Port 1 on loopback refuses: the failure must come from the driver's connect, not from loading it.
  const pg = await runProbe({ ip: "127.0.0.1", port: 1 }, {
    mode: "PostgreSQL",
    ...common,
    postgreSQL: { dbName: "postgres", query: "SELECT 1", credentials: { user: "u", password: "p" } },
  });
  assert.equal(pg.ok, false);
  assert.doesNotMatch(pg.reason, /internal error/);
  assert.match(pg.reason, /refused/i);
  guard.assertClean();
});
