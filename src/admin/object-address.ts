/**
 * What the object browser's calls point at, checked once: a bucket the configuration has, and keys and prefixes
 * that are data (any text S3 would take), never paths. Each reader answers the value or the JSON error to send.
 */
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';

/** S3's limit on a key's UTF-8 bytes; prefixes get the same. */
const MAX_KEY_BYTES = 1024;
/** The stored Content-Type's budget (the S3 side lets names and values of all content headers share 2 KiB). */
const MAX_CONTENT_TYPE_LENGTH = 1024;

export interface ObjectAddress {
  bucket: string;
  key: string;
}

export function configuredBucket(name: unknown, context: AdminContext): string | Response {
  if (typeof name !== 'string' || name === '') return json(400, { error: 'bucket is required' });
  if (!context.active.config.buckets.some((b) => b.name === name)) return json(404, { error: `no bucket "${name}" in the configuration` });
  return name;
}

/** A bucket and a key, from a JSON body's fields or the query string's parameters. */
export function objectAddress(bucket: unknown, key: unknown, context: AdminContext): ObjectAddress | Response {
  const configured = configuredBucket(bucket, context);
  if (configured instanceof Response) return configured;
  if (typeof key !== 'string' || key === '') return json(400, { error: 'key is required' });
  const bad = keyProblem('key', key);
  return bad ? json(400, { error: bad }) : { bucket: configured, key };
}

/** `?bucket=B&key=K`: values as the query string decodes them, nothing more. */
export function queryAddress(request: Request, context: AdminContext): ObjectAddress | Response {
  const params = new URL(request.url).searchParams;
  return objectAddress(params.get('bucket'), params.get('key'), context);
}

/** A JSON body that names `bucket` and `key`: the address and the body's other fields, or the error to answer. */
export async function bodyAddress(request: Request, example: string, context: AdminContext): Promise<{ address: ObjectAddress; fields: Record<string, unknown> } | Response> {
  const body = await readJsonObject(request, example);
  if (!body.ok) return body.response;
  const address = objectAddress(body.value.bucket, body.value.key, context);
  return address instanceof Response ? address : { address, fields: body.value };
}

/** A prefix ('' is the whole bucket), or the 400 to answer. */
export function prefixParam(prefix: unknown): string | Response {
  if (typeof prefix !== 'string') return json(400, { error: 'prefix must be a string ("" for the whole bucket)' });
  const bad = keyProblem('prefix', prefix);
  return bad ? json(400, { error: bad }) : prefix;
}

/** The Content-Type to store and report: printable ASCII (it goes out as a header), application/octet-stream when absent. */
export function contentTypeParam(value: unknown): string | Response {
  if (value === undefined || value === null || value === '') return 'application/octet-stream';
  if (typeof value !== 'string' || !/^[\x20-\x7e]+$/.test(value) || value.length > MAX_CONTENT_TYPE_LENGTH) {
    return json(400, { error: `the content type must be printable ASCII of at most ${MAX_CONTENT_TYPE_LENGTH} characters` });
  }
  return value;
}

/** Postgres text holds no NUL; longer keys S3 refuses too. Every other character is a key's own business. */
function keyProblem(field: string, value: string): string | undefined {
  if (value.includes('\u0000')) return `${field} must not contain a NUL character`;
  if (new TextEncoder().encode(value).length > MAX_KEY_BYTES) return `${field} is longer than ${MAX_KEY_BYTES} bytes (UTF-8)`;
  return undefined;
}
