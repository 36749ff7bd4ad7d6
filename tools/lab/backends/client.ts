/**
 * Lab client, run inside a node namespace: `http URL` prints the body; `smtp HOST PORT` prints the banner.
 * Exits non-zero (with the reason on stderr) when the request fails, within a 3 s bound.
 */
const [kind, ...args] = Deno.args;
const signal = AbortSignal.timeout(3_000);

async function smtpBanner(hostname: string, port: number): Promise<string> {
  const conn = await Deno.connect({ hostname, port, signal });
  try {
    const buffer = new Uint8Array(512);
    const n = await conn.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
  } finally {
    conn.close();
  }
}

try {
  if (kind === "http") {
    const response = await fetch(args[0], { signal });
    const body = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    console.log(body.trim());
  } else if (kind === "smtp") {
    console.log(await smtpBanner(args[0], Number(args[1])));
  } else {
    throw new Error("usage: client.ts http URL | smtp HOST PORT");
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
