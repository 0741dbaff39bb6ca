/**
 * Which database failures clients see as a retryable 503. The shapes are the Neon driver's as the Worker logged
 * them (drizzle's "Failed query" wrapping the server's error with its SQLSTATE); a real server refusing
 * connections for lack of room is not reproducible in the shared test database, so the errors are built here.
 */
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/store/db.ts';

function serverError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code, severity: 'FATAL' });
}

const failedQuery = (cause: unknown) => new Error('Failed query: select 1\nparams: ', { cause });

describe('isDatabaseUnavailable', () => {
  it('counts a server with no room for another connection, or starting or stopping, as unavailable', () => {
    expect(isDatabaseUnavailable(failedQuery(serverError('sorry, too many clients already', '53300')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery(serverError('too many connections for database "s3o"', '53300')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery(serverError('the database system is starting up', '57P03')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery(serverError('terminating connection due to administrator command', '57P01')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery(serverError('connection failure', '08006')))).toBe(true);
  });

  it('counts broken transports as unavailable', () => {
    expect(isDatabaseUnavailable(failedQuery(new Error('Connection terminated unexpectedly')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery({ type: 'error' }))).toBe(true);
  });

  it('leaves query errors to be what they are', () => {
    expect(isDatabaseUnavailable(failedQuery(serverError('duplicate key value violates unique constraint', '23505')))).toBe(false);
    expect(isDatabaseUnavailable(failedQuery(serverError('relation "objects" does not exist', '42P01')))).toBe(false);
    expect(isDatabaseUnavailable(failedQuery(serverError('canceling statement due to user request', '57014')))).toBe(false);
    expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
