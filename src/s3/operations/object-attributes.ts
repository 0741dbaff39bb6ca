/** GetObjectAttributes. https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html */
import { opaqueEtag } from '../../objects/conditions.ts';
import { MAX_PARTS } from '../../objects/multipart.ts';
import { type ObjectPartsPage, objectAttributes } from '../../objects/object-attributes.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import { integerHeader, requireKey } from '../request-fields.ts';
import { checksumElements, objectChecksumElements, xmlResponse } from '../responses.ts';
import type { XmlNode } from '../../util/xml.ts';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

/**
 * Only the attributes named in x-amz-object-attributes are answered. The request takes no conditional headers; the
 * ETag comes without quotes; Checksum only for an object that has one; ObjectParts only for an object a multipart
 * upload made, its Part elements only when the parts carry checksums (as S3's general purpose buckets answer).
 */
export const GetObjectAttributes: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const wanted = requestedAttributes(request.headers.get('x-amz-object-attributes'));
  const maxParts = integerHeader(request, 'x-amz-max-parts', { min: 0, max: 1000, fallback: 1000 });
  const marker = integerHeader(request, 'x-amz-part-number-marker', { min: 0, max: MAX_PARTS, fallback: 0 });
  const { object, parts } = await objectAttributes(services, auth.bucket, key, wanted.has('ObjectParts') ? { after: marker, max: maxParts } : undefined);
  const checksum = wanted.has('Checksum') ? object.checksum : null;
  return xmlResponse(
    'GetObjectAttributesResponse',
    {
      ETag: wanted.has('ETag') ? opaqueEtag(object.etag) : undefined,
      Checksum: checksum && objectChecksumElements(checksum),
      ObjectParts: parts && objectPartsElement(parts, marker, maxParts),
      StorageClass: wanted.has('StorageClass') ? 'STANDARD' : undefined,
      ObjectSize: wanted.has('ObjectSize') ? object.size : undefined,
    },
    { headers: { 'last-modified': object.createdAt.toUTCString() } },
  );
};

function requestedAttributes(header: string | null): Set<Attribute> {
  const names = (header ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) {
    throw new S3Error('InvalidRequest', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
  }
  const unknown = names.find((n) => !ATTRIBUTES.includes(n as Attribute));
  if (unknown !== undefined) {
    throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { details: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: unknown } });
  }
  return new Set(names as Attribute[]);
}

function objectPartsElement(page: ObjectPartsPage, marker: number, maxParts: number): XmlNode {
  if (!page.parts) return { PartsCount: page.count };
  return {
    IsTruncated: page.truncated,
    MaxParts: maxParts,
    NextPartNumberMarker: page.parts.at(-1)?.partNumber ?? marker,
    PartNumberMarker: marker,
    Part: page.parts.map((p) => ({ ...(p.checksum && checksumElements(p.checksum)), PartNumber: p.partNumber, Size: p.size })),
    PartsCount: page.count,
  };
}
