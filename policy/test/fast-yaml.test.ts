import { randomBytes } from 'node:crypto';
import { CORE_SCHEMA, load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseFastYaml } from '../src/fast-yaml.js';
import { serializeDocument } from '../src/index.js';
import { stringifyYaml } from '../src/strict-yaml.js';
import { makeApproval, makeCatalog, makeEntry } from '../src/testing/index.js';

const reference = (text: string) => load(text, { schema: CORE_SCHEMA });

// Strings chosen to sit on the edges of YAML's plain-scalar and core-schema rules.
const TRICKY = [
  'true',
  'True',
  'false',
  'null',
  'Null',
  '~',
  '',
  ' ',
  'yes',
  'no',
  'on',
  '0',
  '-0',
  '007',
  '0o17',
  '0x1F',
  '1e3',
  '1.5',
  '.5',
  '+1',
  '-1',
  '.inf',
  '-.inf',
  '.nan',
  '123456789012345678901',
  '2026-11-22T10:00:00Z',
  'a: b',
  'a:b',
  'a #b',
  'a#b',
  '#x',
  '- x',
  '-',
  '-x',
  '--',
  '---',
  '...',
  "it's",
  '"q"',
  "'",
  '"',
  'x\\y',
  '[a]',
  '{a: 1}',
  '&a',
  '*a',
  '!t',
  '|',
  '>',
  '%x',
  '@x',
  '`x`',
  'a,b',
  'a b',
  ' a',
  'a ',
  'Ünïcödé',
  'tab\there',
  'bell\u0007',
  'nel\u0085',
  'bom\ufeff',
  'ls\u2028',
  'del\u007f',
  'nul\u0000',
  'line\nbreak',
  '=',
  '<<',
  '?',
  '? x',
  'a: ',
];

function randomDoc(): unknown {
  const pick = () => TRICKY[randomBytes(1).readUInt8(0) % TRICKY.length] as string;
  return {
    name: pick(),
    nested: { list: [pick(), pick(), 42, -7, true, null], deeper: { value: pick(), empty: [], none: {} } },
    entries: [
      { id: pick(), tags: [pick()] },
      { id: pick(), n: 3 },
    ],
  };
}

describe('fast YAML reader', () => {
  it('reads every serialized catalog and approval exactly as js-yaml does', () => {
    for (let i = 0; i < 20; i++) {
      const catalog = makeCatalog({
        entries: [makeEntry(), makeEntry({ voTags: ['cms', 'atlas'], version: '0012' })],
      });
      const bytes = serializeDocument(catalog);
      const text = bytes.toString();
      expect(parseFastYaml(text)).toEqual(reference(text));
      const approval = serializeDocument(
        makeApproval([{ catalog, bytes }], { threshold: 1, endorsers: [] }),
      ).toString();
      expect(parseFastYaml(approval)).toEqual(reference(approval));
    }
  });

  it('agrees with js-yaml on every document it accepts (differential, 2,000 random documents)', () => {
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const text = stringifyYaml(randomDoc());
      const fast = parseFastYaml(text);
      if (fast === undefined) continue;
      accepted++;
      expect(fast).toEqual(reference(text));
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it.each([
    ['a nested sequence', 'a:\n  - - x\n'],
    ['a sequence at the key indent', 'a:\n- x\n'],
    ['a multi-line plain scalar', 'a: one\n  two\n'],
    ['a trailing comment', 'a: b # c\n'],
    ['a flow collection', 'a: [b, c]\n'],
    ['a block scalar', 'a: |\n  text\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['an anchor', 'a: &x 1\n'],
    ['an alias', 'a: *x\n'],
    ['a tag', 'a: !!int 1\n'],
    ['a second document', 'a: 1\n---\nb: 2\n'],
    ['a root sequence', '- a\n'],
    ['an empty document', '# nothing\n'],
    ['a tab', 'a:\tb\n'],
    ['CRLF', 'a: b\r\n'],
    ['a control character', 'a: "b\u0007"\n'],
    ['a float', 'a: 1.5\n'],
    ['a dash value', 'a: -\n'],
    ['a __proto__ key', '__proto__: 1\n'],
    ['an indented document marker', '  ---\na: 1\n'],
    ['only a document marker', '---\n'],
    ['a control character in a comment', '# \u0007\na: 1\n'],
    ['a quoted value with a comment sign', "a: 'b #c'\n"],
  ])('leaves %s to js-yaml', (_label, text) => {
    expect(parseFastYaml(text)).toBeUndefined();
  });
});
