// A minimal XML well-formedness check for the SVGs the diagnostics write: every tag is
// syntactically valid, closes in order, attributes are quoted and unique, text holds no
// bare '<' or stray '&', and there is exactly one root element. Returns the elements found.
import * as assert from 'node:assert/strict';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Concatenated text directly inside the element. */
  text: string;
  children: XmlElement[];
}

const NAME = '[A-Za-z_][\\w.:-]*';
const ATTR = new RegExp(`\\s+(${NAME})\\s*=\\s*("([^"<]*)"|'([^'<]*)')`, 'y');
const ENTITY = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function parseXml(src: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const text = (t: string) => {
    assert.ok(!ENTITY.test(t), `stray '&' in text near offset ${i}: ${JSON.stringify(t.slice(0, 40))}`);
    if (stack.length) stack[stack.length - 1].text += t;
    else assert.equal(t.trim(), '', `text outside the root element near offset ${i}`);
  };
  if (src.startsWith('<?xml')) i = src.indexOf('?>') + 2;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      text(src.slice(i));
      break;
    }
    text(src.slice(i, lt));
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      assert.ok(end > 0, 'unterminated comment');
      i = end + 3;
      continue;
    }
    const close = new RegExp(`</(${NAME})\\s*>`, 'y');
    close.lastIndex = i;
    const c = close.exec(src);
    if (c) {
      const top = stack.pop();
      assert.ok(top, `closing </${c[1]}> without an open element`);
      assert.equal(c[1], top.name, `</${c[1]}> closes <${top.name}>`);
      i = close.lastIndex;
      continue;
    }
    const open = new RegExp(`<(${NAME})`, 'y');
    open.lastIndex = i;
    const o = open.exec(src);
    assert.ok(o, `malformed tag at offset ${i}: ${JSON.stringify(src.slice(i, i + 40))}`);
    const el: XmlElement = { name: o[1], attrs: {}, text: '', children: [] };
    let j = open.lastIndex;
    for (;;) {
      ATTR.lastIndex = j;
      const a = ATTR.exec(src);
      if (!a) break;
      assert.ok(!(a[1] in el.attrs), `duplicate attribute ${a[1]} on <${el.name}>`);
      const value = a[3] ?? a[4];
      assert.ok(!ENTITY.test(value), `stray '&' in attribute ${a[1]} of <${el.name}>`);
      el.attrs[a[1]] = value;
      j = ATTR.lastIndex;
    }
    const rest = /\s*(\/?)>/y;
    rest.lastIndex = j;
    const r = rest.exec(src);
    assert.ok(r, `malformed tag <${el.name}> at offset ${i}: ${JSON.stringify(src.slice(j, j + 40))}`);
    if (stack.length) stack[stack.length - 1].children.push(el);
    else {
      assert.equal(root, null, 'more than one root element');
      root = el;
    }
    if (r[1] !== '/') stack.push(el);
    i = rest.lastIndex;
  }
  assert.equal(stack.length, 0, `unclosed elements: ${stack.map((e) => e.name).join(', ')}`);
  assert.ok(root, 'no root element');
  return root;
}

/** Every element of the tree (depth first) with the given name. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (e.name === name) out.push(e);
    e.children.forEach(walk);
  };
  walk(el);
  return out;
}
