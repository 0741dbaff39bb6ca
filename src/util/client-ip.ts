/**
 * The client's IP address: Cloudflare's CF-Connecting-IP, unless that address is a configured trusted proxy, in
 * which case X-Forwarded-For is walked from the right and the first address that is not a trusted proxy is the
 * client (the rightmost untrusted one: addresses further left were written by whoever sent the request).
 */

export interface Cidr {
  version: 4 | 6;
  bits: bigint;
  prefix: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText] = text.trim().split('/');
  const ip = parseIp(address ?? '');
  if (!ip) return undefined;
  const max = ip.version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) return undefined;
  return { version: ip.version, bits: ip.bits, prefix };
}

export function clientIp(headers: Headers, trusted: readonly Cidr[]): string {
  const peer = headers.get('cf-connecting-ip')?.trim() || 'unknown';
  if (!isTrusted(peer, trusted)) return peer;
  const forwarded = (headers.get('x-forwarded-for') ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const address = forwarded[i] ?? '';
    if (!isTrusted(address, trusted)) return address;
  }
  return forwarded[0] ?? peer;
}

function isTrusted(address: string, trusted: readonly Cidr[]): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return trusted.some((cidr) => {
    if (cidr.version !== ip.version) return false;
    const width = ip.version === 4 ? 32 : 128;
    const shift = BigInt(width - cidr.prefix);
    return ip.bits >> shift === cidr.bits >> shift;
  });
}

function parseIp(text: string): { version: 4 | 6; bits: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { version: 4, bits: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { version: 6, bits: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/**
 * The rate limiter's key for a client address: an IPv4 address as is, an IPv6 address by its network of
 * `ipv6PrefixLength` bits (a subscriber usually holds a whole /64, so per-address buckets would give one client
 * 2^64 of them). Anything unparseable is keyed as written.
 */
export function rateLimitKey(address: string, ipv6PrefixLength: number): string {
  const ip = parseIp(address);
  if (!ip || ip.version === 4) return address;
  const prefix = Math.min(Math.max(ipv6PrefixLength, 1), 128);
  const network = (ip.bits >> BigInt(128 - prefix)) << BigInt(128 - prefix);
  return `${network.toString(16).padStart(32, '0').replace(/(.{4})(?!$)/g, '$1:')}/${prefix}`;
}
