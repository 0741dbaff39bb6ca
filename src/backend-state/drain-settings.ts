/** The drain's pace, shared with the benchmark that compares it to a plain copy. */

export const DRAIN_BATCH = 100;

/**
 * Copies moved at the same time within a batch. Each move holds two backend connections (GET piped into PUT), and
 * a Durable Object invocation may have six outgoing connections open (Cloudflare's limit), the database's included.
 */
export const DRAIN_CONCURRENCY = 2;
