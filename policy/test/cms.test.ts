import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrustAnchors, opensslNameHash, signDetached, TrustError, verifyDetached } from '../src/index.js';
import { createTestPki, opensslCmsVerify, type TestPki } from '../src/testing/index.js';
import { flipByte, opensslSign, requireOpenssl, tempDir } from './helpers.js';

let pki: TestPki;
let dir: string;
// Non-ASCII and CRLF-free bytes: forge must sign the bytes, not a re-encoded string.
const content = Buffer.from('apiVersion: trustswarm/v1\nname: "Ünïcödé — catalog"\n', 'utf8');

beforeAll(async () => {
  requireOpenssl();
  dir = tempDir();
  pki = await createTestPki(join(dir, 'pki'));
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrustError) return err.code;
    throw err;
  }
  throw new Error('expected a TrustError, nothing was thrown');
}

describe('detached CMS signatures', () => {
  it('signs and verifies exact bytes, naming the signer', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    const v = verifyDetached(content, sig, pki.anchors);
    expect(v.identity.subject).toBe('/DC=org/DC=trustswarm-test/OU=people/CN=Alice Endorser');
    expect(v.identity.issuer).toBe('/DC=org/DC=trustswarm-test/CN=TrustSwarm Test Issuing CA');
    expect(v.chain.map((c) => c.subject)).toHaveLength(3);
    expect(v.signerCertSha256).toBe(pki.endorsers.alice.certificate.sha256);
  });

  it('puts the signed attributes in DER order: contentType, signingTime, messageDigest', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    const hex = sig.toString('hex');
    const ct = hex.indexOf('06092a864886f70d010903');
    const st = hex.indexOf('06092a864886f70d010905');
    const md = hex.indexOf('06092a864886f70d010904');
    expect(ct).toBeGreaterThan(0);
    expect(ct).toBeLessThan(st);
    expect(st).toBeLessThan(md);
  });

  it('rejects tampered bytes', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    const tampered = flipByte(content, 5);
    expect(codeOf(() => verifyDetached(tampered, sig, pki.anchors))).toBe('DIGEST_MISMATCH');
  });

  it('rejects a signature whose signature value was altered', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    const bad = flipByte(sig, -10, 0xff);
    expect(codeOf(() => verifyDetached(content, bad, pki.anchors))).toBe('SIGNATURE_INVALID');
  });

  it('rejects garbage and truncated signatures', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    expect(codeOf(() => verifyDetached(content, Buffer.from('not a signature'), pki.anchors))).toBe(
      'SIGNATURE_MALFORMED',
    );
    expect(codeOf(() => verifyDetached(content, sig.subarray(0, sig.length - 3), pki.anchors))).toBe(
      'SIGNATURE_MALFORMED',
    );
  });

  it('rejects a signer from an unknown CA', () => {
    const sig = signDetached(content, pki.untrusted);
    expect(codeOf(() => verifyDetached(content, sig, pki.anchors))).toBe('CERT_UNTRUSTED');
  });

  it('rejects a revoked signer', () => {
    const sig = signDetached(content, pki.revoked);
    expect(codeOf(() => verifyDetached(content, sig, pki.anchors))).toBe('CERT_REVOKED');
  });

  it('rejects an expired certificate, even for a signature made while it was valid', () => {
    const signingTime = new Date(pki.expired.certificate.notAfter.getTime() - 3600_000);
    const sig = signDetached(content, pki.expired, { signingTime });
    expect(codeOf(() => verifyDetached(content, sig, pki.anchors))).toBe('CERT_EXPIRED');
  });

  it('rejects a signing time in the future', () => {
    const sig = signDetached(content, pki.endorsers.alice, { signingTime: new Date(Date.now() + 86400_000) });
    expect(codeOf(() => verifyDetached(content, sig, pki.anchors))).toBe('SIGNING_TIME_INVALID');
  });

  it('fails closed when the CRL is missing or stale', async () => {
    const sig = signDetached(content, pki.endorsers.alice);
    const noCrl = loadTrustAnchors({ bundlePem: pki.bundlePem });
    expect(codeOf(() => verifyDetached(content, sig, noCrl))).toBe('CRL_MISSING');
    const staleDir = tempDir();
    const stale = await createTestPki(staleDir);
    const staleAnchors = stale.writeCaPath({ nextUpdate: new Date(Date.now() - 60_000) });
    const staleSig = signDetached(content, stale.endorsers.alice);
    expect(codeOf(() => verifyDetached(content, staleSig, staleAnchors))).toBe('CRL_EXPIRED');
  });

  it('accepts a PEM bundle with CRLs as trust anchors', () => {
    const sig = signDetached(content, pki.endorsers.bob);
    const anchors = loadTrustAnchors({ bundlePem: readFileSync(join(pki.dir, 'ca-bundle.pem')) });
    expect(verifyDetached(content, sig, anchors).identity.subject).toContain('Bob Endorser');
  });

  it('refuses a key that does not match the certificate', () => {
    expect(() =>
      signDetached(content, { ...pki.endorsers.alice, privateKey: pki.endorsers.bob.privateKeyPem }),
    ).toThrow(/does not match/);
  });
});

describe('conformance with stock OpenSSL', () => {
  it('names CApath files with the same hash as openssl x509 -hash', async () => {
    const { execFileSync } = await import('node:child_process');
    const certPath = join(dir, 'root.pem');
    writeFileSync(certPath, pki.root.certificatePem);
    const expected = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', certPath], {
      encoding: 'utf8',
    }).trim();
    expect(opensslNameHash(pki.root.certificate.subjectDer)).toBe(expected);
  });

  it('openssl cms -verify accepts every signature we make', () => {
    for (const who of [pki.endorsers.alice, pki.endorsers.bob, pki.site]) {
      const sig = signDetached(content, who);
      const r = opensslCmsVerify(content, sig, pki.caPathDir);
      expect(r.stderr).toContain('Verification successful');
      expect(r.ok).toBe(true);
    }
  });

  it('openssl rejects our signature over tampered bytes and from a revoked signer', () => {
    const sig = signDetached(content, pki.endorsers.alice);
    expect(opensslCmsVerify(Buffer.concat([content, Buffer.from('x')]), sig, pki.caPathDir).ok).toBe(false);
    const revokedSig = signDetached(content, pki.revoked);
    const r = opensslCmsVerify(content, revokedSig, pki.caPathDir);
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/revoked/i);
  });

  it('we verify signatures made by openssl cms -sign', () => {
    const chainPath = join(dir, 'chain.pem');
    writeFileSync(chainPath, pki.intermediate.certificatePem);
    const sig = opensslSign(
      dir,
      content,
      pki.endorsers.carol.certPath,
      pki.endorsers.carol.keyPath,
      chainPath,
    );
    expect(verifyDetached(content, sig, pki.anchors).identity.subject).toContain('Carol Endorser');
  });

  it('we reject an openssl-made signature from a revoked signer', () => {
    const sig = opensslSign(dir, content, pki.revoked.certPath, pki.revoked.keyPath);
    expect(codeOf(() => verifyDetached(content, sig, pki.anchors))).toBe('CERT_REVOKED');
  });
});
