/** The admin API's guard against cross-site changes (src/admin/request-guard.ts). */
import { describe, expect, it } from 'vitest';
import { refuseCrossSiteChange } from '../../src/admin/request-guard.ts';

const BASE = 'https://orchestrator.example';

function verdict(method: string, path: string, headers: Record<string, string> = {}): number | undefined {
  return refuseCrossSiteChange(new Request(`${BASE}${path}`, { method, headers }))?.status;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const OCTETS = { 'content-type': 'application/octet-stream' };

describe('refuseCrossSiteChange', () => {
  it('lets reads through whatever they carry', () => {
    expect(verdict('GET', '/admin/api/objects?bucket=b&key=k', { origin: 'https://evil.example' })).toBeUndefined();
    expect(verdict('HEAD', '/admin/api/status')).toBeUndefined();
  });

  it('takes JSON on every state-changing route but the two streamed-body ones, with any parameters', () => {
    expect(verdict('POST', '/admin/api/uploads', JSON_TYPE)).toBeUndefined();
    expect(verdict('DELETE', '/admin/api/objects?bucket=b&key=k', { 'content-type': 'Application/JSON; charset=utf-8' })).toBeUndefined();
    expect(verdict('POST', '/admin/api/uploads/abc/complete', JSON_TYPE)).toBeUndefined();
    expect(verdict('DELETE', '/admin/api/uploads/abc?bucket=b&key=k', JSON_TYPE)).toBeUndefined();
  });

  it('takes octet-stream, and only octet-stream, on PUT objects and PUT upload parts', () => {
    expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k', OCTETS)).toBeUndefined();
    expect(verdict('PUT', '/admin/api/uploads/abc/parts/1?bucket=b&key=k', OCTETS)).toBeUndefined();
    expect(verdict('PUT', '/admin/api/objects/?bucket=b&key=k', OCTETS)).toBeUndefined();
    expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k', JSON_TYPE)).toBe(415);
    expect(verdict('PUT', '/admin/api/uploads/abc/parts/1', JSON_TYPE)).toBe(415);
  });

  it('refuses octet-stream everywhere else, and the types a cross-site form can send everywhere', () => {
    expect(verdict('POST', '/admin/api/uploads', OCTETS)).toBe(415);
    expect(verdict('POST', '/admin/api/delete-prefix', OCTETS)).toBe(415);
    expect(verdict('DELETE', '/admin/api/objects?bucket=b&key=k', OCTETS)).toBe(415);
    expect(verdict('PUT', '/admin/api/log-level', OCTETS)).toBe(415);
    // The streamed-body exemption is for PUT alone, on exactly those paths.
    expect(verdict('POST', '/admin/api/objects', OCTETS)).toBe(415);
    expect(verdict('PUT', '/admin/api/uploads/abc/parts', OCTETS)).toBe(415);
    expect(verdict('PUT', '/admin/api/uploads/abc/parts/1/extra', OCTETS)).toBe(415);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k', { 'content-type': type }), type).toBe(415);
      expect(verdict('POST', '/admin/api/uploads', { 'content-type': type }), type).toBe(415);
    }
    expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k')).toBe(415);
  });

  it('refuses a foreign Origin or a cross-site fetch on every state-changing route, streamed ones included', () => {
    expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k', { ...OCTETS, origin: 'https://tenant.example' })).toBe(403);
    expect(verdict('PUT', '/admin/api/uploads/abc/parts/1', { ...OCTETS, 'sec-fetch-site': 'same-site' })).toBe(403);
    expect(verdict('POST', '/admin/api/delete-prefix', { ...JSON_TYPE, origin: 'null' })).toBe(403);
    expect(verdict('POST', '/admin/api/delete-prefix', { ...JSON_TYPE, 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(verdict('PUT', '/admin/api/objects?bucket=b&key=k', { ...OCTETS, origin: BASE, 'sec-fetch-site': 'same-origin' })).toBeUndefined();
  });
});
