import { describe, expect, it } from 'vitest';
import { parseApproval, parseCatalog, parseTrustList, serializeDocument, TrustError } from '../src/index.js';
import { makeApproval, makeCatalog, makeEntry } from '../src/testing/index.js';

function rejection(fn: () => unknown): TrustError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrustError) return err;
    throw err;
  }
  throw new Error('expected a TrustError');
}

const catalogYaml = (extra = '') =>
  Buffer.from(serializeDocument(makeCatalog()).toString('utf8') + extra, 'utf8');

describe('strict YAML of signed documents', () => {
  it('round-trips a catalog through canonical YAML', () => {
    const catalog = makeCatalog({
      entries: [
        makeEntry({ version: '1287689372' }),
        makeEntry({ kind: 'repo-snapshot', cvmfs: { repository: 'sw.example.org', path: '/cms/14.0.0' } }),
      ],
    });
    const bytes = serializeDocument(catalog);
    expect(parseCatalog(bytes)).toEqual(catalog);
    // A numeric-looking version string stays a string.
    expect(bytes.toString()).toContain("version: '1287689372'");
  });

  it('rejects YAML anchors and aliases', () => {
    const text = `${catalogYaml().toString()}x-anchor: &a {k: 1}\n`;
    expect(rejection(() => parseCatalog(Buffer.from(text))).message).toMatch(/anchor &a is not allowed/);
    const alias = catalogYaml()
      .toString()
      .replace(/^name: (.*)$/m, 'name: &n $1')
      .replace(/^kind: Catalog$/m, 'kind: Catalog\ndescription: *n');
    const err = rejection(() => parseCatalog(Buffer.from(alias)));
    expect(err.code).toBe('PARSE_ERROR');
    expect(err.message).toMatch(/(anchor|alias)/);
  });

  it('rejects custom and explicit tags', () => {
    const text = catalogYaml()
      .toString()
      .replace(/^name: (.*)$/m, 'name: !python/object $1');
    const err = rejection(() => parseCatalog(Buffer.from(text)));
    expect(err.code).toBe('PARSE_ERROR');
    expect(err.message).toMatch(/tag !python\/object is not allowed/);
    const core = catalogYaml()
      .toString()
      .replace(/^version: 1$/m, 'version: !!int 1');
    expect(rejection(() => parseCatalog(Buffer.from(core))).message).toMatch(/tag .* is not allowed/);
  });

  it('rejects duplicate keys, naming the line', () => {
    const text = catalogYaml()
      .toString()
      .replace(/^kind: Catalog$/m, 'kind: Catalog\nkind: Catalog');
    const err = rejection(() => parseCatalog(Buffer.from(text)));
    expect(err.code).toBe('PARSE_ERROR');
    expect(err.message).toMatch(/catalog\.yaml: duplicate key \(line 3/);
  });

  it('rejects several documents in one file', () => {
    const err = rejection(() => parseCatalog(catalogYaml('---\nkind: Catalog\n')));
    expect(err.message).toMatch(/exactly one YAML document/);
  });

  it('rejects an unknown apiVersion or kind', () => {
    const v2 = catalogYaml().toString().replace('trustswarm/v1', 'trustswarm/v2');
    expect(rejection(() => parseCatalog(Buffer.from(v2))).message).toMatch(
      /unknown apiVersion "trustswarm\/v2"/,
    );
    expect(rejection(() => parseApproval(catalogYaml())).message).toMatch(
      /kind: expected Approval, found "Catalog"/,
    );
  });

  it('rejects documents over the size limit before parsing', () => {
    const err = rejection(() => parseCatalog(catalogYaml(), { maxDocumentBytes: 100 }));
    expect(err.code).toBe('DOCUMENT_TOO_LARGE');
    const big = Buffer.alloc(16 * 1024 * 1024 + 1, 0x20);
    expect(rejection(() => parseCatalog(big)).code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('rejects invalid UTF-8', () => {
    expect(rejection(() => parseCatalog(Buffer.from([0x6b, 0x3a, 0xff, 0x0a]))).message).toMatch(/UTF-8/);
  });

  it('names the document and the field of a schema error, and every other error too', () => {
    const catalog = makeCatalog();
    const text = serializeDocument(catalog)
      .toString()
      .replace(/sha256: [0-9a-f]{64}/, 'sha256: not-a-hash')
      .replace(/^name: .*$/m, 'name: "bad name!"');
    const err = rejection(() => parseCatalog(Buffer.from(text)));
    expect(err.code).toBe('SCHEMA_INVALID');
    expect(err.reasons.map((r) => r.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^catalog\.yaml: name: expected letters/),
        expect.stringMatching(/^catalog\.yaml: entries\[0\]\.artifact\.sha256: expected a sha256 digest/),
      ]),
    );
  });

  it('rejects unknown keys, duplicate entry ids and kind-specific gaps', () => {
    const withUnknown = `${catalogYaml().toString()}surprise: 1\n`;
    expect(rejection(() => parseCatalog(Buffer.from(withUnknown))).message).toMatch(/surprise/);
    const e = makeEntry();
    const dup = serializeDocument(makeCatalog({ entries: [makeEntry()] })).toString();
    expect(() => serializeDocument(makeCatalog({ entries: [e, { ...e }] }))).toThrow(/duplicate id/);
    expect(dup).toContain('entries:');
    expect(() =>
      serializeDocument(
        makeCatalog({ entries: [makeEntry({ kind: 'container-image', artifact: undefined })] }),
      ),
    ).toThrow(/entries\[0\]\.oci: required for kind container-image/);
  });

  it('rejects path tricks in CVMFS paths and file names', () => {
    const entry = makeEntry({
      kind: 'repo-snapshot',
      cvmfs: { repository: 'sw.example.org', path: '/cms/../etc' },
    });
    expect(() => serializeDocument(makeCatalog({ entries: [entry] }))).toThrow(/must not contain/);
    const file = makeEntry();
    if (!file.artifact) throw new Error('fixture has an artifact');
    file.artifact.fileName = '../../etc/passwd';
    expect(() => serializeDocument(makeCatalog({ entries: [file] }))).toThrow(/plain file name/);
  });

  it('parses approvals and trust lists', () => {
    const catalog = makeCatalog();
    const approval = makeApproval([{ catalog, bytes: serializeDocument(catalog) }], {
      threshold: 1,
      endorsers: [{ issuer: '/DC=org/CN=CA', subject: '/DC=org/CN=Alice', scope: { voTags: ['cms'] } }],
    });
    expect(parseApproval(serializeDocument(approval))).toEqual(approval);
    const list = {
      apiVersion: 'trustswarm/v1' as const,
      kind: 'TrustList' as const,
      name: 'egi',
      version: 3,
      issued: '2026-11-01T00:00:00Z',
      expires: '2026-12-01T00:00:00Z',
      endorsers: [{ issuer: '/DC=org/CN=CA', subject: '/DC=org/CN=host/node1.example.org' }],
    };
    expect(parseTrustList(serializeDocument(list))).toEqual(list);
  });

  it('rejects DNs that are not in slash form', () => {
    const list = Buffer.from(
      'apiVersion: trustswarm/v1\nkind: TrustList\nname: x\nversion: 1\nissued: 2026-11-01T00:00:00Z\nexpires: 2026-12-01T00:00:00Z\nendorsers:\n  - issuer: "CN=CA, DC=org"\n    subject: /CN=A\n',
    );
    expect(rejection(() => parseTrustList(list)).message).toMatch(
      /endorsers\[0\]\.issuer: expected a DN in slash form/,
    );
  });
});
