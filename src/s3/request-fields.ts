/** Small readers of request fields shared by the operation handlers. */
import { MAX_PARTS } from '../objects/multipart.ts';
import { S3Error } from './errors.ts';
import type { S3Request } from './request.ts';

export function requireKey(request: S3Request): string {
  if (request.key === undefined) throw new S3Error('InvalidRequest', 'This operation needs an object key');
  return request.key;
}

interface IntegerBounds {
  min: number;
  max: number;
  fallback: number;
}

/** An integer query parameter in [min, max] (larger values are taken as max); `fallback` when absent. */
export function integerParam(request: S3Request, name: string, opts: IntegerBounds): number {
  return integerField(name, request.query.get(name), opts);
}

/** An integer request header, read as integerParam reads a query parameter. */
export function integerHeader(request: S3Request, name: string, opts: IntegerBounds): number {
  return integerField(name, request.headers.get(name) ?? undefined, opts);
}

function integerField(name: string, raw: string | undefined, opts: IntegerBounds): number {
  if (raw === undefined || raw === '') return opts.fallback;
  if (!/^-?\d+$/.test(raw)) {
    throw new S3Error('InvalidArgument', `${name} must be an integer`, { details: { ArgumentName: name, ArgumentValue: raw } });
  }
  const value = Number(raw);
  if (value < opts.min) {
    throw new S3Error('InvalidArgument', `${name} must be at least ${opts.min}`, {
      details: { ArgumentName: name, ArgumentValue: raw },
    });
  }
  return Math.min(value, opts.max);
}

/** The partNumber query parameter: an integer from 1 to 10,000. */
export function partNumberParam(request: S3Request): number {
  const raw = request.query.get('partNumber') ?? '';
  const number = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(number >= 1 && number <= MAX_PARTS)) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`, {
      details: { ArgumentName: 'partNumber', ArgumentValue: raw },
    });
  }
  return number;
}
