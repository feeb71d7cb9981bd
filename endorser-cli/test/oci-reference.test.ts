// Image reference parsing with Docker Hub's defaults, as docker and skopeo read them.

import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../src/lib/oci-reference.js';

describe('parseImageReference', () => {
  it('applies Docker Hub defaults', () => {
    expect(parseImageReference('alpine')).toEqual({
      registry: 'registry-1.docker.io',
      repository: 'library/alpine',
      tag: 'latest',
      digest: undefined,
    });
    expect(parseImageReference('docker.io/cern/cc7:2024')).toMatchObject({
      registry: 'registry-1.docker.io',
      repository: 'cern/cc7',
      tag: '2024',
    });
  });

  it('reads registries with ports, tags and digests', () => {
    const d = `sha256:${'b'.repeat(64)}`;
    expect(parseImageReference(`localhost:5000/a/b/c:1.2@${d}`)).toEqual({
      registry: 'localhost:5000',
      repository: 'a/b/c',
      tag: '1.2',
      digest: d,
    });
    expect(parseImageReference(`reg.example.org/x@${d}`)).toEqual({
      registry: 'reg.example.org',
      repository: 'x',
      tag: undefined,
      digest: d,
    });
  });

  it('refuses malformed references', () => {
    expect(() => parseImageReference('Upper/case')).toThrow(/bad repository name/);
    expect(() => parseImageReference('a/b:bad tag')).toThrow(/bad tag/);
    expect(() => parseImageReference('a/b@sha256:short')).toThrow(/expected @sha256/);
  });
});
