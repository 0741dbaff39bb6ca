/**
 * `admin sync`: adopts objects a backend holds that the database does not record, e.g. after restoring a database
 * backup. Copies in the orchestrator's layout for the named bucket are recorded under their own key and version;
 * with `adoptForeign`, objects something else wrote into the backend's bucket are recorded as keys of the named
 * bucket under their own names (the bytes stay where they are). Never imported: copies of another bucket, sealed
 * copies (their data key was only in the database), in-flight multipart uploads, garbage queued for deletion,
 * anything younger than the safety age, and older versions of a key next to a newer one. Each import is recorded
 * only while the key has no record and counts against the backend's quota. A call works through pages for a
 * bounded time and says where to go on; asking again from there is idempotent.
 */
import { describeError } from '../backends/client.ts';
import { looksSealed } from '../crypto/envelope-format.ts';
import { escapeDotSegments } from '../objects/physical-key.ts';
import type { Services } from '../services/services.ts';
import { importCopy, recordedObjects } from '../store/reconcile.ts';
import { type Classified, comparePage } from './backend-listing.ts';

const PAGE_SIZE = 1000;

export interface SyncInput {
  backend: string;
  bucket: string;
  /** The client's key prefix inside the bucket (for foreign objects, the prefix of their names). */
  prefix: string;
  dryRun: boolean;
  adoptForeign: boolean;
  /** Objects younger than this are left alone: they may be writes whose record is not committed yet. */
  minAgeMs: number;
  /** Where to go on (the `next` of the last answer). */
  after: string | undefined;
  /** Stop starting pages after this time (ms since the epoch). */
  deadline: number;
}

export interface SyncReport {
  listed: number;
  imported: number;
  bytes: number;
  failed: number;
  /** Objects not imported, by reason. */
  skipped: Record<string, number>;
  /** Where the next call goes on, or null when the listing is done. */
  next: string | null;
  errors: string[];
}

export async function syncPages(services: Services, input: SyncInput): Promise<SyncReport> {
  const report: SyncReport = { listed: 0, imported: 0, bytes: 0, failed: 0, skipped: {}, next: null, errors: [] };
  const skip = (reason: string) => (report.skipped[reason] = (report.skipped[reason] ?? 0) + 1);
  // Layout copies of the bucket live under `<bucket>/`; foreign objects anywhere, under the prefix as written.
  const listingPrefix = input.adoptForeign ? input.prefix : `${input.bucket}/${escapeDotSegments(input.prefix)}`;
  let after = input.after;
  do {
    const page = await comparePage(services, { backend: input.backend, prefix: listingPrefix, after, pageSize: PAGE_SIZE, minAgeMs: input.minAgeMs, listedAt: services.now() });
    report.listed += page.classified.length;
    const candidates = newestPerKey(page.classified, input, skip);
    const recorded = await recordedObjects(services.db(), candidates.map((c) => ({ bucket: input.bucket, key: c.key })));
    for (const candidate of candidates) {
      if (recorded.has(`${input.bucket}\n${candidate.key}`)) {
        skip('already-recorded');
        continue;
      }
      const outcome = await importOne(services, input, candidate);
      if (outcome === 'imported') {
        report.imported++;
        report.bytes += candidate.object.size;
      } else if (outcome.startsWith('error:')) {
        report.failed++;
        if (report.errors.length < 10) report.errors.push(outcome.slice('error:'.length));
      } else skip(outcome);
    }
    after = page.next;
  } while (after !== undefined && services.now() < input.deadline);
  report.next = after ?? null;
  return report;
}

interface Candidate extends Classified {
  key: string;
  version: string;
}

/** The unrecorded objects the call may import, one per client key (its newest version); the rest counted as skipped. */
function newestPerKey(classified: readonly Classified[], input: SyncInput, skip: (reason: string) => void): Candidate[] {
  const byKey = new Map<string, Candidate>();
  for (const c of classified) {
    if (c.verdict !== 'unrecorded') {
      skip(c.verdict);
      continue;
    }
    let candidate: Candidate;
    if (c.kind.layout) {
      if (c.kind.bucket !== input.bucket) {
        skip('another-bucket');
        continue;
      }
      if (c.kind.key === undefined) {
        skip('hashed-long-key');
        continue;
      }
      if (!c.kind.key.startsWith(input.prefix)) {
        skip('outside-prefix');
        continue;
      }
      candidate = { ...c, key: c.kind.key, version: c.kind.version };
    } else {
      // A name no URL can carry (a "." or ".." segment) could never be read back.
      if (!input.adoptForeign || c.object.key.split('/').some((s) => s === '.' || s === '..')) {
        skip(input.adoptForeign ? 'unsafe-name' : 'foreign');
        continue;
      }
      candidate = { ...c, key: c.object.key, version: `adopted-${c.object.lastModified.toString(36)}` };
    }
    const seen = byKey.get(candidate.key);
    // Versions sort by write time; an older one next to a newer one is an overwrite's leftover.
    if (seen && seen.version >= candidate.version) skip('older-version');
    else {
      if (seen) skip('older-version');
      byKey.set(candidate.key, candidate);
    }
  }
  return [...byKey.values()];
}

async function importOne(services: Services, input: SyncInput, candidate: Candidate): Promise<string> {
  try {
    // A sealed copy's data key was only in the database: its bytes cannot be read back without it.
    if (candidate.object.size > 0) {
      const head = await services.backend(input.backend).getObject(candidate.object.key, { start: 0, end: 3 });
      const bytes = new Uint8Array(await head.arrayBuffer());
      if (looksSealed(bytes)) return 'sealed';
    }
    if (input.dryRun) return 'imported';
    return await importCopy(services.db(), {
      bucket: input.bucket,
      key: candidate.key,
      version: candidate.version,
      size: candidate.object.size,
      etag: candidate.object.etag,
      createdAt: new Date(candidate.object.lastModified),
      backendName: input.backend,
      physicalKey: candidate.object.key,
    }).then((outcome) => (outcome === 'exists' ? 'already-recorded' : outcome));
  } catch (err) {
    return `error:${candidate.object.key}: ${describeError(err)}`;
  }
}
