/**
 * Test harness for real PostgreSQL 15 servers: primaries, streaming replicas, promotion, TLS-only instances.
 *
 * Servers run as the `postgres` OS user (PostgreSQL refuses root) from temporary directories, listening on
 * 127.0.0.1 on free ports — or, with a {@link PgPlacement}, inside a network namespace on a given address (the
 * e2e lab's pods). Every instance is a disposable (`await using`), so it is stopped and its
 * directory removed even when the test fails; `stopAllPostgres()` is a last-resort sweep for runners.
 *
 * @module
 */

import { createCa, signedCert } from "../../tools/cluster/pki.ts";
import { freePort } from "../../tools/cluster/network.ts";
import { closingFds } from "../../tools/cluster/process.ts";
import { pgBinDir } from "../../tools/prerequisites.ts";

/** Where the PostgreSQL binaries live; override with SWH_PG_BIN. */
export const PG_BIN: string = pgBinDir((name) => Deno.env.get(name));
/** Password of the `postgres` superuser in every harness instance. */
export const SUPERUSER_PASSWORD = "superpass";

/** TLS material for a TLS-only instance, PEM text. */
export interface PgTlsFiles {
  /** Server certificate (chained to the CA the test trusts). */
  readonly cert: string;
  /** Server private key. */
  readonly key: string;
  /** CA whose client certificates the server accepts (enables `cert` authentication for `certUsers`). */
  readonly clientCa?: string;
  /** Roles that log in with a client certificate (CN = role name) instead of a password. */
  readonly certUsers?: readonly string[];
}

/** Where an instance runs when not on loopback: inside a network namespace, on that namespace's address. */
export interface PgPlacement {
  /** Network namespace the server (and the tools acting on it) run in. */
  readonly netns: string;
  /** Address to listen on and to advertise to replicas. */
  readonly host: string;
  /** Port (default a free one). */
  readonly port?: number;
  /** Client network allowed by pg_hba (password auth), e.g. the lab's CIDR. */
  readonly clientCidr: string;
}

/** Options of {@link startPostgres}. */
export interface PgOptions {
  /** Run in a network namespace on its address instead of 127.0.0.1. */
  readonly placement?: PgPlacement;
  /** Password of the `postgres` superuser (default {@link SUPERUSER_PASSWORD}). */
  readonly password?: string;
  /** TLS-only instance: plain connections are rejected by pg_hba. */
  readonly tls?: PgTlsFiles;
  /** max_connections (default 50). */
  readonly maxConnections?: number;
  /** Extra postgresql.conf lines. */
  readonly extraConfig?: readonly string[];
}

/** A running PostgreSQL instance owned by the test. */
export interface PgInstance extends AsyncDisposable {
  /** Listen address: 127.0.0.1, or the placement's address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Data directory (inside `root`). */
  readonly dataDir: string;
  /** The server's log file (pg_ctl -l). */
  readonly log: string;
  /** Runs SQL as the superuser over the Unix socket via psql; returns psql's unaligned, tuples-only output. */
  psql(sql: string, database?: string): Promise<string>;
  /** Creates a streaming replica of this instance (pg_basebackup -R), optionally placed elsewhere. */
  startReplica(placement?: PgPlacement): Promise<PgInstance>;
  /** Promotes a replica to primary and waits until it leaves recovery. */
  promote(): Promise<void>;
  /** Stops the server (immediate mode) and removes its directory; idempotent. */
  stop(): Promise<void>;
}

const live = new Set<PgInstance>();

/** Throws a clear error when the PostgreSQL binaries or the `postgres` OS user are missing. */
export async function requirePostgres(): Promise<{ uid: number; gid: number }> {
  for (const tool of ["initdb", "pg_ctl", "postgres", "psql", "pg_basebackup"]) {
    try {
      await Deno.stat(`${PG_BIN}/${tool}`);
    } catch {
      throw new Error(
        `PostgreSQL 15 binaries not found: ${PG_BIN}/${tool} is missing. ` +
          `Install them with \`apt-get install -y postgresql-15\` or set SWH_PG_BIN to their directory.`,
      );
    }
  }
  const ids = await run("id", ["-u", "postgres"], {}).catch(() => "");
  const gid = await run("id", ["-g", "postgres"], {}).catch(() => "");
  if (!ids.trim()) {
    throw new Error("OS user `postgres` is missing (it comes with the Debian postgresql package)");
  }
  return { uid: Number(ids.trim()), gid: Number(gid.trim()) };
}

async function run(
  cmd: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: Record<string, string>; cwd?: string; netns?: string },
): Promise<string> {
  // `ip netns exec` needs root, so inside a namespace the switch to the postgres user happens after it.
  const inNamespace = opts.netns !== undefined && opts.uid !== undefined;
  // pg_ctl leaves the server running: it must not keep descriptors this process inherited (see closingFds).
  const command = inNamespace
    ? ["ip", "netns", "exec", opts.netns!, "runuser", "-u", "postgres", "--", cmd, ...args]
    : [cmd, ...args];
  const out = await new Deno.Command("bash", {
    args: ["-c", closingFds('exec "$@"'), "bash", ...command],
    uid: inNamespace ? undefined : opts.uid,
    gid: inNamespace ? undefined : opts.gid,
    env: opts.env,
    cwd: opts.cwd ?? "/tmp",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text.decode(out.stderr).trim()}`);
  }
  return text.decode(out.stdout);
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await Deno.chown(path, uid, gid);
  for await (const entry of Deno.readDir(path)) {
    const p = `${path}/${entry.name}`;
    if (entry.isDirectory) await chownTree(p, uid, gid);
    else await Deno.chown(p, uid, gid);
  }
}

/** Starts a primary (or, with `replicaOf`, internal use) PostgreSQL 15 instance. */
export async function startPostgres(options: PgOptions = {}): Promise<PgInstance> {
  const owner = await requirePostgres();
  const root = await Deno.makeTempDir({ prefix: "swh-pg-" });
  const placement = options.placement;
  const host = placement?.host ?? "127.0.0.1";
  const clientCidr = placement?.clientCidr ?? "127.0.0.1/32";
  const password = options.password ?? SUPERUSER_PASSWORD;
  try {
    await Deno.chmod(root, 0o755);
    await Deno.chown(root, owner.uid, owner.gid);
    const dataDir = `${root}/data`;
    await Deno.writeTextFile(`${root}/pw`, `${password}\n`);
    await Deno.chown(`${root}/pw`, owner.uid, owner.gid);
    await run(`${PG_BIN}/initdb`, [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--pwfile",
      `${root}/pw`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ], { ...owner, cwd: root });
    const port = placement?.port ?? freePort();
    const conf = [
      `listen_addresses = '${host}'`,
      `port = ${port}`,
      `unix_socket_directories = '${root}'`,
      `max_connections = ${options.maxConnections ?? 50}`,
      "shared_buffers = 16MB",
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "wal_level = replica",
      "max_wal_senders = 5",
      "hot_standby = on",
      "password_encryption = 'scram-sha-256'",
      "log_min_messages = warning",
    ];
    const hba = ["local all all trust", "local replication all trust"];
    if (options.tls) {
      await writeOwned(`${dataDir}/server.crt`, options.tls.cert, owner, 0o644);
      await writeOwned(`${dataDir}/server.key`, options.tls.key, owner, 0o600);
      conf.push("ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
      if (options.tls.clientCa) {
        await writeOwned(`${dataDir}/client-ca.crt`, options.tls.clientCa, owner, 0o644);
        conf.push("ssl_ca_file = 'client-ca.crt'");
      }
      for (const user of options.tls.certUsers ?? []) hba.push(`hostssl all ${user} ${clientCidr} cert`);
      hba.push(`hostssl all all ${clientCidr} scram-sha-256`, "hostnossl all all 0.0.0.0/0 reject");
    } else {
      hba.push(
        `host all all ${clientCidr} scram-sha-256`,
        `host replication all ${clientCidr} scram-sha-256`,
      );
    }
    await Deno.writeTextFile(
      `${dataDir}/postgresql.conf`,
      [...conf, ...(options.extraConfig ?? [])].join("\n") + "\n",
      {
        append: true,
      },
    );
    await Deno.writeTextFile(`${dataDir}/pg_hba.conf`, hba.join("\n") + "\n");
    return await launch({ root, dataDir, port, owner, host, password, placement });
  } catch (error) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function writeOwned(path: string, text: string, owner: { uid: number; gid: number }, mode: number) {
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  await Deno.chown(path, owner.uid, owner.gid);
}

/** Where and as whom one instance runs. */
interface Launch {
  root: string;
  dataDir: string;
  port: number;
  owner: { uid: number; gid: number };
  host: string;
  password: string;
  placement?: PgPlacement;
}

async function launch(where: Launch): Promise<PgInstance> {
  const { root, dataDir, port, owner, host, password, placement } = where;
  const netns = placement?.netns;
  const pgctl = (args: string[]) =>
    run(`${PG_BIN}/pg_ctl`, ["-D", dataDir, ...args], { ...owner, cwd: root, netns });
  let stopped = false;
  const instance: PgInstance = {
    host,
    port,
    dataDir,
    log: `${root}/server.log`,
    psql: (sql, database = "postgres") =>
      run(`${PG_BIN}/psql`, [
        "-h",
        root,
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        database,
        "-XAtq",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
      ], {
        ...owner,
        cwd: root,
        netns,
      }),
    async startReplica(replicaPlacement?: PgPlacement) {
      const replicaRoot = await Deno.makeTempDir({ prefix: "swh-pg-replica-" });
      try {
        await Deno.chmod(replicaRoot, 0o755);
        await Deno.chown(replicaRoot, owner.uid, owner.gid);
        const replicaData = `${replicaRoot}/data`;
        await run(`${PG_BIN}/pg_basebackup`, [
          "-h",
          host,
          "-p",
          String(port),
          "-U",
          "postgres",
          "-D",
          replicaData,
          "-R",
          "-X",
          "stream",
          "--checkpoint=fast",
          "--no-sync",
        ], {
          ...owner,
          cwd: replicaRoot,
          env: { PGPASSWORD: password },
          netns: replicaPlacement?.netns,
        });
        const replicaPort = replicaPlacement?.port ?? freePort();
        const replicaHost = replicaPlacement?.host ?? "127.0.0.1";
        // Later lines win in postgresql.conf: move the copy to its own port and socket directory.
        await Deno.writeTextFile(
          `${replicaData}/postgresql.conf`,
          `port = ${replicaPort}\nunix_socket_directories = '${replicaRoot}'\nlisten_addresses = '${replicaHost}'\n`,
          {
            append: true,
          },
        );
        // postgresql.auto.conf (where -R wrote its conninfo) is read last: pin the password there explicitly.
        const conninfo = `host=${host} port=${port} user=postgres password=${password}`;
        await Deno.writeTextFile(
          `${replicaData}/postgresql.auto.conf`,
          `primary_conninfo = '${conninfo}'\n`,
          { append: true },
        );
        return await launch({
          root: replicaRoot,
          dataDir: replicaData,
          port: replicaPort,
          owner,
          host: replicaHost,
          password,
          placement: replicaPlacement,
        });
      } catch (error) {
        await Deno.remove(replicaRoot, { recursive: true }).catch(() => {});
        throw error;
      }
    },
    async promote() {
      await pgctl(["promote", "-w", "-t", "30"]);
      const deadline = Date.now() + 30_000;
      while ((await instance.psql("SELECT pg_is_in_recovery()")).trim() !== "f") {
        if (Date.now() > deadline) {
          throw new Error(`instance on port ${port} still in recovery after promotion`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(instance);
      await pgctl(["stop", "-m", "immediate", "-w", "-t", "30"]).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return instance.stop();
    },
  };
  await chownTree(root, owner.uid, owner.gid).catch(() => {});
  try {
    await pgctl(["start", "-w", "-t", "60", "-l", instance.log]);
  } catch (error) {
    const log = await Deno.readTextFile(`${root}/server.log`).catch(() => "");
    stopped = true;
    await pgctl(["stop", "-m", "immediate"]).catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw new Error(`PostgreSQL on port ${port} did not start: ${error}\n${log.slice(-2000)}`);
  }
  live.add(instance);
  return instance;
}

/** Stops every instance this process started and has not stopped yet. */
export async function stopAllPostgres(): Promise<void> {
  await Promise.all([...live].map((i) => i.stop()));
}

/** Files of a throw-away PKI made with openssl (X.509 v3, as rustls requires). */
export interface TestPki {
  /** CA certificate PEM. */
  readonly caCert: string;
  /** A second, unrelated CA (for "wrong CA" cases). */
  readonly otherCaCert: string;
  /** Server certificate PEM, SANs: DNS `sans` and IP 127.0.0.1 / ::1. */
  readonly serverCert: string;
  /** Server key PEM. */
  readonly serverKey: string;
  /** Client certificate with CN = `clientCn`. */
  readonly clientCert: string;
  /** Client key PEM. */
  readonly clientKey: string;
}

/**
 * Creates a CA, a server certificate (for `dnsNames` plus 127.0.0.1 and ::1) and a client certificate with common
 * name `clientCn`, using openssl in a temporary directory that is removed afterwards.
 */
export async function makeTestPki(dnsNames: readonly string[], clientCn = "probe"): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "swh-pki-" });
  try {
    await createCa(dir, "ca", "ca");
    await createCa(dir, "other-ca", "other-ca");
    const leaf = (name: string, cn: string, ext: string) => signedCert(dir, name, `/CN=${cn}`, ext);
    const sans = [...dnsNames.map((d) => `DNS:${d}`), "IP:127.0.0.1", "IP:::1"].join(",");
    await leaf(
      "server",
      dnsNames[0] ?? "server",
      `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
    );
    await leaf("client", clientCn, "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      caCert: await read("ca.crt"),
      otherCaCert: await read("other-ca.crt"),
      serverCert: await read("server.crt"),
      serverKey: await read("server.key"),
      clientCert: await read("client.crt"),
      clientKey: await read("client.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
