// The bucket-notification parser on its own: every record of a message, raw and URL-encoded
// keys, prefix and path mapping, tars; and each hostile form refused with its code.
import { describe, expect, it } from 'vitest';
import { S3FlowSchema } from '../../src/flows/config.js';
import { parseEventMessage } from '../../src/flows/s3/events.js';

const config = S3FlowSchema.parse({
  buckets: [
    { bucket: 'bkt', repository: 'sw.example.org' },
    { bucket: 'apps', repository: 'apps.example.org', prefix: 'cvmfs/', path: '/opt/apps' },
  ],
  maxObjectBytes: 1000,
});

const rec = (key: string, o: Record<string, unknown> = {}) => ({
  eventSource: 'ceph:s3',
  eventName: 'ObjectCreated:Put',
  s3: { bucket: { name: 'bkt' }, object: { key, size: 5, eTag: '"abc"' } },
  ...o,
});
const msg = (...records: unknown[]) => Buffer.from(JSON.stringify({ Records: records }));

describe('parseEventMessage', () => {
  it('handles every record, maps paths, tars and removals', () => {
    const { changes, ignored } = parseEventMessage(
      msg(
        rec('cvmfs/a/b.txt'),
        rec('cvmfs/pkg/tool.tar'),
        rec('cvmfs/gone.txt', { eventName: 's3:ObjectRemoved:Delete' }),
        rec('other/x'),
        rec('cvmfs/dir/'),
        { ...rec('cvmfs/lib/x.so'), s3: { bucket: { name: 'apps' }, object: { key: 'cvmfs/lib/x.so' } } },
      ),
      config,
    );
    expect(ignored).toBe(2);
    expect(changes.map((c) => [c.repository, c.target, c.kind, c.action, c.etag])).toEqual([
      ['sw.example.org', '/a/b.txt', 'file', 'put', 'abc'],
      ['sw.example.org', '/pkg/tool', 'tar', 'put', 'abc'],
      ['sw.example.org', '/gone.txt', 'file', 'remove', 'abc'],
      ['apps.example.org', '/opt/apps/lib/x.so', 'file', 'put', ''],
    ]);
  });

  it('keeps Ceph keys raw and decodes AWS/MinIO keys (or as configured)', () => {
    const raw = parseEventMessage(msg(rec('cvmfs/a b+c%41')), config).changes[0];
    expect(raw?.target).toBe('/a b+c%41');
    const aws = parseEventMessage(msg(rec('cvmfs/a+b%2Bc%41', { eventSource: 'aws:s3' })), config).changes[0];
    expect(aws?.target).toBe('/a b+cA');
    const forced = parseEventMessage(msg(rec('cvmfs/a%20b')), { ...config, keyEncoding: 'url' }).changes[0];
    expect(forced?.target).toBe('/a b');
    expect(parseEventMessage(Buffer.from('{"Event":"s3:TestEvent"}'), config)).toEqual({
      changes: [],
      ignored: 1,
    });
  });

  it.each([
    ['not JSON', Buffer.from('nope'), 'MESSAGE_INVALID'],
    ['array', Buffer.from('[]'), 'MESSAGE_INVALID'],
    ['empty records', msg(), 'MESSAGE_INVALID'],
    [
      'unknown bucket',
      msg({ ...rec('cvmfs/a'), s3: { bucket: { name: 'evil' }, object: { key: 'cvmfs/a' } } }),
      'UNKNOWN_BUCKET',
    ],
    ['dot-dot', msg(rec('cvmfs/../x')), 'BAD_KEY'],
    ['encoded dot-dot', msg(rec('cvmfs/%2E%2E/x', { eventSource: 'aws:s3' })), 'BAD_KEY'],
    ['absolute', msg(rec('cvmfs//etc/passwd')), 'BAD_KEY'],
    ['dot', msg(rec('cvmfs/./x')), 'BAD_KEY'],
    ['empty component', msg(rec('cvmfs/a//x')), 'BAD_KEY'],
    ['NUL', msg(rec('cvmfs/a\u0000')), 'BAD_KEY'],
    ['encoded NUL', msg(rec('cvmfs/a%00b', { eventSource: 'minio:s3' })), 'BAD_KEY'],
    ['bad encoding', msg(rec('cvmfs/%zz', { eventSource: 'aws:s3' })), 'BAD_KEY'],
    ['bare .tar', msg(rec('cvmfs/d/.tar')), 'BAD_KEY'],
    ['long key', msg(rec(`cvmfs/${'a'.repeat(2000)}`)), 'BAD_KEY'],
    [
      'huge object',
      msg(rec('cvmfs/a', { s3: { bucket: { name: 'bkt' }, object: { key: 'cvmfs/a', size: 1001 } } })),
      'OBJECT_TOO_LARGE',
    ],
    [
      'negative size',
      msg(rec('cvmfs/a', { s3: { bucket: { name: 'bkt' }, object: { key: 'cvmfs/a', size: -1 } } })),
      'MESSAGE_INVALID',
    ],
    ['unknown event', msg(rec('cvmfs/a', { eventName: 'ObjectTagging:Put' })), 'MESSAGE_INVALID'],
    ['one bad record among good', msg(rec('cvmfs/ok'), rec('cvmfs/../bad')), 'BAD_KEY'],
    ['too large', Buffer.alloc(2 * 1024 * 1024, 32), 'MESSAGE_TOO_LARGE'],
  ])('refuses %s', (_name, body, code) => {
    expect(() => parseEventMessage(body, config)).toThrow(expect.objectContaining({ code }));
  });
});
