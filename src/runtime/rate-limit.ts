/**
 * Per-client-IP rate limiting across the fleet: each IP's token bucket lives in its own Durable Object. Only when
 * `rate_limit.enabled`; a limiter that cannot be reached lets the request through (a limiter must never be why
 * the store is down).
 */
import type { RateLimitConfig } from '../config/types.ts';
import { isolateCounters } from './services.ts';
import type { Logger } from '../observe/log.ts';
import type { Bindings } from './bindings.ts';
import { type Cidr, clientIp, parseCidr, rateLimitKey } from '../util/client-ip.ts';
import { thisIsolate } from './isolate.ts';

function trusted(list: readonly string[]): Cidr[] {
  const isolate = thisIsolate();
  if (isolate.trustedProxies?.list !== list) isolate.trustedProxies = { list, cidrs: list.flatMap((c) => parseCidr(c) ?? []) };
  return isolate.trustedProxies.cidrs;
}

/** Undefined to go ahead, or how many seconds the client should wait. */
export async function rateLimitWait(request: Request, settings: RateLimitConfig, bindings: Bindings, log: Logger): Promise<number | undefined> {
  if (!settings.enabled) return undefined;
  const ip = clientIp(request.headers, trusted(settings.trustedProxies));
  try {
    const verdict = await bindings.rateLimiter(`ip:${rateLimitKey(ip, settings.ipv6PrefixLength)}`).take(settings.requestsPerSec, settings.burst);
    if (verdict.allowed) return undefined;
    isolateCounters(bindings).add('rate_limit_rejections');
    log.info('rate limited', { client_ip: ip, retry_after: verdict.retryAfterSeconds });
    return verdict.retryAfterSeconds;
  } catch (err) {
    log.warn('rate limiter unreachable; request let through', { client_ip: ip, error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
