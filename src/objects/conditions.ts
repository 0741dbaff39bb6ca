/**
 * Conditional requests. Reads follow RFC 9110 section 13.2.2 as S3 applies it: If-Match, then
 * If-Unmodified-Since (only without If-Match), then If-None-Match, then If-Modified-Since (only without
 * If-None-Match). Writes honour If-None-Match: * and If-Match, checked again inside the transaction that records
 * the object so a concurrent writer cannot slip between the check and the write.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
 */
import { type RequirementFailure, type WriteRequirement, opaque, requirementFailure } from '../store/object-commit.ts';
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

/** A write condition as the store checks it under the key's lock (If-Match's list reduced to opaque tags). */
export function writeRequirement(condition: WriteCondition): WriteRequirement {
  const tags = condition.ifMatch?.split(',').map((t) => t.trim());
  return {
    absent: condition.mustNotExist,
    ...(tags === undefined ? {} : { etagIn: tags.includes('*') ? '*' : tags.map(opaque) }),
  };
}

/** Checks a write condition against the current object (undefined when the key does not exist). */
export function checkWriteCondition(condition: WriteCondition, current: { etag: string } | undefined): void {
  const failure = requirementFailure(writeRequirement(condition), current);
  if (failure) throw requirementRefusal(failure);
}

/** What the client is told when its write condition did not hold. */
export function requirementRefusal(failure: RequirementFailure): Refusal {
  if (failure === 'exists') return preconditionFailed('If-None-Match');
  if (failure === 'missing') return new Refusal('no-such-object', 'The specified key does not exist (If-Match needs an existing object).');
  return preconditionFailed('If-Match');
}

function preconditionFailed(condition: string): Refusal {
  return new Refusal('precondition-failed', 'At least one of the pre-conditions you specified did not hold', {
    details: { Condition: condition },
  });
}

/** `*`, or a comma-separated list of (possibly weak) entity tags, compared by their opaque value. */
function etagListMatches(list: string, etag: string): boolean {
  const wanted = opaque(etag);
  return list.split(',').some((item) => {
    const tag = item.trim();
    return tag === '*' || opaque(tag) === wanted;
  });
}

/** An entity tag's opaque value: without the weak prefix and the quotes (clients send part ETags either way). */
export { opaque as opaqueEtag };

function httpDate(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Last-Modified has one-second resolution; compare at that resolution. */
function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}
