/** A lookup whose answer is about another key is refused (a crossed connection must never serve other bytes). */
import { describe, expect, it } from 'vitest';
import { MetadataMismatchError, assertRowsAreFor } from '../../src/store/objects.ts';

const row = (objectKey: string, locationKey: string | null) => ({
  object: { bucket: 'b', key: objectKey },
  location: locationKey === null ? null : { bucket: 'b', key: locationKey },
});

describe('assertRowsAreFor', () => {
  it('accepts rows of the key asked for, with or without copies', () => {
    expect(() => assertRowsAreFor('b', 'k', [row('k', 'k'), row('k', 'k'), row('k', null)])).not.toThrow();
  });

  it('refuses an object or a copy row of another key or bucket', () => {
    expect(() => assertRowsAreFor('b', 'k', [row('k', 'k'), row('other', 'other')])).toThrow(MetadataMismatchError);
    expect(() => assertRowsAreFor('b', 'k', [row('k', 'other')])).toThrow(MetadataMismatchError);
    expect(() => assertRowsAreFor('c', 'k', [row('k', 'k')])).toThrow(/lookup of c\/k with rows of b\/k/);
  });
});
