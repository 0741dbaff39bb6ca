/** The headers every object-browser download must carry, whatever the tenant stored (src/admin/object-routes.ts). */

/** What a download of `size` bytes saved as `encodedName` (RFC 5987), stored as `storedType`, must answer with. */
export function downloadHeaders(download: { encodedName: string; size: number; etag: unknown; storedType: string }): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename*=UTF-8''${download.encodedName}`,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cache-control': 'no-store',
    'content-length': String(download.size),
    etag: String(download.etag),
    'x-object-content-type': download.storedType,
  };
}
