/**
 * The configuration of lifecycle expiration and of the stale multipart upload GC (src/jobs/lifecycle.ts,
 * src/jobs/multipart-gc.ts). Rules that span the document (a rule's bucket exists, no rule twice) are in validate.ts.
 */
import * as v from 'valibot';
import { type Field, count, describe, duration, optionalText, text } from './fields.ts';
import { key, optionalList, section } from './schema-kit.ts';

/** Days are whole and at least one; at most a century, which also keeps `days x 24 h` far from overflowing a date. */
const MAX_EXPIRATION_DAYS = 36_500;

function expirationDays() {
  const message = (issue: v.BaseIssue<unknown>) =>
    issue.input === null || issue.input === undefined ? 'is required' : `must be a whole number of days from 1 to ${MAX_EXPIRATION_DAYS}, got ${describe(issue.input)}`;
  const schema = v.pipe(v.number(message), v.safeInteger(message), v.minValue(1, message), v.maxValue(MAX_EXPIRATION_DAYS, message));
  return { schema, required: 'is required' } satisfies Field;
}

const rule = {
  bucket: key('bucket', text(), { meaning: 'the virtual bucket (as in `buckets[]`) whose objects the rule expires' }),
  prefix: key('prefix', optionalText(''), {
    defaultText: '`""` (the whole bucket)',
    meaning: "the start of the client's keys inside that bucket (never the bucket name); matched byte for byte, case-sensitive",
  }),
  expiration_days: key('expirationDays', expirationDays(), {
    meaning: "an object is deleted once its last write by a client (Last-Modified) is this many days old (1-36500); moves, replicas and encryption jobs do not restart the clock",
  }),
};

function showRules(rules: readonly { bucket: string; prefix: string; expirationDays: number }[]): string {
  return rules.map((r) => `${r.bucket}/${r.prefix}* after ${r.expirationDays}d`).join('; ');
}

export const lifecycle = section({
  rules: key('rules', optionalList(rule, 'bucket', showRules), {
    reload: 'reloadable',
    defaultText: '`[]` (none)',
    meaning: 'what to expire; one rule per (bucket, prefix). Where rules of one bucket overlap, the shortest expiration wins',
  }),
  batch_size: key('batchSize', count(100, 1, { value: 10_000 }), {
    reload: 'reloadable',
    meaning: 'objects each rule deletes per run at most (1-10000); a rule with more expired objects continues on the next minute\'s tick',
  }),
});

export const cleanupQueue = section({
  multipart_stale_timeout: key('multipartStaleTimeoutMs', duration('24h', '1h'), {
    reload: 'reloadable',
    meaning: 'a multipart upload started longer ago than this (at least `1h`) is aborted by the hourly GC, its parts deleted from the backend',
  }),
});
