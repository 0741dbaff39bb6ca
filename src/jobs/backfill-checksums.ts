/**
 * admin backfill-checksums: one page of objects that have no content digest yet (written before migration 0010, or
 * completed from a part copied server-side), in key order after the caller's cursor (keyset: a page never skips
 * rows, however many were filled before it). For each, one copy is read in full through the read path (opened
 * when sealed); its bytes are checked against what the record already vouches for (the size, the MD5 of a plain
 * ETag, each part's MD5 ETag) so a damaged copy never becomes the reference, and the digest (composite, with the
 * parts' digests, for a multipart object) is recorded only while the object is still that version without a
 * digest (compare-and-swap). A page holds the `backfill-checksums` lease; pages are idempotent.
 */
import { opaqueEtag } from '../objects/conditions.ts';
import { countCheck, digestCopy } from '../objects/copy-integrity.ts';
import type { Services } from '../services/services.ts';
import { type VersionRecord, objectsWithoutDigest, recordDigest, versionParts } from '../store/integrity.ts';
import { acquireLease, freeLease, releaseLease } from '../store/leases.ts';
import type { ObjectLocationRow } from '../store/schema.ts';

export const BACKFILL_JOB = 'backfill-checksums';
const LEASE_MS = 15 * 60_000;

export interface BackfillPage {
  processed: number;
  filled: number;
  /** Replaced or deleted meanwhile, or already filled by someone else. */
  skipped: number;
  /** No copy could be read, or none matched its record. */
  failed: number;
  /** Where the next page starts; null when this was the last. */
  next: { bucket: string; key: string } | null;
}

export type BackfillResult = ({ status: 'ok' } & BackfillPage) | { status: 'busy'; reason: string };

export async function backfillPage(services: Services, after: { bucket: string; key: string } | undefined, batchSize: number): Promise<BackfillResult> {
  const db = services.db();
  const holder = `admin page ${crypto.randomUUID().slice(0, 8)}`;
  const now = new Date(services.now());
  if (!(await acquireLease(db, BACKFILL_JOB, holder, LEASE_MS, now))) return { status: 'busy', reason: 'another backfill-checksums page is running' };
  try {
    const page = await objectsWithoutDigest(db, after, batchSize);
    const outcomes: Outcome[] = [];
    for (const { object, locations } of page) outcomes.push(await backfillObject(services, object, locations));
    const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
    const last = page.at(-1)?.object;
    const result: BackfillPage = {
      processed: page.length,
      filled: count('filled'),
      skipped: count('skipped'),
      failed: count('failed'),
      next: page.length === batchSize && last ? { bucket: last.bucket, key: last.key } : null,
    };
    await releaseLease(db, BACKFILL_JOB, holder, {
      lastRunAt: now,
      lastSettings: '',
      cursor: result.next,
      more: false,
      add: { processed: result.processed, filled: result.filled, skipped: result.skipped, failed: result.failed },
    });
    return { status: 'ok', ...result };
  } catch (err) {
    await freeLease(db, BACKFILL_JOB, holder).catch(() => {});
    throw err;
  }
}

type Outcome = 'filled' | 'skipped' | 'failed';

async function backfillObject(services: Services, object: VersionRecord, locations: readonly ObjectLocationRow[]): Promise<Outcome> {
  const parts = await versionParts(services.db(), object);
  const configured = new Set(services.config.backends.map((b) => b.name));
  const partEtags = parts.length > 0 ? parts.map((p) => opaqueEtag(p.etag)) : undefined;
  const fields = { bucket: object.bucket, key: object.key, version: object.version };
  for (const location of locations.filter((l) => configured.has(l.backendName))) {
    const read = await digestCopy(services, object, location, parts.length > 0 ? parts.map((p) => p.size) : undefined, true);
    if (!read.ok) {
      services.log.warn('backfill could not read a copy', { ...fields, backend: location.backendName, error: read.error });
      continue;
    }
    const vouched = read.digest.bytes === object.size && md5Matches(object.etag, partEtags, read.md5);
    countCheck(services, 'backfill', vouched);
    if (!vouched) {
      services.log.error('backfill found a copy that does not match its record (size or MD5); trying another', { ...fields, backend: location.backendName });
      continue;
    }
    const digests = read.digest.parts ?? [];
    const partDigests = parts.flatMap((p, i) => (digests[i] === undefined ? [] : [{ partNumber: p.partNumber, sha256: digests[i] }]));
    return (await recordDigest(services.db(), object, read.digest.digest, partDigests)) ? 'filled' : 'skipped';
  }
  return locations.length === 0 ? 'skipped' : 'failed';
}

/** The copy's MD5s against the ETags: each part's for a multipart object, else a plain ETag's (a copy of a multipart object has neither to check). */
function md5Matches(etag: string, partEtags: readonly string[] | undefined, md5: readonly string[] | undefined): boolean {
  if (!md5) return false;
  if (partEtags) return partEtags.length === md5.length && partEtags.every((e, i) => e === md5[i]);
  const plain = /^"?([0-9a-f]{32})"?$/.exec(etag)?.[1];
  return plain === undefined || plain === md5[0];
}
