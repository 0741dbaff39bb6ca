/**
 * A plain write's record (PutObject, CopyObject) and a delete as one batch of three statements: one round trip to
 * the database, one READ COMMITTED transaction. The first two take the locks: the key's, then the quota rows'
 * (in backend-name order, as every transaction here takes them). The third reads afresh after both, so its checks
 * see the state its changes apply to, and it makes every change at once: its parts are data-modifying CTEs over
 * one snapshot, each applied only where the checks' verdict says 'ok', so a refused write commits nothing.
 * One statement after the locks, not six, keeps the quota rows (every writer of a backend updates its row) locked
 * for one statement and the commit, and gives the database one statement to plan instead of six.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { type BatchRows, type Db, runBatch } from './db.ts';
import { backendQuotas, backendStates, objectLocations, objectParts, objects } from './schema.ts';
import type { NewObject, PhysicalCopy } from './objects.ts';

/** What a write requires of the key's current object (If-None-Match, If-Match), checked under the key's lock. */
export interface WriteRequirement {
  /** No object may exist under the key (If-None-Match: *). */
  absent?: boolean;
  /** An object must exist and its ETag, without quotes or W/, be one of these; '*' for any ETag (If-Match). */
  etagIn?: readonly string[] | '*';
}

/** Which part of a WriteRequirement did not hold: an object exists, none exists, or its ETag is another. */
export type RequirementFailure = 'exists' | 'missing' | 'etag';

export class WriteRequirementError extends Error {
  readonly failure: RequirementFailure;
  constructor(failure: RequirementFailure) {
    super(`the write's requirement did not hold: ${failure}`);
    this.name = 'WriteRequirementError';
    this.failure = failure;
  }
}

/** The same check in code, for the transactions that read the current object themselves. */
export function requirementFailure(requirement: WriteRequirement | undefined, current: { etag: string } | undefined): RequirementFailure | undefined {
  if (!requirement) return undefined;
  if (requirement.absent && current) return 'exists';
  if (requirement.etagIn === undefined) return undefined;
  if (!current) return 'missing';
  if (requirement.etagIn !== '*' && !requirement.etagIn.includes(opaque(current.etag))) return 'etag';
  return undefined;
}

/** An entity tag's opaque value: without W/ and the quotes. */
export function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** Why a write was refused: its requirement, no room on the target, or the target not active (its mode). */
export type CommitRefusal = RequirementFailure | 'quota' | `mode:${string}`;

export class CommitRefusedError extends Error {
  readonly refusal: CommitRefusal;
  constructor(refusal: CommitRefusal) {
    super(`the write was refused: ${refusal}`);
    this.name = 'CommitRefusedError';
    this.refusal = refusal;
  }
}

const ofKey = (bucket: string, key: string) => and(eq(objectLocations.bucket, bucket), eq(objectLocations.key, key));
/** Serialises writers of one key until the transaction ends: the one lock statement every writer of a key takes. */
export const keyLock = (bucket: string, key: string): SQL => sql`select pg_advisory_xact_lock(hashtextextended(${bucket} || '/' || ${key}, 0))`;
const jsonb = (value: unknown) => sql`${value === null || value === undefined ? null : JSON.stringify(value)}::jsonb`;
/** Appended to a change's condition in the commit's statement: it applies only when the checks said 'ok'. */
const approved = sql`(select verdict from v) = 'ok'`;

/**
 * Records `object` as the key's only copy: the previous copies' rows go and their bytes are released, the new
 * copy's bytes are reserved. Throws CommitRefusedError (having changed nothing) when a check refused. Returns the
 * displaced copies.
 *
 * The CTEs of one statement run in no set order and none sees another's changes, so no two touch the same row:
 * the previous copies are read once (`old`), the delete leaves the target's row, and the new copy's row replaces
 * it in place (an upsert). Foreign keys are checked at the statement's end, once the object's row is there.
 */
export async function commitObject(db: Db, object: NewObject, requirement: WriteRequirement | undefined): Promise<PhysicalCopy[]> {
  const { bucket, key, copy } = object;
  const target = copy.backendName;
  const results = await runBatch(db, [
    keyLock(bucket, key),
    // Every quota row this write changes, locked in name order before any is changed.
    sql`select ${backendQuotas.backendName} from ${backendQuotas}
        where ${backendQuotas.backendName} in (select ${objectLocations.backendName} from ${objectLocations} where ${ofKey(bucket, key)} union select ${target}::text)
        order by ${backendQuotas.backendName} for update`,
    sql`with v as (select ${verdict(object, requirement)} as verdict),
      old as (select ${objectLocations.backendName} as backend_name, ${objectLocations.physicalKey} as physical_key,
                     ${objectLocations.storedSize} as stored_size from ${objectLocations} where ${ofKey(bucket, key)}),
      -- The old copy's bytes are released and the new one's reserved in one update, so on the target's own row the
      -- old copy makes room for the new.
      quota as (update ${backendQuotas} set bytes_used = greatest(0, ${backendQuotas.bytesUsed} - c.released) + c.reserved, updated_at = now()
        from (select backend_name, sum(released)::bigint as released, sum(reserved)::bigint as reserved from (
                select backend_name, stored_size as released, 0::bigint as reserved from old
                union all select ${target}::text, 0::bigint, ${copy.storedSize}::bigint) as u
              group by backend_name) as c
        where ${backendQuotas.backendName} = c.backend_name and ${approved} returning 1),
      dropped as (delete from ${objectLocations} where ${ofKey(bucket, key)} and ${objectLocations.backendName} <> ${target} and ${approved} returning 1),
      record as (insert into ${objects} (bucket, key, version, size, etag, content_type, metadata, headers, checksum, content_sha256, upload_id, created_at)
        select ${bucket}, ${key}, ${object.version}, ${object.size}, ${object.etag}, ${object.contentType}, ${jsonb(object.metadata)},
               ${jsonb(object.headers)}, ${jsonb(object.checksum)}, ${object.contentSha256}, null, now()
        where ${approved}
        on conflict (bucket, key) do update set version = excluded.version, size = excluded.size, etag = excluded.etag,
          content_type = excluded.content_type, metadata = excluded.metadata, headers = excluded.headers, checksum = excluded.checksum,
          content_sha256 = excluded.content_sha256, upload_id = null, created_at = excluded.created_at
        returning 1),
      parts as (delete from ${objectParts} where ${objectParts.bucket} = ${bucket} and ${objectParts.key} = ${key} and ${approved} returning 1),
      placed as (insert into ${objectLocations} (bucket, key, backend_name, physical_key, stored_size, encryption)
        select ${bucket}, ${key}, ${target}, ${copy.physicalKey}, ${copy.storedSize}, ${jsonb(copy.encryption)} where ${approved}
        on conflict (bucket, key, backend_name) do update set physical_key = excluded.physical_key, stored_size = excluded.stored_size,
          encryption = excluded.encryption, created_at = now()
        returning 1)
      select v.verdict, old.backend_name, old.physical_key, old.stored_size from v left join old on v.verdict = 'ok'`,
  ]);
  const rows = results[2] ?? [];
  const said = String(rows[0]?.verdict);
  if (said !== 'ok') throw new CommitRefusedError(said as CommitRefusal);
  return copiesOf(rows.filter((r) => r.backend_name !== null && r.backend_name !== undefined));
}

/**
 * Deletes the key's object and every copy row, releasing their bytes, as one batch; returns the copies to delete
 * physically (none when there was no object).
 */
export async function commitDelete(db: Db, bucket: string, key: string): Promise<PhysicalCopy[]> {
  const results = await runBatch(db, [
    keyLock(bucket, key),
    sql`select ${backendQuotas.backendName} from ${backendQuotas}
        where ${backendQuotas.backendName} in (select ${objectLocations.backendName} from ${objectLocations} where ${ofKey(bucket, key)})
        order by ${backendQuotas.backendName} for update`,
    sql`with dropped as (delete from ${objectLocations} where ${ofKey(bucket, key)}
          returning ${objectLocations.backendName}, ${objectLocations.physicalKey}, ${objectLocations.storedSize}),
      quota as (update ${backendQuotas} set bytes_used = greatest(0, ${backendQuotas.bytesUsed} - c.released), updated_at = now()
        from (select backend_name, sum(stored_size)::bigint as released from dropped group by backend_name) as c
        where ${backendQuotas.backendName} = c.backend_name returning 1),
      record as (delete from ${objects} where ${objects.bucket} = ${bucket} and ${objects.key} = ${key} returning 1)
      select backend_name, physical_key, stored_size from dropped`,
  ]);
  return copiesOf(results[2]);
}

/** Copy rows as a batch answers them: column names as in the database, bigints as text. */
function copiesOf(rows: BatchRows | undefined): PhysicalCopy[] {
  return (rows ?? []).map((r) => ({ backendName: String(r.backend_name), physicalKey: String(r.physical_key), storedSize: Number(r.stored_size) }));
}

/**
 * 'ok', or why the write may not go ahead: the requirement on the current object first (the client's conditions
 * are answered before anything else), then the target backend: active, and the new copy fitting once the key's
 * old copy on that backend is released.
 */
function verdict(object: NewObject, requirement: WriteRequirement | undefined): SQL {
  const { bucket, key, copy } = object;
  const current = sql`select ${objects.etag} as etag from ${objects} where ${objects.bucket} = ${bucket} and ${objects.key} = ${key}`;
  const etags = requirement?.etagIn;
  const released = sql`coalesce((select sum(${objectLocations.storedSize}) from ${objectLocations}
    where ${ofKey(bucket, key)} and ${objectLocations.backendName} = ${copy.backendName}), 0)`;
  return sql`(select case
    when ${requirement?.absent === true} and exists (${current}) then 'exists'
    when ${etags !== undefined} and not exists (${current}) then 'missing'
    when ${etags !== undefined && etags !== '*'} and not exists (
      select 1 from (${current}) as o, jsonb_array_elements_text(${JSON.stringify(Array.isArray(etags) ? etags : [])}::jsonb) as wanted(tag)
      where regexp_replace(regexp_replace(btrim(o.etag), '^W/', ''), '^"(.*)"$', '\\1') = wanted.tag) then 'etag'
    when exists (select 1 from ${backendStates} where ${backendStates.backendName} = ${copy.backendName} and ${backendStates.mode} <> 'active')
      then 'mode:' || (select ${backendStates.mode}::text from ${backendStates} where ${backendStates.backendName} = ${copy.backendName})
    when not exists (select 1 from ${backendQuotas} where ${backendQuotas.backendName} = ${copy.backendName}
      and (${backendQuotas.bytesLimit} = 0
        or greatest(0, ${backendQuotas.bytesUsed} - ${released}) + ${backendQuotas.orphanBytes} + ${copy.storedSize} <= ${backendQuotas.bytesLimit}))
      then 'quota'
    else 'ok' end)`;
}
