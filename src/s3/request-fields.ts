/** Small readers of request fields shared by the operation handlers. */
import { MAX_PARTS } from '../objects/multipart.ts';
import { S3Error } from './errors.ts';
import type { S3Request } from './request.ts';

export function requireKey(request: S3Request): string {
  if (request.key === undefined) throw new S3Error('InvalidRequest', 'This operation needs an object key');
  return request.key;
}

/** An integer query parameter in [min, max]; `fallback` when absent. */
export function integerParam(request: S3Request, name: string, opts: { min: number; max: number; fallback: number }): number {
  const raw = request.query.get(name);
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
