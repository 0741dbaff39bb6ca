import { describe, expect, it } from 'vitest';
import { checkWriteCondition, evaluateReadConditions, writeCondition } from '../../src/objects/conditions.ts';

const object = { etag: '"abc"', lastModified: new Date('2026-11-26T10:00:00.500Z') };
const before = 'Thu, 26 Nov 2026 09:00:00 GMT';
const at = 'Thu, 26 Nov 2026 10:00:00 GMT';
const after = 'Thu, 26 Nov 2026 11:00:00 GMT';

function read(headers: Record<string, string>) {
  try {
    return evaluateReadConditions(new Headers(headers), object);
  } catch (err) {
    return (err as { reason: string }).reason;
  }
}

describe('read conditions, in AWS order', () => {
  it('If-Match passes on a listed or weak tag or *, fails otherwise', () => {
    expect(read({ 'if-match': '"abc"' })).toBe('proceed');
    expect(read({ 'if-match': '"x", W/"abc"' })).toBe('proceed');
    expect(read({ 'if-match': '*' })).toBe('proceed');
    expect(read({ 'if-match': '"nope"' })).toBe('precondition-failed');
  });
  it('If-Unmodified-Since applies only without If-Match', () => {
    expect(read({ 'if-unmodified-since': before })).toBe('precondition-failed');
    expect(read({ 'if-unmodified-since': at })).toBe('proceed');
    expect(read({ 'if-match': '"abc"', 'if-unmodified-since': before })).toBe('proceed');
  });
  it('If-None-Match gives 304 on a match; If-Modified-Since only without it', () => {
    expect(read({ 'if-none-match': '"abc"' })).toBe('not-modified');
    expect(read({ 'if-none-match': '"other"' })).toBe('proceed');
    expect(read({ 'if-modified-since': after })).toBe('not-modified');
    expect(read({ 'if-modified-since': at })).toBe('not-modified');
    expect(read({ 'if-modified-since': before })).toBe('proceed');
    expect(read({ 'if-none-match': '"other"', 'if-modified-since': after })).toBe('proceed');
  });
  it('ignores unparseable dates', () => {
    expect(read({ 'if-modified-since': 'yesterday-ish' })).toBe('proceed');
  });
});

describe('write conditions', () => {
  const check = (headers: Record<string, string>, current: { etag: string } | undefined) => {
    try {
      const condition = writeCondition(new Headers(headers));
      if (condition) checkWriteCondition(condition, current);
      return 'ok';
    } catch (err) {
      return (err as { reason: string }).reason;
    }
  };
  it('If-None-Match: * only creates', () => {
    expect(check({ 'if-none-match': '*' }, undefined)).toBe('ok');
    expect(check({ 'if-none-match': '*' }, { etag: '"abc"' })).toBe('precondition-failed');
    expect(check({ 'if-none-match': '"abc"' }, undefined)).toBe('unsupported-condition');
  });
  it('If-Match needs the current ETag', () => {
    expect(check({ 'if-match': '"abc"' }, { etag: '"abc"' })).toBe('ok');
    expect(check({ 'if-match': '"old"' }, { etag: '"abc"' })).toBe('precondition-failed');
    expect(check({ 'if-match': '"abc"' }, undefined)).toBe('no-such-object');
  });
});
