/** The drain's pace, shared with the benchmark that compares it to a plain copy. */

/**
 * Copies a drain step reads and moves: the batch shares its database round trips (queueing ahead, placement, the
 * swaps). A step still stops starting copies at its time budget or when the drain is cancelled.
 */
export const DRAIN_BATCH = 500;

/**
 * Copies moved at the same time within a batch. Each move holds two backend connections (GET piped into PUT), and
 * a Durable Object invocation may have six outgoing connections open (Cloudflare's limit), the database's included.
 */
export const DRAIN_CONCURRENCY = 2;
