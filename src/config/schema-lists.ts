/** The configuration's two lists: the virtual buckets clients see and the backends that hold the bytes. */
import { choice, count, flag, optionalText, size, text } from './fields.ts';
import { key, list } from './schema-kit.ts';

/** Paths the Worker answers itself; a virtual bucket of that name would be unreachable. */
const RESERVED_BUCKET_NAMES = new Set(['health', 'metrics', 'admin', 'ui']);
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9_+=,.@-]{3,128}$/;

function bucketName(name: string): string | undefined {
  if (!BUCKET_NAME.test(name)) return 'must be 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit';
  return RESERVED_BUCKET_NAMES.has(name) ? `"${name}" is reserved for the orchestrator's own routes` : undefined;
}

/** `http(s)://host[:port]` and nothing more: the bucket is a key of its own. */
function endpoint(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an absolute http(s) URL, got ${JSON.stringify(text)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must use http or https, got ${url.protocol}`;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return 'must be scheme://host[:port] without a path or query (the bucket goes in "bucket")';
  return undefined;
}

const credentials = list(
  {
    access_key_id: key('accessKeyId', text((id) => (ACCESS_KEY_ID.test(id) ? undefined : 'must be 3-128 characters of letters, digits and _+=,.@-')), {
      meaning: 'the key id a client signs with (3-128 of letters, digits, `_+=,.@-`); unique across all buckets',
    }),
    secret_access_key: key('secretAccessKey', text((secret) => (secret.length < 8 ? 'must be at least 8 characters' : undefined)), {
      secret: true,
      meaning: 'its secret (at least 8 characters)',
    }),
  },
  'access_key_id',
);

/** Buckets reload as a whole: adding, removing and re-crediting a bucket all apply at once. */
export const buckets = list(
  {
    name: key('name', text(bucketName), {
      meaning: 'S3 bucket name rules (3-63 of `a-z 0-9 . -`); `health`, `metrics`, `admin` and `ui` are reserved',
    }),
    credentials: key('credentials', credentials, { meaning: 'the credentials that may use this bucket, at least one; each may only touch its own bucket' }),
    max_multipart_uploads: key('maxMultipartUploads', count(0, 0), {
      note: '(no cap)',
      meaning: 'most multipart uploads in progress at once in this bucket; more answer `503 SlowDown`',
    }),
  },
  'name',
);

/** A backend's identity and connection wait for a deploy; its limits reload. */
export const backends = list(
  {
    name: key('name', text((name) => (BACKEND_NAME.test(name) ? undefined : 'must be 1-63 characters of letters, digits and _.-')), {
      meaning: '1-63 of letters, digits and `_.-`; unique; the name the database and logs use',
    }),
    endpoint: key('endpoint', text(endpoint, (url) => url.replace(/\/+$/, '')), { reload: 'deploy-only', meaning: '`https://host[:port]` (or `http://`), no path' }),
    region: key('region', optionalText('us-east-1'), { reload: 'deploy-only', meaning: 'the region to sign requests for' }),
    bucket: key('bucket', text(), { reload: 'deploy-only', meaning: 'the real bucket on that service' }),
    access_key_id: key('accessKeyId', text(), { reload: 'deploy-only', meaning: "the service's key id; use `${VAR}` and Worker secrets" }),
    secret_access_key: key('secretAccessKey', text(), { reload: 'deploy-only', secret: true, meaning: "the service's secret; use `${VAR}` and Worker secrets" }),
    force_path_style: key('forcePathStyle', flag(false), {
      reload: 'deploy-only',
      meaning: '`true` addresses `endpoint/bucket/key` (MinIO, Ceph, most self-hosted); `false` uses `bucket.host/key`',
    }),
    quota_bytes: key('quotaBytes', size(0), {
      reload: 'reloadable',
      note: '(unlimited)',
      meaning: 'the most bytes the orchestrator will store there (copies plus orphans waiting for cleanup)',
    }),
    api_request_limit: key('apiRequestLimit', count(0, 0), {
      reload: 'reloadable',
      note: '(unlimited)',
      meaning: 'monthly API calls to the backend (every call the orchestrator makes, including background work)',
    }),
    egress_byte_limit: key('egressByteLimit', size(0), { reload: 'reloadable', note: '(unlimited)', meaning: 'monthly bytes read from the backend' }),
    ingress_byte_limit: key('ingressByteLimit', size(0), { reload: 'reloadable', note: '(unlimited)', meaning: 'monthly bytes written to the backend' }),
    etag_md5: key('etagMd5', choice(['auto', 'always', 'never'], 'auto'), {
      reload: 'reloadable',
      meaning:
        "whether a PutObject's ETag (the MD5 of its bytes) is taken from this backend's answer instead of hashed on the Worker, which makes large uploads faster: `auto` compares the backend's first 8 answers in each isolate with the Worker's own MD5 and then takes them, hashing one PUT in 64 again to re-check (a mismatch, or an answer that is not an MD5, and the isolate hashes every PUT to it again); `always` takes them from the start; `never` always hashes. A backend that stops answering MD5s between two re-checks (its bucket switched to SSE-KMS, say) has up to 63 PUTs recorded with its answers as their ETags; choose `never` where that may happen. Only for copies stored as sent (not encrypted) and PUTs without `Content-MD5` (the Worker checks that one itself); UploadPart and copies always hash",
    }),
  },
  'name',
);
