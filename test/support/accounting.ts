/** Reads the accounting invariant straight from Postgres (not through the Worker). */
import pg from 'pg';
import { ACCOUNTING_QUERY, type AccountingRow, type BackendAccounting, accountingViolations, toAccounting } from './accounting-invariant.ts';

export type { BackendAccounting } from './accounting-invariant.ts';

export async function backendAccounting(url: string): Promise<BackendAccounting[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return toAccounting((await client.query<AccountingRow>(ACCOUNTING_QUERY)).rows);
  } finally {
    await client.end();
  }
}

/** Human-readable violations: bytes_used must equal recorded bytes, orphan_bytes must equal queued bytes. */
export async function accountingDrift(url: string): Promise<string[]> {
  return accountingViolations(await backendAccounting(url));
}
