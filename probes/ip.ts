/**
 * IP literal recognition without `node:net`: the TCP probe path must not load Deno's Node compatibility layer,
 * which costs the agent ~4 MiB of resident memory (bench/memory.ts) when TCP is its only probe mode.
 *
 * @module
 */

// The same grammar as Node's `net.isIP` (lib/internal/net.js, MIT): no leading zeros in IPv4 octets, IPv6 with
// `::` compression, an embedded IPv4 tail and an optional zone id.
const V4_SEG = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const V4 = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const V6_SEG = "(?:[0-9a-fA-F]{1,4})";
const IPV4 = new RegExp(`^${V4}$`);
const IPV6 = new RegExp(
  "^(?:" +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4}|(?::${V6_SEG}){1,7}|:))` +
    ")(?:%[0-9a-zA-Z-.:]{1,})?$",
);

/** 4 for an IPv4 literal, 6 for an IPv6 literal, 0 otherwise: the contract of Node's `net.isIP`. */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (IPV4.test(text)) return 4;
  if (IPV6.test(text)) return 6;
  return 0;
}

/**
 * The canonical text of an IP literal, as the apiserver demands it in EndpointSlice addresses (Go's
 * `netip.Addr.String()`: IPv4 dotted decimal; IPv6 lower-case, RFC 5952 `::` compression, IPv4-mapped
 * addresses as `::ffff:a.b.c.d`); undefined for anything else, zoned IPv6 included. IPv4 octets with leading
 * zeros are read as decimal, as Kubernetes' legacy parser does. Pod status accepts some non-canonical forms
 * (`fd5a:5748:0::1`) that an EndpointSlice refuses, so every address is canonicalised before it is published.
 */
export function canonicalIp(text: string): string | undefined {
  if (IPV4.test(text)) return text; // the common case, already canonical (no leading zeros)
  if (text.includes(":")) {
    const groups = ipv6Groups(text);
    return groups && formatIpv6(groups);
  }
  const octets = ipv4Octets(text);
  return octets && octets.join(".");
}

function ipv4Octets(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => /^[0-9]{1,3}$/.test(p) ? Number(p) : NaN);
  return octets.every((o) => o <= 255) ? octets : undefined; // NaN fails the comparison
}

/** The eight 16-bit groups of an IPv6 literal (no zone), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = ipv4Octets(part);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : undefined;
}

function formatIpv6(g: number[]): string {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${g[6] >> 8}.${g[6] & 0xff}.${g[7] >> 8}.${g[7] & 0xff}`;
  }
  // The first longest run of at least two zero groups becomes "::" (RFC 5952 §4.2).
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best.at < 0) return hex(g);
  return `${hex(g.slice(0, best.at))}::${hex(g.slice(best.at + best.len))}`;
}
