import { isIP } from 'node:net';

/**
 * Which addresses a webhook may connect to. Loopback, private (RFC 1918), carrier-grade NAT, link-local (the cloud
 * metadata service at 169.254.169.254 among them), unspecified, multicast, reserved and documentation ranges are
 * refused, in IPv4 and IPv6 form, including IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d,
 * compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). Decimal, octal and hex IPv4 spellings never reach
 * here as such: the URL parser and the resolver turn them into dotted quads first, and the check runs on the
 * address the socket actually connected to.
 */

const V4_BLOCKED: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

const V4_RANGES = V4_BLOCKED.map(([base, bits, why]) => ({ base: v4ToInt(base), bits, why }));

function inV4(n: number, base: number, bits: number): boolean {
  if (bits === 0) return true;
  const size = 2 ** (32 - bits);
  return Math.floor(n / size) === Math.floor(base / size);
}

function v4Reason(n: number): string | null {
  for (const r of V4_RANGES) if (inV4(n, r.base, r.bits)) return r.why;
  return null;
}

/** Eight 16-bit groups of an IPv6 address (with or without an embedded dotted IPv4 tail or zone id). */
export function parseV6(ip: string): number[] | null {
  let s = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const tail: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    if (isIP(m[2]) !== 4) return null;
    const n = v4ToInt(m[2]);
    tail.push(Math.floor(n / 65536), n % 65536);
    s = m[1].endsWith('::') ? m[1] : m[1].slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const part = (h: string) => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = part(halves[0]);
  const rest = halves.length === 2 ? part(halves[1]) : [];
  const given = head.length + rest.length + tail.length;
  if (head.some(Number.isNaN) || rest.some(Number.isNaN)) return null;
  if (halves.length === 1 && given !== 8) return null;
  if (halves.length === 2 && given > 7) return null;
  return [...head, ...new Array(8 - given).fill(0), ...rest, ...tail];
}

function v6Reason(g: number[]): string | null {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4At = (i: number) => g[i] * 65536 + g[i + 1];
  if (zeros(0, 8)) return 'unspecified (::)';
  if (zeros(0, 7) && g[7] === 1) return 'loopback (::1)';
  // IPv4-mapped ::ffff:a.b.c.d and the deprecated IPv4-compatible ::a.b.c.d: judged as the IPv4 address they carry.
  if (zeros(0, 5) && g[5] === 0xffff) return v4Reason(v4At(6)) ?? null;
  if (zeros(0, 6)) return v4Reason(v4At(6)) ?? 'IPv4-compatible';
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address that a gateway would connect to.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4Reason(v4At(6));
  if (g[0] === 0x2002) return v4Reason(g[1] * 65536 + g[2]);
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique local (fc00::/7)';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local (fe80::/10)';
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local (fec0::/10)';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast (ff00::/8)';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation (2001:db8::/32)';
  if (g[0] === 0x0100 && zeros(1, 4)) return 'discard (100::/64)';
  // AWS's IPv6 metadata endpoint fd00:ec2::254 is covered by fc00::/7.
  return null;
}

/** Why an IP address may not be a webhook target, or null when it may. Non-IP input is refused. */
export function forbiddenAddressReason(ip: string): string | null {
  const bare = ip.replace(/^\[|\]$/g, '');
  const kind = isIP(bare.replace(/%.*$/, ''));
  if (kind === 4) return v4Reason(v4ToInt(bare));
  if (kind === 6) {
    const g = parseV6(bare);
    return g ? v6Reason(g) : 'not a valid IPv6 address';
  }
  return 'not an IP address';
}

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

/** Throws TargetRefused unless `ip` may be connected to (always allowed when private targets are allowed). */
export function assertAllowedAddress(ip: string, host: string, allowPrivate: boolean): void {
  if (allowPrivate) return;
  const why = forbiddenAddressReason(ip);
  if (why) throw new TargetRefused(`${host} resolves to ${ip}, a ${why} address; webhooks may not target it (server config webhookAllowPrivateTargets)`);
}
