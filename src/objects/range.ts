/**
 * The Range header, single range only: `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * https://www.rfc-editor.org/rfc/rfc9110#name-range-requests ; S3 ignores forms it does not support.
 */
import type { ByteRange } from '../util/byte-range.ts';
import { Refusal } from './refusal.ts';

/** undefined = serve the whole object (no header, or a header S3 would ignore). Throws InvalidRange (416). */
export function resolveRange(header: string | null, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const first = m[1] === '' ? undefined : Number(m[1]);
  const last = m[2] === '' ? undefined : Number(m[2]);
  if (first === undefined) {
    // Suffix range: the last n bytes.
    if (last === undefined || last === 0) throw unsatisfiable(size);
    return size === 0 ? undefined : { start: Math.max(0, size - last), end: size - 1 };
  }
  if (last !== undefined && last < first) return undefined;
  if (first >= size) throw unsatisfiable(size);
  return { start: first, end: Math.min(last ?? size - 1, size - 1) };
}

function unsatisfiable(size: number): Refusal {
  return new Refusal('range-not-satisfiable', 'The requested range is not satisfiable', {
    details: { RangeRequested: '', ActualObjectSize: String(size) },
    headers: { 'content-range': `bytes */${size}` },
  });
}
