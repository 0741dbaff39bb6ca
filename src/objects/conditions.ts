/**
 * Conditional requests. Reads follow RFC 9110 section 13.2.2 as S3 applies it: If-Match, then
 * If-Unmodified-Since (only without If-Match), then If-None-Match, then If-Modified-Since (only without
 * If-None-Match). Writes honour If-None-Match: * and If-Match, checked again inside the transaction that records
 * the object so a concurrent writer cannot slip between the check and the write.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
 */
import { Refusal } from './refusal.ts';

export interface ConditionTarget {
  etag: string;
  lastModified: Date;
}

export type ReadOutcome = 'proceed' | 'not-modified';

/** Throws PreconditionFailed (412); returns 'not-modified' when the client's copy is current (304). */
export function evaluateReadConditions(headers: Headers, object: ConditionTarget): ReadOutcome {
  const ifMatch = headers.get('if-match');
  const ifNoneMatch = headers.get('if-none-match');
  const modified = wholeSeconds(object.lastModified);
  if (ifMatch !== null) {
    if (!etagListMatches(ifMatch, object.etag)) throw preconditionFailed('If-Match');
  } else {
    const since = httpDate(headers.get('if-unmodified-since'));
    if (since !== undefined && modified > since) throw preconditionFailed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== null) {
    if (etagListMatches(ifNoneMatch, object.etag)) return 'not-modified';
  } else {
    const since = httpDate(headers.get('if-modified-since'));
    if (since !== undefined && modified <= since) return 'not-modified';
  }
  return 'proceed';
}

export interface WriteCondition {
  /** If-None-Match: * : only create, never overwrite. */
  mustNotExist: boolean;
  /** If-Match: the current object's ETag must be one of these (or any, for *). */
  ifMatch: string | undefined;
}

export function writeCondition(headers: Headers): WriteCondition | undefined {
  const ifNoneMatch = headers.get('if-none-match');
  const ifMatch = headers.get('if-match') ?? undefined;
  if (ifNoneMatch !== null && ifNoneMatch.trim() !== '*') {
    throw new Refusal('unsupported-condition', 'If-None-Match on writes supports only "*"', { details: { Header: 'If-None-Match' } });
  }
  if (ifNoneMatch === null && ifMatch === undefined) return undefined;
  return { mustNotExist: ifNoneMatch !== null, ifMatch };
}

/** Checks a write condition against the current object (undefined when the key does not exist). */
export function checkWriteCondition(condition: WriteCondition, current: { etag: string } | undefined): void {
  if (condition.mustNotExist && current) throw preconditionFailed('If-None-Match');
  if (condition.ifMatch !== undefined) {
    if (!current) throw new Refusal('no-such-object', 'The specified key does not exist (If-Match needs an existing object).');
    if (!etagListMatches(condition.ifMatch, current.etag)) throw preconditionFailed('If-Match');
  }
}

function preconditionFailed(condition: string): Refusal {
  return new Refusal('precondition-failed', 'At least one of the pre-conditions you specified did not hold', {
    details: { Condition: condition },
  });
}

/** `*`, or a comma-separated list of (possibly weak) entity tags, compared by their opaque value. */
function etagListMatches(list: string, etag: string): boolean {
  const wanted = opaqueEtag(etag);
  return list.split(',').some((item) => {
    const tag = item.trim();
    return tag === '*' || opaqueEtag(tag) === wanted;
  });
}

/** An entity tag's opaque value: without the weak prefix and the quotes (clients send part ETags either way). */
export function opaqueEtag(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function httpDate(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Last-Modified has one-second resolution; compare at that resolution. */
function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}
