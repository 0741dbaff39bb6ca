/** What a failed S3 call told the client: the AWS error code and the HTTP status. */
import { S3ServiceException } from '@aws-sdk/client-s3';

export interface S3Failure {
  code: string;
  status: number | undefined;
}

/** Resolves with the S3 error of a call that must fail; rejects if it succeeded or failed some other way. */
export async function s3Failure(promise: Promise<unknown>): Promise<S3Failure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error('expected the request to fail');
}

/** The status and error code of a raw HTTP response carrying an S3 XML error document. */
export async function xmlError(response: Response): Promise<{ status: number; code: string | undefined }> {
  const text = await response.text();
  return { status: response.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] };
}
