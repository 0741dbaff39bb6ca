/**
 * Reading the small XML documents S3 requests carry (DeleteObjects, CompleteMultipartUpload). Deliberately
 * minimal: elements, text, the five predefined entities and numeric references, CDATA, comments. No DTDs (so
 * no entity expansion attacks), attributes are ignored, namespaces are stripped from names.
 */

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

export class XmlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function parseXml(text: string): XmlElement {
  let at = 0;
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  const top = () => stack[stack.length - 1]!;

  while (at < text.length) {
    const lt = text.indexOf('<', at);
    if (lt < 0) {
      appendText(top(), text.slice(at));
      break;
    }
    if (lt > at) appendText(top(), text.slice(at, lt));
    if (text.startsWith('<?', lt)) {
      at = closeOf(text, '?>', lt);
    } else if (text.startsWith('<!--', lt)) {
      at = closeOf(text, '-->', lt);
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt);
      if (end < 0) throw new XmlSyntaxError('unterminated CDATA section');
      top().text += text.slice(lt + 9, end);
      at = end + 3;
    } else if (text.startsWith('<!', lt)) {
      throw new XmlSyntaxError('document type declarations are not accepted');
    } else if (text.startsWith('</', lt)) {
      const end = closeOf(text, '>', lt);
      const name = localName(text.slice(lt + 2, end - 1).trim());
      const open = stack.pop();
      if (!open || open === root || open.name !== name) throw new XmlSyntaxError(`unexpected closing tag </${name}>`);
      at = end;
    } else {
      const end = closeOf(text, '>', lt);
      const inner = text.slice(lt + 1, end - 1);
      const selfClosing = inner.endsWith('/');
      const name = localName((selfClosing ? inner.slice(0, -1) : inner).trim().split(/\s/)[0] ?? '');
      if (!/^[A-Za-z_][\w.-]*$/.test(name)) throw new XmlSyntaxError(`bad element name "${name.slice(0, 40)}"`);
      const element: XmlElement = { name, children: [], text: '' };
      if (stack.length === 1 && root.children.length > 0) throw new XmlSyntaxError('more than one root element');
      top().children.push(element);
      if (!selfClosing) stack.push(element);
      at = end;
    }
  }
  if (stack.length !== 1) throw new XmlSyntaxError(`unclosed element <${top().name}>`);
  const [document] = root.children;
  if (!document || root.text.trim() !== '') throw new XmlSyntaxError('no root element');
  return document;
}

/** The first child named `name`, or undefined. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

function closeOf(text: string, terminator: string, from: number): number {
  const end = text.indexOf(terminator, from);
  if (end < 0) throw new XmlSyntaxError(`unterminated markup at offset ${from}`);
  return end + terminator.length;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

function appendText(element: XmlElement, raw: string): void {
  element.text += raw.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (match, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const entity = ENTITIES[ref];
    if (entity === undefined) throw new XmlSyntaxError(`unknown entity ${match}`);
    return entity;
  });
}
