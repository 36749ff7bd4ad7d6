/** Real-server tests of the PostgreSQL probe: primary, replica, promotion, every TLS mode, failures, timeouts. */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { installScramCache, isTruthy, POSTGRES_ENV_VARS, probePostgres } from "./postgres.ts";
import { makeTestPki, startPostgres } from "../tests/support/postgres.ts";
import { freePort } from "../tools/cluster/network.ts";
import type { PgInstance } from "../tests/support/postgres.ts";
import { guardProcess, startSilentListener, waitFor } from "./testing.ts";
import type { PostgresProbeOptions, PostgresProbeSpec, PostgresTls } from "./types.ts";

const spec = (pg: Partial<PostgresProbeOptions>, timeoutSeconds = 3): PostgresProbeSpec => ({
  mode: "PostgreSQL",
  timeoutSeconds,
  successThreshold: 1,
  failureThreshold: 1,
  postgreSQL: {
    dbName: "app",
    query: "SELECT 1",
    credentials: { user: "prober", password: "s3cret" },
    ...pg,
  },
});
const at = (pg: PgInstance) => ({ ip: pg.host, port: pg.port });
const withTls = (tls: PostgresTls, user = "prober") => ({ credentials: { user, password: "s3cret", tls } });

async function addProber(pg: PgInstance) {
  await pg.psql("CREATE ROLE prober LOGIN PASSWORD 's3cret'");
  await pg.psql("CREATE DATABASE app");
}

/** Waits until no probe connection is left on the server: the probe must always close its connection. */
async function assertNoProbeSessions(pg: PgInstance) {
  await waitFor(
    "probe sessions to end",
    async () =>
      (await pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'swh-probe'")).trim() ===
        "0",
    5000,
  );
}

Deno.test("postgres: truthiness of the first column", () => {
  for (const v of [true, 1, -2, 3n, "t", "true", "TRUE", "yes", "on", "1", "2.5"]) {
    assert.equal(isTruthy(v), true, String(v));
  }
  for (const v of [false, 0, 0n, NaN, "f", "false", "0", "0.0", "", "no", null, undefined, {}]) {
    assert.equal(isTruthy(v), false, String(v));
  }
});

Deno.test("postgres: the SCRAM key cache returns exactly what PBKDF2 computes", async () => {
  installScramCache();
  installScramCache(); // idempotent
  const salt = new Uint8Array(crypto.randomBytes(16));
  for (const password of ["s3cret", "other", "s3cret"]) {
    const key = await globalThis.crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(password),
      "PBKDF2",
      false,
      [
        "deriveBits",
      ],
    );
    const bits = await globalThis.crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations: 4096 },
      key,
      256,
    );
    const expected = new Uint8Array(bits);
    const first = crypto.pbkdf2Sync(password, salt, 4096, 32, "sha256");
    first.fill(0); // callers mutating their copy must not poison the cache
    const second = crypto.pbkdf2Sync(password, salt, 4096, 32, "sha256");
    assert.deepEqual(new Uint8Array(second), expected, password);
  }
});

Deno.test("postgres: primary, replica, failures and promotion", async (t) => {
  using guard = guardProcess();
  await using primary = await startPostgres();
  await addProber(primary);
  await using replica = await primary.startReplica();
  await waitFor(
    "replica to see the prober role",
    async () => (await replica.psql("SELECT count(*) FROM pg_roles WHERE rolname='prober'")).trim() === "1",
  );

  await t.step("SELECT 1 passes on primary and replica", async () => {
    for (const pg of [primary, replica]) {
      const r = await probePostgres(at(pg), spec({}));
      assert.equal(r.ok, true, r.reason);
      assert.equal(r.reason, "query returned 1");
    }
  });

  const writable = spec({ query: "SELECT NOT pg_is_in_recovery()" });
  await t.step("NOT pg_is_in_recovery(): primary passes, replica fails", async () => {
    const p = await probePostgres(at(primary), writable);
    assert.equal(p.ok, true, p.reason);
    const r = await probePostgres(at(replica), writable);
    assert.equal(r.ok, false);
    assert.equal(r.reason, "query returned false");
    assert.equal(r.timedOut, undefined);
  });

  await t.step("verdicts of different value types", async () => {
    const cases: [string, boolean, RegExp][] = [
      ["SELECT 't'::text", true, /"t"/],
      ["SELECT 5::bigint", true, /"5"/],
      ["SELECT 0", false, /returned 0$/],
      ["SELECT NULL::int", false, /NULL/],
      ["SELECT 1 WHERE false", false, /no rows/],
      ["SELECT true, false", true, /true/],
    ];
    for (const [query, ok, reason] of cases) {
      const r = await probePostgres(at(primary), spec({ query }));
      assert.equal(r.ok, ok, `${query}: ${r.reason}`);
      assert.match(r.reason, reason, query);
    }
  });

  await t.step("wrong password, missing database, query error", async () => {
    const wrongPw = await probePostgres(
      at(primary),
      spec({ credentials: { user: "prober", password: "nope" } }),
    );
    assert.equal(wrongPw.ok, false);
    assert.match(wrongPw.reason, /password authentication failed/);
    assert.equal(wrongPw.timedOut, undefined);
    const noDb = await probePostgres(at(primary), spec({ dbName: "missing" }));
    assert.equal(noDb.ok, false);
    assert.equal(noDb.reason, 'authentication: database "missing" does not exist');
    const bad = await probePostgres(at(primary), spec({ query: "SELECT * FROM nowhere" }));
    assert.equal(bad.ok, false);
    assert.equal(bad.reason, 'query: relation "nowhere" does not exist');
    const syntax = await probePostgres(at(primary), spec({ query: "SELEC 1" }));
    assert.equal(syntax.ok, false);
    assert.match(syntax.reason, /syntax error/);
  });

  await t.step("refused port fails fast; TLS requested from a plain server fails", async () => {
    const refused = await probePostgres({ ip: "127.0.0.1", port: freePort() }, spec({}));
    assert.equal(refused.ok, false);
    // The same words as the TCP and HTTP probes for the same failure.
    assert.equal(refused.reason, "connect: Connection refused");
    assert.equal(refused.timedOut, undefined);
    assert.ok(refused.durationMs < 1000, `refused took ${refused.durationMs} ms`);
    const noTls = await probePostgres(at(primary), spec(withTls({ mode: "require" })));
    assert.equal(noTls.ok, false);
    assert.match(noTls.reason, /does not accept TLS/);
  });

  await t.step("a slow query is bounded by the timeout and cancelled server-side", async () => {
    const t0 = performance.now();
    const r = await probePostgres(at(primary), spec({ query: "SELECT pg_sleep(30) IS NULL" }, 1));
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.reason, "timeout after 1s (query)");
    assert.equal(r.timedOut, true);
    assert.ok(took < 1400, `took ${took} ms`);
    await waitFor(
      "the sleeping backend to go away",
      async () =>
        (await primary.psql(
          "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
        )).trim() === "0",
      5000,
    );
  });

  await t.step("every probe closed its connection", () => assertNoProbeSessions(primary));

  await t.step("after promotion the replica passes NOT pg_is_in_recovery()", async () => {
    await replica.promote();
    const r = await probePostgres(at(replica), writable);
    assert.equal(r.ok, true, r.reason);
  });
  guard.assertClean();
});

Deno.test("postgres: a listener that accepts and never speaks costs the timeout", async () => {
  using guard = guardProcess();
  await using silent = await startSilentListener();
  for (const tls of [undefined, { mode: "verify-full" } as const]) {
    const t0 = performance.now();
    const r = await probePostgres({ ip: "127.0.0.1", port: silent.port }, spec(tls ? withTls(tls) : {}, 1));
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.match(r.reason, /^timeout after 1s \((authentication|TLS negotiation)\)$/);
    assert.equal(r.timedOut, true);
    assert.ok(took >= 990 && took < 1300, `took ${took} ms`);
  }
  guard.assertClean();
});

Deno.test("postgres: TLS modes against a TLS-only server", async (t) => {
  using guard = guardProcess();
  const pki = await makeTestPki(["db.example"], "certprober");
  await using pg = await startPostgres({
    tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert, certUsers: ["certprober"] },
  });
  await addProber(pg);
  await pg.psql("CREATE ROLE certprober LOGIN");

  const cases: [string, PostgresTls, boolean, RegExp?, string?][] = [
    ["disable is rejected by the server", { mode: "disable" }, false, /pg_hba.conf|no encryption/],
    ["require", { mode: "require" }, true],
    ["require ignores a wrong CA", { mode: "require", caCert: pki.otherCaCert }, true],
    ["verify-ca with the right CA", { mode: "verify-ca", caCert: pki.caCert }, true],
    [
      "verify-ca with a wrong CA",
      { mode: "verify-ca", caCert: pki.otherCaCert },
      false,
      /verify|certificate/i,
    ],
    ["verify-ca without CA (system roots)", { mode: "verify-ca" }, false, /verify|certificate/i],
    ["verify-full, IP SAN", { mode: "verify-full", caCert: pki.caCert }, true],
    ["verify-full, DNS name", { mode: "verify-full", caCert: pki.caCert, serverName: "db.example" }, true],
    [
      "verify-full, IP serverName",
      { mode: "verify-full", caCert: pki.caCert, serverName: "127.0.0.1" },
      true,
    ],
    [
      "verify-full, wrong name",
      { mode: "verify-full", caCert: pki.caCert, serverName: "other.example" },
      false,
      /altnames|match/i,
    ],
    [
      "verify-full, IP not in cert",
      { mode: "verify-full", caCert: pki.caCert, serverName: "10.9.9.9" },
      false,
      /altnames|match/i,
    ],
    [
      "verify-full with a wrong CA",
      { mode: "verify-full", caCert: pki.otherCaCert },
      false,
      /verify|certificate/i,
    ],
    ["garbage CA PEM", { mode: "verify-ca", caCert: "garbage" }, false],
    ["client cert without key", { mode: "require", clientCert: pki.clientCert }, false, /together/],
    [
      "client cert",
      { mode: "verify-full", caCert: pki.caCert, clientCert: pki.clientCert, clientKey: pki.clientKey },
      true,
      undefined,
      "certprober",
    ],
    [
      "cert user without client cert",
      { mode: "verify-full", caCert: pki.caCert },
      false,
      /certificate/i,
      "certprober",
    ],
    [
      "mismatched client key",
      { mode: "require", clientCert: pki.clientCert, clientKey: pki.serverKey },
      false,
      undefined,
      "certprober",
    ],
  ];
  for (const [name, tls, ok, reason, user] of cases) {
    await t.step(name, async () => {
      const r = await probePostgres(at(pg), spec(withTls(tls, user)));
      assert.equal(r.ok, ok, `${name}: ${r.reason}`);
      if (reason) assert.match(r.reason, reason);
    });
  }
  await t.step("every probe closed its connection", () => assertNoProbeSessions(pg));
  guard.assertClean();
});

Deno.test("postgres: hostile servers (instant close, garbage, fake TLS yes) fail cleanly", async () => {
  using guard = guardProcess();
  const garbage = "\x00\xffnot postgres at all".repeat(100);
  const servers = [
    await startSilentListener((s) => s.destroy()),
    await startSilentListener((s) => s.end(garbage)),
    // "S" followed by bytes in the same packet: they must not be fed into TLS (CVE-2021-23222 style).
    await startSilentListener((s) => s.once("data", () => s.write("S" + garbage))),
    await startSilentListener((s) => s.once("data", () => s.write("N"))),
  ];
  try {
    const specs = [
      spec({}, 1),
      spec({}, 1),
      spec(withTls({ mode: "require" }), 1),
      spec(withTls({ mode: "verify-ca" }), 1),
    ];
    for (const [i, srv] of servers.entries()) {
      const t0 = performance.now();
      const r = await probePostgres({ ip: "127.0.0.1", port: srv.port }, specs[i]);
      assert.equal(r.ok, false, `server ${i}: ${r.reason}`);
      assert.ok(performance.now() - t0 < 1300, `server ${i} took too long`);
      assert.equal(srv.accepted.count, 1, `server ${i}: the probe retried instead of failing`);
    }
  } finally {
    for (const srv of servers) await srv[Symbol.asyncDispose]();
  }
  guard.assertClean();
});

Deno.test("postgres: works with network and env permissions narrowed to POSTGRES_ENV_VARS", async () => {
  // A driver upgrade that reads one more PG* variable would fail every probe of a least-privilege agent.
  await using pg = await startPostgres();
  await pg.psql("CREATE ROLE prober LOGIN PASSWORD 's3cret'");
  const script = `import { probePostgres } from "./probes/postgres.ts";
    const r = await probePostgres({ ip: "127.0.0.1", port: ${pg.port} }, { mode: "PostgreSQL", timeoutSeconds: 3,
      successThreshold: 1, failureThreshold: 1, postgreSQL: { dbName: "postgres", query: "SELECT 1",
      credentials: { user: "prober", password: "s3cret" } } });
    console.log(JSON.stringify(r));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", `--allow-env=${POSTGRES_ENV_VARS.join(",")}`, "-"],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(r.ok, true, r.reason);
});
