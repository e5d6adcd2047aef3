/**
 * Which IP addresses `fetch` may reach without the allow list naming them:
 * public unicast only. Loopback, private, link-local, metadata, multicast,
 * reserved and documentation ranges (IANA's special-purpose registries), and
 * IPv6 forms that carry one of those IPv4 addresses (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4), are "special": see net.ts for how an entry
 * naming such an address lets it through.
 *
 * Addresses are compared as bytes, never as strings: `127.1`, `::ffff:7f00:1`
 * and `0:0:0:0:0:ffff:127.0.0.1` are spelt differently and are all loopback.
 */
import { isIP } from "node:net";

/** 4 bytes (IPv4) or 16 (IPv6); undefined for anything that is not an address. A zone (`%eth0`) is ignored. */
function parseIp(text: string): Uint8Array | undefined {
  let s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return Uint8Array.from(s.split(".").map(Number));
  if (family === 6) return parseIpv6(s);
  return undefined;
}

/** `s` is a valid IPv6 address without a zone (isIP said so). */
function parseIpv6(s: string): Uint8Array {
  let text = s.toLowerCase();
  if (text.includes(".")) {
    // A dotted IPv4 tail (::ffff:1.2.3.4) is the last two groups.
    const colon = text.lastIndexOf(":");
    const [a, b, c, d] = text
      .slice(colon + 1)
      .split(".")
      .map(Number) as [number, number, number, number];
    text = `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const gap = text.indexOf("::");
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  let groups: string[];
  if (gap < 0) {
    groups = groupsOf(text);
  } else {
    const head = groupsOf(text.slice(0, gap));
    const tail = groupsOf(text.slice(gap + 2));
    groups = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

interface Range {
  bytes: Uint8Array;
  prefix: number;
  label: string;
  /** The range carries an IPv4 address at this byte offset: classify that one (labelled `<its label> (<label> form)`). */
  embedded?: number;
  /** Special whatever the embedded address is. */
  always?: boolean;
}

function range(cidr: string, label: string, extra: Partial<Range> = {}): Range {
  const [addr, bits] = cidr.split("/") as [string, string];
  return { bytes: parseIp(addr)!, prefix: Number(bits), label, ...extra };
}

function within(b: Uint8Array, r: Range): boolean {
  if (b.length !== r.bytes.length) return false;
  const whole = r.prefix >> 3;
  for (let i = 0; i < whole; i++) if (b[i] !== r.bytes[i]) return false;
  const rest = r.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[whole]! & mask) === (r.bytes[whole]! & mask);
}

// First match wins: narrower ranges before the ranges that contain them.
const IPV4: Range[] = [
  range("0.0.0.0/8", "unspecified"),
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "private (shared/CGNAT)"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.169.254/32", "cloud metadata"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "reserved"),
  range("192.0.2.0/24", "documentation"),
  range("192.88.99.0/24", "reserved (6to4 relay)"),
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation"),
  range("203.0.113.0/24", "documentation"),
  range("224.0.0.0/4", "multicast"),
  range("255.255.255.255/32", "broadcast"),
  range("240.0.0.0/4", "reserved"),
];

const IPV4_MAPPED = range("::ffff:0:0/96", "IPv4-mapped", { embedded: 12 });
const IPV6: Range[] = [
  range("::/128", "unspecified"),
  range("::1/128", "loopback"),
  IPV4_MAPPED,
  // Deprecated (RFC 4291): nothing public is reached this way.
  range("::/96", "IPv4-compatible", { embedded: 12, always: true }),
  range("::ffff:0:0:0/96", "reserved (IPv4-translated)"),
  range("64:ff9b::/96", "NAT64", { embedded: 12 }),
  range("64:ff9b:1::/48", "private (local-use NAT64)"),
  range("100::/64", "reserved (discard)"),
  range("2001:db8::/32", "documentation"),
  // Teredo, benchmarking, ORCHID and other protocol assignments.
  range("2001::/23", "reserved"),
  range("2002::/16", "6to4", { embedded: 2 }),
  range("3fff::/20", "documentation"),
  range("fd00:ec2::254/128", "cloud metadata"),
  range("fc00::/7", "private (unique local)"),
  range("fe80::/10", "link-local"),
  range("fec0::/10", "site-local"),
  range("ff00::/8", "multicast"),
];
const GLOBAL_UNICAST = range("2000::/3", "");

function classifyV4(b: Uint8Array): string | undefined {
  return IPV4.find((r) => within(b, r))?.label;
}

/**
 * Why `address` is not public (a short label such as "loopback" or
 * "private (IPv4-mapped form)"), or undefined when it is a public unicast
 * address. Anything that is not an IP address is special too.
 */
export function specialAddress(address: string): string | undefined {
  const b = parseIp(address);
  if (!b) return "not an IP address";
  if (b.length === 4) return classifyV4(b);
  const r = IPV6.find((x) => within(b, x));
  if (r?.embedded !== undefined) {
    const inner = classifyV4(b.subarray(r.embedded, r.embedded + 4));
    if (inner !== undefined) return `${inner} (${r.label} form)`;
    return r.always ? `reserved (${r.label})` : undefined;
  }
  if (r) return r.label;
  return within(b, GLOBAL_UNICAST) ? undefined : "reserved";
}

/**
 * One string per address, whatever its spelling; an IPv4-mapped IPv6
 * address is the IPv4 address it maps (the kernel connects to that one).
 */
export function addressKey(address: string): string | undefined {
  const b = parseIp(address);
  if (!b) return undefined;
  const mapped = b.length === 16 && within(b, IPV4_MAPPED);
  return Buffer.from(mapped ? b.subarray(12) : b).toString("hex");
}
