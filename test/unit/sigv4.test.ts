import { AwsClient } from 'aws4fetch';
import { describe, expect, it } from 'vitest';
import { authFailureToS3Error, authenticate, type CredentialLookup } from '../../src/s3/authenticate.ts';
import { canonicalQueryString, canonicalUri, canonicalUriCandidates, parseAmzDate, parseRawQuery } from '../../src/s3/sigv4.ts';

// The worked examples from https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// and https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
const AWS_EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const EXAMPLE_TIME = Date.UTC(2013, 4, 24, 0, 0, 0);
const lookup: CredentialLookup = (id) =>
  id === AWS_EXAMPLE.accessKeyId ? { secretAccessKey: AWS_EXAMPLE.secretAccessKey, bucket: 'examplebucket' } : undefined;
const opts = { now: EXAMPLE_TIME, clockSkewSeconds: 900, regions: ['us-east-1'] };

describe('SigV4 header auth', () => {
  it('verifies AWS published GET Object example', async () => {
    const request = new Request('https://examplebucket.s3.amazonaws.com/test.txt', {
      headers: {
        Host: 'examplebucket.s3.amazonaws.com',
        Range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
        Authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
      },
    });
    const result = await authenticate(request, lookup, opts);
    expect(result).toMatchObject({ ok: true, auth: { bucket: 'examplebucket', accessKeyId: AWS_EXAMPLE.accessKeyId } });
  });

  it('verifies requests signed by an independent implementation (aws4fetch), including awkward keys', async () => {
    const client = new AwsClient({ ...AWS_EXAMPLE, service: 's3', region: 'eu-west-3' });
    const now = Date.now();
    for (const path of ['/b/plain.txt', '/b/sp%20ace/%C3%A9t%C3%A9%2B%21%27%28%29%2A.bin', '/b/', '/b/a//b']) {
      const signed = await client.sign(`http://127.0.0.1:8787${path}?list-type=2&prefix=a%20b&delimiter=%2F`, {
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-colour': 'blue' },
      });
      // fetch() adds Host when it sends; a Request built in memory has to be given it.
      const sent = new Request(signed);
      sent.headers.set('host', '127.0.0.1:8787');
      const result = await authenticate(sent, lookup, { now, clockSkewSeconds: 900, regions: ['us-east-1', 'eu-west-3'] });
      expect(result.ok ? 'ok' : result.failure, path).toBe('ok');
    }
  });

  it('verifies a signed Accept-Encoding that the platform rewrote (aws-sdk-go v1 signs it)', async () => {
    const client = new AwsClient({ ...AWS_EXAMPLE, service: 's3', region: 'us-east-1' });
    const signed = await client.sign('http://127.0.0.1:8787/b/k', {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'accept-encoding': 'gzip' },
      aws: { allHeaders: true },
    });
    expect(signed.headers.get('authorization')).toContain('accept-encoding');
    const rewritten = new Request(signed);
    rewritten.headers.set('host', '127.0.0.1:8787');
    rewritten.headers.set('accept-encoding', 'gzip, br');
    const result = await authenticate(rewritten, lookup, { now: Date.now(), clockSkewSeconds: 900, regions: ['us-east-1'] });
    expect(result.ok ? 'ok' : result.failure).toBe('ok');
  });

  it('refuses a wrong secret with SignatureDoesNotMatch', async () => {
    const client = new AwsClient({ accessKeyId: AWS_EXAMPLE.accessKeyId, secretAccessKey: 'wrong-secret', service: 's3' });
    const signed = await client.sign('http://127.0.0.1/b/k', { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const result = await authenticate(signed, lookup, { now: Date.now(), clockSkewSeconds: 900, regions: ['us-east-1'] });
    expect(result).toEqual({ ok: false, failure: { reason: 'bad-signature' } });
    expect(authFailureToS3Error({ reason: 'bad-signature' }).code).toBe('SignatureDoesNotMatch');
  });

  it('refuses an unknown key with InvalidAccessKeyId after doing the same work', async () => {
    const client = new AwsClient({ accessKeyId: 'NOPE', secretAccessKey: 'whatever', service: 's3' });
    const signed = await client.sign('http://127.0.0.1/b/k', { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const result = await authenticate(signed, lookup, { now: Date.now(), clockSkewSeconds: 900, regions: ['us-east-1'] });
    expect(result).toEqual({ ok: false, failure: { reason: 'unknown-access-key' } });
  });

  it('refuses a skewed clock with RequestTimeTooSkewed', async () => {
    const client = new AwsClient({ ...AWS_EXAMPLE, service: 's3' });
    const signed = await client.sign('http://127.0.0.1/b/k', { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const result = await authenticate(signed, lookup, { now: Date.now() + 20 * 60_000, clockSkewSeconds: 900, regions: ['us-east-1'] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(authFailureToS3Error(result.failure).code).toBe('RequestTimeTooSkewed');
  });

  it('refuses x-amz-* headers the signature does not cover', async () => {
    const client = new AwsClient({ ...AWS_EXAMPLE, service: 's3' });
    const signed = await client.sign('http://127.0.0.1/b/k', { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const tampered = new Request(signed);
    tampered.headers.set('x-amz-meta-injected', 'yes');
    const result = await authenticate(tampered, lookup, { now: Date.now(), clockSkewSeconds: 900, regions: ['us-east-1'] });
    expect(result).toMatchObject({ ok: false, failure: { reason: 'unsigned-headers', headers: ['x-amz-meta-injected'] } });
  });

  it('reports malformed headers and missing credentials with their own codes', async () => {
    const bare = await authenticate(new Request('http://127.0.0.1/b/k'), lookup, opts);
    expect(bare.ok || authFailureToS3Error(bare.failure).code).toBe('AccessDenied');
    const v2 = await authenticate(new Request('http://127.0.0.1/b/k', { headers: { Authorization: 'AWS AKID:sig' } }), lookup, opts);
    expect(v2.ok || authFailureToS3Error(v2.failure).code).toBe('InvalidRequest');
    const broken = await authenticate(
      new Request('http://127.0.0.1/b/k', { headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=x', 'x-amz-date': '20130524T000000Z' } }),
      lookup,
      opts,
    );
    expect(broken.ok || authFailureToS3Error(broken.failure).code).toBe('AuthorizationHeaderMalformed');
  });
});

describe('SigV4 presigned URLs', () => {
  const presigned =
    'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  it('verifies AWS published presigned example within its validity', async () => {
    const result = await authenticate(new Request(presigned, { headers: { Host: 'examplebucket.s3.amazonaws.com' } }), lookup, {
      now: EXAMPLE_TIME + 3600_000,
      clockSkewSeconds: 900,
      regions: ['us-east-1'],
    });
    expect(result.ok).toBe(true);
  });

  it('refuses it once expired', async () => {
    const result = await authenticate(new Request(presigned, { headers: { Host: 'examplebucket.s3.amazonaws.com' } }), lookup, {
      now: EXAMPLE_TIME + 86_401_000,
      clockSkewSeconds: 900,
      regions: ['us-east-1'],
    });
    expect(result).toMatchObject({ ok: false, failure: { reason: 'presign-expired' } });
  });

  it('refuses a second X-Amz-Signature (or any repeated auth parameter), and a URL that also has an Authorization header', async () => {
    const host = { Host: 'examplebucket.s3.amazonaws.com' };
    const at = { now: EXAMPLE_TIME + 3600_000, clockSkewSeconds: 900, regions: ['us-east-1'] };
    for (const extra of [`&X-Amz-Signature=${'0'.repeat(64)}`, '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request', '&X-Amz-Expires=1']) {
      const result = await authenticate(new Request(presigned + extra, { headers: host }), lookup, at);
      expect(result.ok || authFailureToS3Error(result.failure).code, extra).toBe('AuthorizationQueryParametersError');
    }
    const both = await authenticate(new Request(presigned, { headers: { ...host, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }), lookup, at);
    expect(both.ok || authFailureToS3Error(both.failure).code).toBe('InvalidArgument');
  });

  it('refuses a credential scope for a region the orchestrator is not in, naming the one it is in', async () => {
    const result = await authenticate(new Request(presigned, { headers: { Host: 'examplebucket.s3.amazonaws.com' } }), lookup, {
      now: EXAMPLE_TIME + 3600_000,
      clockSkewSeconds: 900,
      regions: ['eu-central-1', 'auto'],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const err = authFailureToS3Error(result.failure);
    expect(err.code).toBe('AuthorizationQueryParametersError');
    expect(err.message).toContain("the region 'us-east-1' is wrong; expecting 'eu-central-1'");
    expect(err.details).toEqual({ Region: 'eu-central-1' });
  });

  it('refuses an expiry longer than 7 days', async () => {
    const tooLong = presigned.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604801');
    const result = await authenticate(new Request(tooLong, { headers: { Host: 'examplebucket.s3.amazonaws.com' } }), lookup, opts);
    expect(result.ok || authFailureToS3Error(result.failure).code).toBe('AuthorizationQueryParametersError');
  });
});

describe('canonical forms', () => {
  it('encodes the path once, S3 style', () => {
    expect(canonicalUri('/b/a%20b/%E2%82%AC+')).toBe('/b/a%20b/%E2%82%AC%2B');
    expect(canonicalUri('/b/')).toBe('/b/');
  });
  it('offers the decoded-key form only for paths with an encoded slash', () => {
    expect(canonicalUriCandidates('/b/a/x')).toEqual(['/b/a/x']);
    expect(canonicalUriCandidates('/b/..%2Fx')).toEqual(['/b/..%2Fx', '/b/../x']);
  });
  it('reads X-Amz-Date only when it is a real calendar instant', () => {
    expect(parseAmzDate('20260126T101500Z')).toBe(Date.UTC(2026, 0, 26, 10, 15, 0));
    for (const bad of ['20261332T101500Z', '20260230T101500Z', '20260126T246000Z', '20260126T106100Z', '20260126T101561Z']) {
      expect(parseAmzDate(bad), bad).toBeUndefined();
    }
  });
  it('sorts and encodes the query', () => {
    expect(canonicalQueryString(parseRawQuery('?b=2&a=1&a=0&list-type=2&prefix=x%2Fy&uploads'))).toBe(
      'a=0&a=1&b=2&list-type=2&prefix=x%2Fy&uploads=',
    );
  });
});
