import { describe, expect, it } from 'vitest';
import { clientIp, parseCidr, rateLimitKey } from '../../src/util/client-ip.ts';
import { takeToken } from '../../src/runtime/token-bucket.ts';

describe('token bucket', () => {
  it('allows a burst, then refills at the rate, and says how long to wait', () => {
    let bucket;
    for (let i = 0; i < 3; i++) {
      const r = takeToken(bucket, 2, 3, 0);
      expect(r.allowed).toBe(true);
      bucket = r.bucket;
    }
    const refused = takeToken(bucket, 2, 3, 0);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(takeToken(refused.bucket, 2, 3, 500).allowed).toBe(true);
    expect(takeToken(undefined, 0.1, 1, 0).bucket.tokens).toBe(0);
    expect(takeToken({ tokens: 0, updatedAt: 0 }, 0.1, 1, 0).retryAfterSeconds).toBe(10);
  });
});

describe('client IP', () => {
  const trusted = ['10.0.0.0/8', '2001:db8::/32'].map((c) => parseCidr(c)!);
  const headers = (h: Record<string, string>) => new Headers(h);

  it('is CF-Connecting-IP unless that is a trusted proxy', () => {
    expect(clientIp(headers({ 'cf-connecting-ip': '203.0.113.9', 'x-forwarded-for': '1.2.3.4' }), trusted)).toBe('203.0.113.9');
    expect(clientIp(headers({}), trusted)).toBe('unknown');
  });

  it('behind trusted proxies, is the rightmost untrusted X-Forwarded-For address (prepending cannot evade it)', () => {
    expect(clientIp(headers({ 'cf-connecting-ip': '10.1.2.3', 'x-forwarded-for': '1.2.3.4, 203.0.113.5, 10.9.9.9' }), trusted)).toBe('203.0.113.5');
    expect(clientIp(headers({ 'cf-connecting-ip': '2001:db8::1', 'x-forwarded-for': '2001:db8:0:0:0:0:0:2, 198.51.100.7' }), trusted)).toBe('198.51.100.7');
    expect(clientIp(headers({ 'cf-connecting-ip': '10.1.2.3', 'x-forwarded-for': '10.0.0.1' }), trusted)).toBe('10.0.0.1');
  });

  it('parses IPv4 and IPv6 CIDRs and refuses anything else', () => {
    expect(parseCidr('192.168.0.0/16')).toMatchObject({ version: 4, prefix: 16 });
    expect(parseCidr('::1')).toMatchObject({ version: 6, prefix: 128 });
    expect(parseCidr('fe80::/10')).toMatchObject({ version: 6, prefix: 10 });
    for (const bad of ['300.1.1.1', '10.0.0.0/33', 'example.com', '1::2::3', '10.0.0.0/x', '']) expect(parseCidr(bad), bad).toBeUndefined();
  });
});

describe('rate limit key', () => {
  it('keys IPv6 clients by their /64 (or the configured prefix), IPv4 clients by address', () => {
    const a = rateLimitKey('2001:db8:1:2:aaaa::1', 64);
    expect(a).toBe('2001:0db8:0001:0002:0000:0000:0000:0000/64');
    expect(rateLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff', 64)).toBe(a);
    expect(rateLimitKey('2001:db8:1:3::1', 64)).not.toBe(a);
    expect(rateLimitKey('2001:db8:1:3::1', 48)).toBe(rateLimitKey('2001:db8:1:2::1', 48));
    expect(rateLimitKey('2001:db8::1', 128)).not.toBe(rateLimitKey('2001:db8::2', 128));
    expect(rateLimitKey('203.0.113.9', 64)).toBe('203.0.113.9');
    expect(rateLimitKey('unknown', 64)).toBe('unknown');
  });
});
