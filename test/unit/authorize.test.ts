/** The development admin token opens the door only in a Worker that says it is a development one. */
import { describe, expect, it } from 'vitest';
import { authorizeAdmin } from '../../src/admin/authorize.ts';

const admin = { access: undefined, token: 'dev-admin-token-0123456789' };
const withToken = () => new Request('https://s3.example.com/admin/api/status', { headers: { authorization: `Bearer ${admin.token}` } });

describe('authorizeAdmin with the development token', () => {
  it('accepts it only when S3O_ENVIRONMENT is development', async () => {
    expect(await authorizeAdmin(withToken(), admin, 'development')).toEqual({ ok: true, caller: { kind: 'token' } });
  });

  it('fails closed everywhere else: production, unset (a plain wrangler deploy), or anything unexpected', async () => {
    for (const environment of ['production', undefined, '', 'staging', 'Development']) {
      const result = await authorizeAdmin(withToken(), admin, environment);
      expect(result, String(environment)).toMatchObject({ ok: false, status: 403 });
    }
  });
});
