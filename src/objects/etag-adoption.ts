/**
 * Taking a PutObject's ETag from the backend instead of hashing MD5 on the Worker (issue 18): S3-compatible
 * backends answer a plain single PUT with the MD5 of the bytes they stored, which for a copy stored as sent is the
 * MD5 of the client's bytes, the ETag S3 gives. Whether a backend does is learnt per isolate (`etag_md5: auto`): its
 * first SAMPLES answers are compared with the Worker's own MD5, then its answers are taken, with one PUT in
 * RECHECK_EVERY hashed again. A mismatch, or an answer that is not an MD5 at all, makes the isolate hash every PUT
 * to that backend from then on.
 */
import type { EtagEvidence, Services } from '../services/services.ts';
import { Refusal } from './refusal.ts';

export const SAMPLES = 8;
export const RECHECK_EVERY = 64;
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/;

/** Whether this PutObject's MD5 must be computed on the Worker. */
export function mustHashMd5(services: Services, backendName: string, put: { sealed: boolean; clientMd5: boolean }): boolean {
  if (put.sealed || put.clientMd5) return true;
  const setting = services.config.backends.find((b) => b.name === backendName)?.etagMd5 ?? 'never';
  if (setting === 'never') return true;
  const evidence = evidenceOf(services, backendName);
  if (evidence.refuted) return true;
  if (setting === 'always') return false;
  return evidence.matched < SAMPLES || evidence.taken >= RECHECK_EVERY - 1;
}

/**
 * The ETag to record: the Worker's MD5 when it computed one (and then what the backend answered is evidence), else
 * the backend's answer. An answer that is not an MD5 cannot be recorded: the copy must be discarded and the client
 * told to retry (the isolate hashes from then on, so the retry succeeds).
 */
export function recordedEtag(services: Services, backendName: string, computedMd5: string | undefined, answered: string): string {
  const evidence = evidenceOf(services, backendName);
  const answeredMd5 = MD5_ETAG.exec(answered.toLowerCase())?.[1];
  if (computedMd5 !== undefined) {
    if (answeredMd5 === computedMd5) {
      evidence.matched++;
      evidence.taken = 0;
    } else if (!evidence.refuted) {
      evidence.refuted = true;
      services.log.info('backend ETags are not the MD5 of the bytes stored; this isolate hashes every PUT to it', { backend: backendName, answered });
    }
    return `"${computedMd5}"`;
  }
  if (answeredMd5 === undefined) {
    evidence.refuted = true;
    services.log.warn('backend answered a PUT with an ETag that is not an MD5; the copy is discarded and the client retries', { backend: backendName, answered });
    throw new Refusal('unavailable', 'The storage backend gave an unexpected answer; please retry');
  }
  evidence.taken++;
  return `"${answeredMd5}"`;
}

function evidenceOf(services: Services, backendName: string): EtagEvidence {
  let evidence = services.memory.etagEvidence.get(backendName);
  if (!evidence) {
    evidence = { matched: 0, refuted: false, taken: 0 };
    services.memory.etagEvidence.set(backendName, evidence);
  }
  return evidence;
}
