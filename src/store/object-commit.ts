/**
 * A plain write's record (PutObject, CopyObject) and a delete as one batch of statements: one round trip to the
 * database, one READ COMMITTED transaction. Each statement reads afresh after the ones before it, so after the
 * key's lock and the quota rows' locks (taken in backend-name order, as every transaction here takes them) the
 * checks see the state the changes apply to. The checks' verdict is set once, in a transaction-local setting
 * (`s3o.verdict`), and every change applies only where it says 'ok': a refused write commits nothing.
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

/** Appended to a change's condition: it applies only when this transaction's checks said 'ok'. */
const approved = sql`current_setting('s3o.verdict') = 'ok'`;

const ofKey = (bucket: string, key: string) => and(eq(objectLocations.bucket, bucket), eq(objectLocations.key, key));
/** Serialises writers of one key until the transaction ends: the one lock statement every writer of a key takes. */
export const keyLock = (bucket: string, key: string): SQL => sql`select pg_advisory_xact_lock(hashtextextended(${bucket} || '/' || ${key}, 0))`;
const jsonb = (value: unknown) => sql`${value === null || value === undefined ? null : JSON.stringify(value)}::jsonb`;

/**
 * Records `object` as the key's only copy: the previous copies' rows go and their bytes are released, the new
 * copy's bytes are reserved. Throws CommitRefusedError (having changed nothing) when a check refused. Returns the
 * displaced copies.
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
    sql`select set_config('s3o.verdict', ${verdict(object, requirement)}, true) as verdict`,
    // Releases first, then the reservation: on the target's own row the old copy's bytes make room for the new.
    sql`update ${backendQuotas} set bytes_used = greatest(0, ${backendQuotas.bytesUsed} - c.released) + c.reserved, updated_at = now()
        from (select backend_name, sum(released)::bigint as released, sum(reserved)::bigint as reserved from (
                select ${objectLocations.backendName} as backend_name, ${objectLocations.storedSize} as released, 0::bigint as reserved
                from ${objectLocations} where ${ofKey(bucket, key)}
                union all select ${target}::text, 0::bigint, ${copy.storedSize}::bigint) as u
              group by backend_name) as c
        where ${backendQuotas.backendName} = c.backend_name and ${approved}`,
    sql`delete from ${objectLocations} where ${ofKey(bucket, key)} and ${approved}
        returning ${objectLocations.backendName}, ${objectLocations.physicalKey}, ${objectLocations.storedSize}`,
    sql`insert into ${objects} (bucket, key, version, size, etag, content_type, metadata, headers, checksum, content_sha256, upload_id, created_at)
        select ${bucket}, ${key}, ${object.version}, ${object.size}, ${object.etag}, ${object.contentType}, ${jsonb(object.metadata)},
               ${jsonb(object.headers)}, ${jsonb(object.checksum)}, ${object.contentSha256}, null, now()
        where ${approved}
        on conflict (bucket, key) do update set version = excluded.version, size = excluded.size, etag = excluded.etag,
          content_type = excluded.content_type, metadata = excluded.metadata, headers = excluded.headers, checksum = excluded.checksum,
          content_sha256 = excluded.content_sha256, upload_id = null, created_at = excluded.created_at`,
    sql`delete from ${objectParts} where ${objectParts.bucket} = ${bucket} and ${objectParts.key} = ${key} and ${approved}`,
    sql`insert into ${objectLocations} (bucket, key, backend_name, physical_key, stored_size, encryption)
        select ${bucket}, ${key}, ${target}, ${copy.physicalKey}, ${copy.storedSize}, ${jsonb(copy.encryption)} where ${approved}`,
  ]);
  const said = String(results[2]?.[0]?.verdict);
  if (said !== 'ok') throw new CommitRefusedError(said as CommitRefusal);
  return copiesOf(results[4]);
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
    sql`update ${backendQuotas} set bytes_used = greatest(0, ${backendQuotas.bytesUsed} - c.released), updated_at = now()
        from (select ${objectLocations.backendName} as backend_name, sum(${objectLocations.storedSize})::bigint as released
              from ${objectLocations} where ${ofKey(bucket, key)} group by ${objectLocations.backendName}) as c
        where ${backendQuotas.backendName} = c.backend_name`,
    sql`delete from ${objectLocations} where ${ofKey(bucket, key)}
        returning ${objectLocations.backendName}, ${objectLocations.physicalKey}, ${objectLocations.storedSize}`,
    db.delete(objects).where(and(eq(objects.bucket, bucket), eq(objects.key, key))).getSQL(),
  ]);
  return copiesOf(results[3]);
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
