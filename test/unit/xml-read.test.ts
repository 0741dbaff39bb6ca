import { describe, expect, it } from 'vitest';
import { child, childrenNamed, parseXml } from '../../src/util/xml-read.ts';

describe('parseXml', () => {
  it('reads the Delete document with namespaces, entities and CDATA', () => {
    const doc = parseXml(
      '<?xml version="1.0"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>' +
        '<Object><Key>a &amp; b&#x2F;&lt;c&gt;</Key></Object><!-- note --><Object><Key><![CDATA[x<y]]></Key></Object></Delete>',
    );
    expect(doc.name).toBe('Delete');
    expect(child(doc, 'Quiet')?.text).toBe('true');
    expect(childrenNamed(doc, 'Object').map((o) => child(o, 'Key')?.text)).toEqual(['a & b/<c>', 'x<y']);
  });

  it('refuses what is not well formed, and any DTD', () => {
    for (const bad of ['<Delete><Object></Delete>', '<a></b>', 'text only', '<a/><b/>', '<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>', '<a>&unknown;</a>', '<a>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});
