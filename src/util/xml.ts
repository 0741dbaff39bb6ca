/** Minimal XML writing for S3 responses: escaping and element building, nothing more. */

// A literal carriage return would reach the client as a line feed (XML parsers normalize line ends), so a key
// holding one is written as a character reference.
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c] ?? c);
}

export type XmlValue = string | number | boolean | null | undefined | XmlNode | XmlNode[];
export interface XmlNode {
  [element: string]: XmlValue;
}

/** Renders `{ A: 1, B: [{ C: 'x' }, { C: 'y' }] }` as `<A>1</A><B><C>x</C></B><B><C>y</C></B>`; null/undefined are omitted. */
export function renderElements(node: XmlNode): string {
  let out = '';
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) out += `<${name}>${renderElements(item)}</${name}>`;
    } else if (typeof value === 'object') {
      out += `<${name}>${renderElements(value)}</${name}>`;
    } else {
      out += `<${name}>${escapeXml(String(value))}</${name}>`;
    }
  }
  return out;
}

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function xmlDocument(root: string, body: XmlNode, opts: { namespace?: boolean } = {}): string {
  const ns = opts.namespace === false ? '' : ` xmlns="${S3_XMLNS}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${renderElements(body)}</${root}>`;
}
