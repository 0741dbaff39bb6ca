/**
 * The metadata schema. Sizes are bytes, times are timestamptz. Keys compare in byte order (COLLATE "C"), which is
 * the order S3 lists them in. See docs/storage-layout.md for how rows map to objects on the backends.
 */
import { sql } from 'drizzle-orm';
import type { CopyEncryption } from '../crypto/sealed-copy.ts';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';
export interface StoredChecksum {
  algorithm: string;
  value: string;
  type?: ChecksumType;
}

/** Text compared byte by byte, so ORDER BY and `>` match S3's UTF-8 binary key order. */
const byteOrderedText = customType<{ data: string }>({
  dataType: () => 'text COLLATE "C"',
});

const bytes = (name: string) => bigint(name, { mode: 'number' });
const moment = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One row per configured backend; the parent of every per-backend row. */
export const backendQuotas = pgTable('backend_quotas', {
  backendName: text('backend_name').primaryKey(),
  /** Sum of stored_size over this backend's object_locations. */
  bytesUsed: bytes('bytes_used').notNull().default(0),
  /** 0 means unlimited. Synced from the config's quota_bytes. */
  bytesLimit: bytes('bytes_limit').notNull().default(0),
  /** Bytes of copies waiting in the cleanup queue: not live, but still occupying the backend. */
  orphanBytes: bytes('orphan_bytes').notNull().default(0),
  updatedAt: moment('updated_at').notNull().defaultNow(),
});

/** One row per live client object: what HEAD and LIST answer without touching a backend. */
export const objects = pgTable(
  'objects',
  {
    bucket: text('bucket').notNull(),
    key: byteOrderedText('key').notNull(),
    /** Unique per write; part of every physical key, so an overwrite never clobbers the copy it replaces. */
    version: text('version').notNull(),
    /** The client's size (plaintext when encrypted). */
    size: bytes('size').notNull(),
    /** Quoted, as sent to clients: MD5 of the bytes, or S3's multipart form. */
    etag: text('etag').notNull(),
    contentType: text('content_type').notNull(),
    /** x-amz-meta-* without the prefix, names lower-cased. */
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    /** Standard content headers to replay on GET/HEAD (cache-control, content-disposition, ...). */
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    /**
     * The additional checksum (x-amz-checksum-*): verified from the client's bytes, or for a multipart upload made
     * with a checksum algorithm, computed from its parts' (type COMPOSITE, value with `-N`; or FULL_OBJECT); null
     * when there is none. Rows without a type are FULL_OBJECT.
     */
    checksum: jsonb('checksum').$type<StoredChecksum>(),
    /**
     * The multipart upload that created this version (its parts are in object_parts); null for PutObject and
     * CopyObject. A repeated CompleteMultipartUpload of that upload answers with this object while it is current.
     */
    uploadId: text('upload_id'),
    /**
     * Hex SHA-256 of the client's bytes (plaintext), the same for every copy of this version: what the scrub and
     * verify-on-read check each copy against. For an object made by CompleteMultipartUpload, S3's composite form:
     * SHA-256 over the parts' binary digests, then `-N` (N parts). Null when not known yet (written before
     * migration 0010, or a part copied server-side): `admin backfill-checksums` fills it.
     */
    contentSha256: text('content_sha256'),
    /** Last-Modified. */
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'objects_pk', columns: [t.bucket, t.key] })],
);

/**
 * The parts of an object made by CompleteMultipartUpload, as they were assembled: what GetObject/HeadObject with
 * partNumber and GetObjectAttributes answer. Replaced with the object in the transaction that records or deletes it.
 */
export const objectParts = pgTable(
  'object_parts',
  {
    bucket: text('bucket').notNull(),
    key: byteOrderedText('key').notNull(),
    /** The object version the parts belong to (objects.version); a read never uses parts of another version. */
    version: text('version').notNull(),
    /** The part number the client uploaded it under (ascending, not necessarily contiguous). */
    partNumber: integer('part_number').notNull(),
    /** Offset of the part's first byte in the object (client bytes). */
    firstByte: bytes('first_byte').notNull(),
    /** Client bytes of the part. */
    size: bytes('size').notNull(),
    /** Quoted MD5 of the part's bytes. */
    etag: text('etag').notNull(),
    /** The part's verified x-amz-checksum-*, if the client sent one. */
    checksum: jsonb('checksum').$type<{ algorithm: string; value: string }>(),
    /** Hex SHA-256 of the part's client bytes; null when not known (a part copied server-side, or older rows). */
    sha256: text('sha256'),
    /** base64 base nonce of the part's sealed segment, when the upload was encrypted. */
    nonce: text('nonce'),
  },
  (t) => [
    primaryKey({ name: 'object_parts_pk', columns: [t.bucket, t.key, t.partNumber] }),
    foreignKey({
      name: 'object_parts_object_fk',
      columns: [t.bucket, t.key],
      foreignColumns: [objects.bucket, objects.key],
    }).onDelete('cascade'),
  ],
);

/** One row per physical copy of an object on a backend. */
export const objectLocations = pgTable(
  'object_locations',
  {
    bucket: text('bucket').notNull(),
    key: byteOrderedText('key').notNull(),
    backendName: text('backend_name')
      .notNull()
      .references(() => backendQuotas.backendName),
    physicalKey: text('physical_key').notNull(),
    /** Bytes the copy occupies on the backend (ciphertext size when encrypted); counted in bytes_used. */
    storedSize: bytes('stored_size').notNull(),
    /** Null for a copy stored as the client sent it. */
    encryption: jsonb('encryption').$type<CopyEncryption>(),
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'object_locations_pk', columns: [t.bucket, t.key, t.backendName] }),
    foreignKey({
      name: 'object_locations_object_fk',
      columns: [t.bucket, t.key],
      foreignColumns: [objects.bucket, objects.key],
    }),
    index('object_locations_backend_idx').on(t.backendName),
    // Key rotation and the per-key counts page through the copies one key wraps.
    index('object_locations_key_id_idx')
      .on(sql`(${t.encryption}->>'keyId')`, t.bucket, t.key, t.backendName)
      .where(sql`${t.encryption} is not null`),
  ],
);

/** An in-progress multipart upload, pinned to one backend's native multipart upload. */
export const multipartUploads = pgTable(
  'multipart_uploads',
  {
    uploadId: text('upload_id').primaryKey(),
    bucket: text('bucket').notNull(),
    key: byteOrderedText('key').notNull(),
    backendName: text('backend_name')
      .notNull()
      .references(() => backendQuotas.backendName),
    /** The backend's own upload id for the physical key. */
    backendUploadId: text('backend_upload_id').notNull(),
    physicalKey: text('physical_key').notNull(),
    version: text('version').notNull(),
    contentType: text('content_type').notNull(),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    /** CreateMultipartUpload's x-amz-checksum-algorithm and -type: every part carries one, the object gets one. */
    checksumAlgorithm: text('checksum_algorithm'),
    checksumType: text('checksum_type').$type<ChecksumType>(),
    /** The upload's data key when encryption was on at its start: every part is sealed under it (without baseNonce). */
    encryption: jsonb('encryption').$type<CopyEncryption>(),
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('multipart_uploads_bucket_key_idx').on(t.bucket, t.key),
    index('multipart_uploads_backend_idx').on(t.backendName),
    index('multipart_uploads_created_idx').on(t.createdAt),
  ],
);

/**
 * Parts uploaded so far; their sizes count against the backend's free space until complete or abort. Usually one
 * row per part number; uploads of one part number that overlapped leave a row each (told apart by the backend's
 * ETag) until the backend's own part list says which one it kept.
 */
export const multipartParts = pgTable(
  'multipart_parts',
  {
    uploadId: text('upload_id')
      .notNull()
      .references(() => multipartUploads.uploadId, { onDelete: 'cascade' }),
    partNumber: integer('part_number').notNull(),
    /** Quoted MD5 of the client's part bytes, as returned to the client. */
    etag: text('etag').notNull(),
    /** The backend's ETag for the part, which its CompleteMultipartUpload needs. */
    backendEtag: text('backend_etag').notNull().default(''),
    /** Client bytes of the part. */
    size: bytes('size').notNull(),
    /** Bytes the part occupies on the backend (counted against free space until complete or abort). */
    storedSize: bytes('stored_size').notNull().default(0),
    /** The part's verified x-amz-checksum-*, if the client sent one. */
    checksum: jsonb('checksum').$type<{ algorithm: string; value: string }>(),
    /** Hex SHA-256 of the part's client bytes, hashed as it streamed; null for a part copied server-side. */
    sha256: text('sha256'),
    /** base64 base nonce of this upload of the part (fresh for every upload of a part number). */
    nonce: text('nonce'),
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'multipart_parts_pk', columns: [t.uploadId, t.partNumber, t.backendEtag] })],
);

/** Monthly usage per backend; period is 'YYYY-MM' (UTC). */
export const backendUsage = pgTable(
  'backend_usage',
  {
    backendName: text('backend_name')
      .notNull()
      .references(() => backendQuotas.backendName),
    period: text('period').notNull(),
    apiRequests: bigint('api_requests', { mode: 'number' }).notNull().default(0),
    egressBytes: bytes('egress_bytes').notNull().default(0),
    ingressBytes: bytes('ingress_bytes').notNull().default(0),
    updatedAt: moment('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'backend_usage_pk', columns: [t.backendName, t.period] })],
);

/** Physical deletes that failed; their size stays in orphan_bytes until a retry succeeds. */
export const cleanupQueue = pgTable(
  'cleanup_queue',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    backendName: text('backend_name')
      .notNull()
      .references(() => backendQuotas.backendName),
    physicalKey: text('physical_key').notNull(),
    /** Set for a multipart upload whose abort failed: the retry aborts this backend upload instead of deleting. */
    backendUploadId: text('backend_upload_id'),
    /** Why the copy became garbage: overwrite_displaced, delete_failed, record_failed, ... */
    reason: text('reason').notNull(),
    size: bytes('size').notNull(),
    createdAt: moment('created_at').notNull().defaultNow(),
    nextRetry: moment('next_retry').notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /**
     * The job whose move queued these bytes ahead (`drain:<backend>:<generation>`), so that job can settle its
     * unfinished moves when it resumes after a crash; null for every other item.
     */
    owner: text('owner'),
  },
  (t) => [index('cleanup_queue_due_idx').on(t.nextRetry).where(sql`${t.attempts} < 10`), index('cleanup_queue_owner_idx').on(t.owner).where(sql`${t.owner} is not null`)],
);

/**
 * A backend's placement state, mirrored from its Durable Object (the authority, which also holds drain progress)
 * so placement and the quota check read it in the same query as free space. No foreign key: a drained backend's
 * other rows are gone, but this one keeps it out of placement while it is still configured.
 */
export const backendStates = pgTable(
  'backend_states',
  {
    backendName: text('backend_name').primaryKey(),
    /** Only active backends take new copies. */
    mode: text('mode').$type<BackendMode>().notNull(),
    changedAt: moment('changed_at').notNull().defaultNow(),
  },
  (t) => [check('backend_states_mode_check', sql`${t.mode} in ('active', 'draining', 'drained', 'removed')`)],
);

export type BackendMode = 'active' | 'draining' | 'drained' | 'removed';

/** A job's keyset position: an object, or one of its copies (the scrub walks copies). */
export interface JobCursor {
  bucket: string;
  key: string;
  backendName?: string;
}

/**
 * One row per background job that must not overlap itself across isolates: a lease (holder, expiry), when it last
 * ran and with which settings, where its next batch starts, and its running totals for /metrics.
 */
export const jobLeases = pgTable('job_leases', {
  name: text('name').primaryKey(),
  holder: text('holder'),
  expiresAt: moment('expires_at'),
  lastRunAt: moment('last_run_at'),
  /** The settings (and deployment) of the last run: a change makes the next tick run at once. */
  lastSettings: text('last_settings'),
  /** Keyset position for the next batch, so objects that cannot be served do not starve the rest. */
  cursor: jsonb('cursor').$type<JobCursor>(),
  /** More work was left when the last run ended: the next tick continues without waiting for the interval. */
  more: boolean('more').notNull().default(false),
  counters: jsonb('counters').$type<Record<string, number>>().notNull().default({}),
});

export type BulkJobKind = 'encrypt-existing' | 'decrypt-existing' | 'rotate-encryption-key';
export type BulkJobStatus = 'running' | 'complete';
/** Where a bulk job's producer is in its keyset walk over object_locations. */
export interface CopyPosition {
  bucket: string;
  key: string;
  backendName: string;
}

/**
 * An admin bulk job over copies (encrypt-existing, decrypt-existing, rotate-encryption-key): its producer walks the
 * matching copies in key order and sends them to the jobs queue in numbered batches; each batch, once processed,
 * adds its counts here exactly once (bulk_job_batches). At most one job of a kind runs at a time.
 */
export const bulkJobs = pgTable(
  'bulk_jobs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').$type<BulkJobKind>().notNull(),
    /** The job's input, e.g. the key id whose data keys a rotation re-wraps. */
    params: jsonb('params').$type<Record<string, string>>().notNull().default({}),
    status: text('status').$type<BulkJobStatus>().notNull().default('running'),
    /** Matching copies counted when the job started (progress before the producer is done). */
    estimated: bytes('estimated').notNull().default(0),
    /** The producer's position: batches are recorded for every matching copy up to here. */
    cursor: jsonb('cursor').$type<CopyPosition>(),
    /** The producer has walked every matching copy. */
    produced: boolean('produced').notNull().default(false),
    batchesSent: integer('batches_sent').notNull().default(0),
    batchesDone: integer('batches_done').notNull().default(0),
    /** Copies in the batches recorded. */
    total: bytes('total').notNull().default(0),
    succeeded: bytes('succeeded').notNull().default(0),
    failed: bytes('failed').notNull().default(0),
    /** Copies a batch found already done or replaced by a client meanwhile. */
    skipped: bytes('skipped').notNull().default(0),
    /** Client bytes of the copies succeeded (rewritten or re-wrapped). */
    bytes: bytes('bytes').notNull().default(0),
    lastError: text('last_error'),
    createdAt: moment('created_at').notNull().defaultNow(),
    updatedAt: moment('updated_at').notNull().defaultNow(),
    finishedAt: moment('finished_at'),
  },
  (t) => [uniqueIndex('bulk_jobs_one_running_idx').on(t.kind).where(sql`${t.status} = 'running'`), index('bulk_jobs_kind_created_idx').on(t.kind, t.createdAt)],
);

/**
 * One row per batch a bulk job's producer sent: its keyset range (so a batch whose message was lost can be sent
 * again), and once processed its counts, added to the job exactly once (a redelivered batch finds it done).
 */
export const bulkJobBatches = pgTable(
  'bulk_job_batches',
  {
    jobId: text('job_id')
      .notNull()
      .references(() => bulkJobs.id, { onDelete: 'cascade' }),
    batch: integer('batch').notNull(),
    /** The matching copies after `from` (exclusive, null: from the start) up to `through` (inclusive). */
    from: jsonb('from').$type<CopyPosition>(),
    through: jsonb('through').$type<CopyPosition>().notNull(),
    /** Copies in the range when it was sent. */
    count: integer('count').notNull(),
    done: boolean('done').notNull().default(false),
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    skipped: integer('skipped').notNull().default(0),
    sentAt: moment('sent_at').notNull().defaultNow(),
    doneAt: moment('done_at'),
  },
  (t) => [primaryKey({ name: 'bulk_job_batches_pk', columns: [t.jobId, t.batch] })],
);

/**
 * Edge cache purges: an object's cache entries are keyed by the highest generation whose purge covers it (its
 * bucket, or every bucket when `bucket` is empty, and a prefix of its key), so a purge makes every entry it covers
 * unreachable in every data center at once. A purge deletes the older rows its own covers; the table stays small.
 */
export const cachePurges = pgTable('cache_purges', {
  generation: bigserial('generation', { mode: 'number' }).primaryKey(),
  bucket: text('bucket').notNull(),
  prefix: text('prefix').notNull(),
  purgedAt: moment('purged_at').notNull().defaultNow(),
});

export type BulkJobRow = typeof bulkJobs.$inferSelect;
export type BackendQuotaRow = typeof backendQuotas.$inferSelect;
export type ObjectRow = typeof objects.$inferSelect;
export type ObjectLocationRow = typeof objectLocations.$inferSelect;
export type ObjectPartRow = typeof objectParts.$inferSelect;
export type CleanupRow = typeof cleanupQueue.$inferSelect;
