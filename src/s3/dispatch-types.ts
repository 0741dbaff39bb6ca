import type { Authenticated } from './authenticate.ts';
import type { S3Request } from './request.ts';
import type { Services } from '../services/services.ts';

/** Every S3 operation has this shape; the bucket has already been checked against the credential. */
export type Handler = (services: Services, request: S3Request, auth: Authenticated) => Promise<Response>;
