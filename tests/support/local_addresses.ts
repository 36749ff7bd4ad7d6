/**
 * Host-local "pod" addresses for tests that run real servers in-process: a port-less bridge interface holding
 * /32 (IPv4) and /128 (IPv6) addresses from documentation/benchmark ranges.
 *
 * Why not loopback: the apiserver rejects EndpointSlice addresses in 127.0.0.0/8, ::1 and link-local ranges,
 * so loopback pod IPs can never be published. Addresses on an interface of this host are local: traffic to
 * them never leaves the machine (the kernel delivers it through `lo`), like loopback, but they are valid
 * endpoint addresses. IPv4 comes from 198.18.0.0/15 (RFC 2544, benchmarking), IPv6 from a ULA prefix; a random
 * block per interface keeps concurrent test processes apart. Needs root and iproute2.
 *
 * @module
 */
import { canonicalIp } from "../../probes/ip.ts";

/** A set of local addresses; `dispose()` deletes the interface and with it every address. */
export interface LocalAddresses extends AsyncDisposable {
  /** Interface name. */
  readonly name: string;
  /** IPv4 address number `i` (0-based) of this set. */
  v4(i: number): string;
  /** IPv6 address number `i` of this set. */
  v6(i: number): string;
  /** Deletes the interface. Idempotent. */
  dispose(): Promise<void>;
}

async function ip(args: string[], stdin?: string): Promise<void> {
  const child = new Deno.Command("ip", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** 198.18.0.0/15 as 32 blocks of 16 × 256 addresses; a set starts at a block and skips its first 256. */
const BLOCK_SIZE = 4096;
const BLOCKS = 32;
const SKIPPED = 256;

/** Most IPv4 addresses one set can hold (fleet benchmarks need ten thousand). */
export const MAX_LOCAL_ADDRESSES = BLOCKS * BLOCK_SIZE - SKIPPED;

/**
 * Creates an interface with `count` IPv4 addresses (198.18.B.1 … from a random /20 block B on, spanning as many
 * consecutive blocks as `count` needs) and `count6` IPv6 addresses (fd5a:5748:B::1 …), all local.
 */
export async function createLocalAddresses(count: number, count6 = 0): Promise<LocalAddresses> {
  if (count > MAX_LOCAL_ADDRESSES) throw new Error(`at most ${MAX_LOCAL_ADDRESSES} IPv4 addresses per set`);
  // A large set spans several blocks; the random start is drawn among the blocks where it still fits.
  const span = Math.ceil((count + SKIPPED) / BLOCK_SIZE);
  const block = Math.floor(Math.random() * (BLOCKS - span + 1));
  const name = `swha${crypto.randomUUID().slice(0, 8)}`;
  const v4 = (i: number) => {
    const n = block * BLOCK_SIZE + SKIPPED + i; // skip .0.x of the block
    return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
  };
  // Canonical text (block 0 is fd5a:5748::1, not fd5a:5748:0::1): tests compare it with published addresses.
  const v6 = (i: number) => canonicalIp(`fd5a:5748:${block.toString(16)}::${(i + 1).toString(16)}`)!;
  await ip(["link", "add", name, "type", "bridge"]);
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await ip(["link", "del", name]).catch(() => {});
  };
  try {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`addr add ${v4(i)}/32 dev ${name}`);
    for (let i = 0; i < count6; i++) lines.push(`addr add ${v6(i)}/128 dev ${name} nodad`);
    lines.push(`link set ${name} up`);
    await ip(["-batch", "-"], lines.join("\n") + "\n");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { name, v4, v6, dispose, [Symbol.asyncDispose]: dispose };
}
