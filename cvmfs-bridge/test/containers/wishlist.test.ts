// Wishlist parsing (DUCC format) and webhook payload parsing: what is accepted, and that bad
// or hostile documents are refused with one clear code.
import { describe, expect, it } from 'vitest';
import { parseDockerNotification, parseHarborWebhook } from '../../src/containers/webhook-payloads.js';
import { parseWishlist } from '../../src/containers/wishlist.js';

describe('wishlists', () => {
  it('reads the DUCC format with Docker Hub defaults and tag globs', () => {
    const w = parseWishlist(
      [
        'version: 1',
        'user: smosciat',
        "cvmfs_repo: 'unpacked.cern.ch'",
        "output_format: '$(scheme)://registry.gitlab.cern.ch/thesis/$(image)'",
        'input:',
        "  - 'https://registry.hub.docker.com/econtal/numpy-mkl:latest'",
        "  - 'https://registry.hub.docker.com/library/fedora:*'",
        "  - 'http://127.0.0.1:5000/test/img:v?'",
        '',
      ].join('\n'),
    );
    expect(w).toMatchObject({ name: 'smosciat', fqrn: 'unpacked.cern.ch' });
    expect(w.inputs).toEqual([
      { registry: 'registry.hub.docker.com', repository: 'econtal/numpy-mkl', tag: 'latest' },
      { registry: 'registry.hub.docker.com', repository: 'library/fedora', tag: '*' },
      { registry: '127.0.0.1:5000', repository: 'test/img', tag: 'v?' },
    ]);
  });

  it('refuses anchors/aliases, duplicate keys, wrong versions, bad references and non-YAML', () => {
    const cases: [string, RegExp][] = [
      ['version: 1\nuser: &u x\ncvmfs_repo: *u\ninput: []\n', /alias/i],
      ['version: 1\nuser: x\nuser: y\ncvmfs_repo: r.org\ninput: []\n', /unique|duplicate/i],
      ['version: 2\nuser: x\ncvmfs_repo: r.org\ninput: []\n', /version/],
      ['version: 1\nuser: x\ncvmfs_repo: r.org\ninput: ["reg.org/Bad/Name:1"]\n', /bad repository name/],
      [
        'version: 1\nuser: x\ncvmfs_repo: r.org\ninput: ["reg.org/a/b@sha256:' + 'a'.repeat(64) + '"]\n',
        /digests are not supported/,
      ],
      ['input: [unclosed\n', /wishlist/],
    ];
    for (const [text, message] of cases)
      expect(() => parseWishlist(text), text).toThrow(
        expect.objectContaining({ code: 'WISHLIST_INVALID', message: expect.stringMatching(message) }),
      );
  });
});

describe('webhook payloads', () => {
  const event = (action: string, target: Record<string, unknown>) => ({
    events: [
      {
        action,
        target: { repository: 'a/b', url: 'http://reg.example.org:5000/v2/a/b/manifests/x', ...target },
      },
    ],
  });

  it('keeps manifest pushes and deletes, ignores pulls and blob pushes', () => {
    expect(
      parseDockerNotification(
        event('push', { tag: 'v1', mediaType: 'application/vnd.oci.image.manifest.v1+json' }),
      ),
    ).toEqual([{ registry: 'reg.example.org:5000', repository: 'a/b', action: 'push', tag: 'v1' }]);
    expect(parseDockerNotification(event('push', { mediaType: 'application/octet-stream' }))).toEqual([]);
    expect(parseDockerNotification(event('pull', { tag: 'v1' }))).toEqual([]);
    expect(parseDockerNotification(event('delete', { digest: `sha256:${'b'.repeat(64)}` }))).toHaveLength(1);
    expect(() => parseDockerNotification({ nope: true })).toThrow(
      expect.objectContaining({ code: 'WEBHOOK_INVALID' }),
    );
  });

  it('reads Harbor PUSH_ARTIFACT / DELETE_ARTIFACT and ignores other types', () => {
    const harbor = (type: string) => ({
      type,
      event_data: {
        resources: [{ tag: 'latest', resource_url: 'harbor.example.org/library/alpine:latest' }],
        repository: { repo_full_name: 'library/alpine' },
      },
    });
    expect(parseHarborWebhook(harbor('PUSH_ARTIFACT'))).toEqual([
      { registry: 'harbor.example.org', repository: 'library/alpine', action: 'push', tag: 'latest' },
    ]);
    expect(parseHarborWebhook(harbor('DELETE_ARTIFACT'))[0]?.action).toBe('delete');
    expect(parseHarborWebhook(harbor('SCANNING_COMPLETED'))).toEqual([]);
    expect(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT' })).toThrow(
      expect.objectContaining({ code: 'WEBHOOK_INVALID' }),
    );
  });
});
