import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { parseGetfattr, sameXattrs } from '../src/writer/dir-xattrs.js';

describe('getfattr output', () => {
  it('reads names with octal escapes and hex values', () => {
    const out = '# file: /src/a\\012b\nuser.x=0x6869\nuser.empty=0x\n\n# file: /src/plain\nuser.y=0x00ff\n\n';
    const tree = parseGetfattr(out);
    expect([...tree.keys()]).toEqual(['/src/a\nb', '/src/plain']);
    expect(tree.get('/src/a\nb')?.get('user.x')?.toString()).toBe('hi');
    expect(tree.get('/src/a\nb')?.get('user.empty')?.length).toBe(0);
    expect(tree.get('/src/plain')?.get('user.y')).toEqual(Buffer.from([0, 255]));
  });

  it('refuses output it does not understand instead of guessing', () => {
    let caught: unknown;
    try {
      parseGetfattr('# file: /a\nuser.x="text"\n');
    } catch (err) {
      caught = err;
    }
    expect(isBridgeError(caught, 'BAD_INPUT')).toBe(true);
  });

  it('compares attribute sets by value', () => {
    const a = new Map([['user.a', Buffer.from('1')]]);
    expect(sameXattrs(a, new Map([['user.a', Buffer.from('1')]]))).toBe(true);
    expect(sameXattrs(a, new Map([['user.a', Buffer.from('2')]]))).toBe(false);
    expect(sameXattrs(undefined, new Map())).toBe(true);
    expect(sameXattrs(a, undefined)).toBe(false);
  });
});
