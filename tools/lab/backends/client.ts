/**
 * Lab client, run inside a node namespace (so kube-proxy's rules apply to it):
 *   http URL                         print the body (non-2xx is a failure)
 *   smtp HOST PORT                   print the server's greeting
 *   loop URL DURATION_MS INTERVAL_MS  request URL repeatedly; print a JSON summary of failures and gaps
 * One request is bounded by 3 s; a failure exits non-zero with the reason on stderr.
 */
const [kind, ...args] = Deno.args;
const REQUEST_TIMEOUT_MS = 3_000;

async function httpBody(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return body.trim();
}

async function smtpBanner(hostname: string, port: number): Promise<string> {
  const conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  try {
    const buffer = new Uint8Array(512);
    const n = await conn.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
  } finally {
    conn.close();
  }
}

/** Requests `url` every `intervalMs` for `durationMs`; the longest gap is the longest run of failures. */
async function loop(url: string, durationMs: number, intervalMs: number) {
  const end = Date.now() + durationMs;
  let ok = 0, failed = 0, failingSince: number | undefined, longestGapMs = 0;
  const errors = new Map<string, number>();
  while (Date.now() < end) {
    const started = Date.now();
    try {
      await httpBody(url);
      ok++;
      if (failingSince !== undefined) longestGapMs = Math.max(longestGapMs, started - failingSince);
      failingSince = undefined;
    } catch (error) {
      failed++;
      failingSince ??= started;
      const reason = error instanceof Error ? error.message : String(error);
      errors.set(reason, (errors.get(reason) ?? 0) + 1);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
  }
  if (failingSince !== undefined) longestGapMs = Math.max(longestGapMs, Date.now() - failingSince);
  return { ok, failed, longestGapMs, errors: Object.fromEntries(errors) };
}

try {
  if (kind === "http") console.log(await httpBody(args[0]));
  else if (kind === "smtp") console.log(await smtpBanner(args[0], Number(args[1])));
  else if (kind === "loop") {
    console.log(JSON.stringify(await loop(args[0], Number(args[1]), Number(args[2]))));
  } else throw new Error("usage: client.ts http URL | smtp HOST PORT | loop URL DURATION_MS INTERVAL_MS");
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
