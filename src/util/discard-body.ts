/** What to do with a request body nobody read, before the refusal that left it unread goes out. */

/** Bodies up to this size are read to the end before an error goes out; larger ones are cut off. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * A refused upload's body is usually already on its way: the platform answers `Expect: 100-continue` itself.
 * The decision never waits for the body, but closing the connection under a client that is still sending makes
 * it see a reset instead of our error (and retry). So a modest body is read and thrown away first; a large one is
 * cut off at once, and that client may see a connection reset.
 */
export async function discardUnreadBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  const declared = Number(request.headers.get('content-length') ?? 'NaN');
  if (!(declared <= DRAIN_LIMIT_BYTES)) {
    await request.body.cancel().catch(() => {});
    return;
  }
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS));
  await Promise.race([request.body.pipeTo(new WritableStream()).catch(() => {}), timeout]);
}
