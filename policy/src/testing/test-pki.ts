// A throw-away PKI for tests and the demo: root CA → issuing CA → endorsers and a site
// certificate, a revoked endorser, an expired one, an endorser from a CA nobody trusts,
// CRLs, and a CApath directory laid out as /etc/grid-security/certificates. issue() also
// makes TLS server and client certificates (subjectAltName, extendedKeyUsage).

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { type Certificate, derToPem, loadCertificate } from '../certificate.js';
import type { SignerCredentials } from '../cms-sign.js';
import { opensslNameHash } from '../names.js';
import { loadTrustAnchors, type TrustAnchors } from '../trust-anchors.js';
import type { IdentityRule } from '../verify.js';
import { buildCrl } from './crl-builder.js';

const DAY_MS = 24 * 3600 * 1000;
const BASE_DN = [
  { shortName: 'DC', value: 'org' },
  { shortName: 'DC', value: 'trustswarm-test' },
];

export interface TestIdentity extends SignerCredentials {
  name: string;
  certificatePem: string;
  privateKeyPem: string;
  privateKey: string;
  chainPem: string[];
  certificate: Certificate;
  /** The identity as a trust-list rule (slash-form DNs). */
  rule: IdentityRule;
  certPath: string;
  keyPath: string;
}

export interface TestCa {
  name: string;
  certificatePem: string;
  privateKeyPem: string;
  certificate: Certificate;
  key: KeyObject;
  serialCounter: number;
  revoked: Array<{ serialHex: string; revokedAt: Date }>;
}

export interface TestPki {
  dir: string;
  root: TestCa;
  intermediate: TestCa;
  endorsers: { alice: TestIdentity; bob: TestIdentity; carol: TestIdentity };
  site: TestIdentity;
  /** On the issuing CA's CRL. */
  revoked: TestIdentity;
  /** notAfter yesterday. */
  expired: TestIdentity;
  /** Issued by a CA that is not in the CApath. */
  untrusted: TestIdentity;
  /** The CA nobody trusts (the issuer of `untrusted`). */
  rogue: TestCa;
  caPathDir: string;
  bundlePem: string;
  anchors: TrustAnchors;
  /** Issues another end-entity certificate from the issuing CA. */
  issue(name: string, options?: IssueOptions): TestIdentity;
  /** Rewrites the CRLs in the CApath (e.g. after revoking), returning fresh anchors. */
  writeCaPath(options?: { nextUpdate?: Date }): TrustAnchors;
  revoke(identity: TestIdentity): void;
}

export type ExtendedKeyUsage = 'serverAuth' | 'clientAuth';
export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'keyAgreement';

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  ou?: string;
  issuer?: TestCa;
  /** The DNS names and IP addresses (v4 or v6) a TLS peer checks the host it reached against. */
  subjectAltName?: { dns?: readonly string[]; ip?: readonly string[] };
  /** None by default (a grid identity: any purpose); serverAuth / clientAuth for TLS. */
  extendedKeyUsage?: readonly ExtendedKeyUsage[];
  /**
   * Default: digitalSignature + nonRepudiation (a signing identity), or digitalSignature +
   * keyEncipherment when extendedKeyUsage is given (an RSA TLS certificate: TLS 1.3 signs,
   * TLS 1.2's RSA key exchange encrypts).
   */
  keyUsage?: readonly KeyUsage[];
}

type Extension = Record<string, unknown> & { name: string };

/** The extensions of an end-entity certificate as `options` ask. */
function leafExtensions(options: IssueOptions): Extension[] {
  const tls = options.extendedKeyUsage !== undefined && options.extendedKeyUsage.length > 0;
  const usage =
    options.keyUsage ??
    (tls ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature', 'nonRepudiation']);
  const extensions: Extension[] = [
    { name: 'keyUsage', critical: true, ...Object.fromEntries(usage.map((bit) => [bit, true])) },
  ];
  if (tls)
    extensions.push({
      name: 'extKeyUsage',
      ...Object.fromEntries((options.extendedKeyUsage ?? []).map((eku) => [eku, true])),
    });
  const { dns = [], ip = [] } = options.subjectAltName ?? {};
  if (dns.length + ip.length > 0)
    extensions.push({
      name: 'subjectAltName',
      altNames: [
        ...dns.map((value) => ({ type: 2, value })),
        ...ip.map((address) => ({ type: 7, ip: address })),
      ],
    });
  return extensions;
}

function newKey(): { key: KeyObject; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { key: privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function dnAttrs(cn: string, ou?: string): forge.pki.CertificateField[] {
  const attrs: forge.pki.CertificateField[] = BASE_DN.map((a) => ({
    type: '0.9.2342.19200300.100.1.25',
    value: a.value,
    valueTagClass: forge.asn1.Type.IA5STRING as unknown as forge.asn1.Class,
  }));
  if (ou) attrs.push({ shortName: 'OU', value: ou });
  attrs.push({ shortName: 'CN', value: cn });
  return attrs;
}

function makeCert(opts: {
  subject: forge.pki.CertificateField[];
  publicKeyPem: string;
  issuer: { attrs: forge.pki.CertificateField[]; keyPem: string } | 'self';
  selfKeyPem: string;
  serial: number;
  notBefore: Date;
  notAfter: Date;
  /** Set for a CA; an end-entity certificate's own extensions otherwise. */
  ca: boolean;
  leaf?: Extension[];
}): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(opts.publicKeyPem);
  cert.serialNumber = `${opts.serial.toString(16).padStart(2, '0')}${randomBytes(4).toString('hex')}`.replace(
    /^[89a-f]/,
    '1',
  );
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = opts.notAfter;
  cert.setSubject(opts.subject);
  cert.setIssuer(opts.issuer === 'self' ? opts.subject : opts.issuer.attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: opts.ca, critical: true },
    ...(opts.ca
      ? [{ name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : (opts.leaf ?? [])),
    { name: 'subjectKeyIdentifier' },
  ]);
  const signingKeyPem = opts.issuer === 'self' ? opts.selfKeyPem : opts.issuer.keyPem;
  const rsaPem = createPrivateKey(signingKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
  cert.sign(forge.pki.privateKeyFromPem(rsaPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function publicPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

function makeCa(name: string, cn: string, parent: TestCa | undefined, now: Date): TestCa {
  const { key, pem } = newKey();
  const subject = dnAttrs(cn);
  const certificatePem = makeCert({
    subject,
    publicKeyPem: publicPem(key),
    issuer: parent
      ? {
          attrs: forge.pki.certificateFromPem(parent.certificatePem).subject.attributes,
          keyPem: parent.privateKeyPem,
        }
      : 'self',
    selfKeyPem: pem,
    serial: parent ? ++parent.serialCounter : 1,
    notBefore: new Date(now.getTime() - 30 * DAY_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    ca: true,
  });
  return {
    name,
    certificatePem,
    privateKeyPem: pem,
    certificate: loadCertificate(certificatePem),
    key,
    serialCounter: 16,
    revoked: [],
  };
}

export async function createTestPki(dir: string, options: { now?: Date } = {}): Promise<TestPki> {
  const now = options.now ?? new Date();
  mkdirSync(dir, { recursive: true });
  const root = makeCa('root', 'TrustSwarm Test Root CA', undefined, now);
  const intermediate = makeCa('intermediate', 'TrustSwarm Test Issuing CA', root, now);
  const rogueCa = makeCa('rogue', 'Rogue CA', undefined, now);
  const caPathDir = join(dir, 'certificates');

  const issue = (name: string, opts: IssueOptions = {}): TestIdentity => {
    const ca = opts.issuer ?? intermediate;
    const { key, pem } = newKey();
    const certificatePem = makeCert({
      subject: dnAttrs(name, opts.ou ?? 'people'),
      publicKeyPem: publicPem(key),
      issuer: {
        attrs: forge.pki.certificateFromPem(ca.certificatePem).subject.attributes,
        keyPem: ca.privateKeyPem,
      },
      selfKeyPem: pem,
      serial: ++ca.serialCounter,
      notBefore: opts.notBefore ?? new Date(now.getTime() - DAY_MS),
      notAfter: opts.notAfter ?? new Date(now.getTime() + 365 * DAY_MS),
      ca: false,
      leaf: leafExtensions(opts),
    });
    const certificate = loadCertificate(certificatePem);
    const idDir = join(dir, 'identities', name.replace(/[^A-Za-z0-9._-]/g, '_'));
    mkdirSync(idDir, { recursive: true });
    const certPath = join(idDir, 'usercert.pem');
    const keyPath = join(idDir, 'userkey.pem');
    writeFileSync(certPath, certificatePem);
    writeFileSync(keyPath, pem, { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    const chainPem = ca === intermediate ? [intermediate.certificatePem] : [];
    return {
      name,
      certificatePem,
      privateKeyPem: pem,
      privateKey: pem,
      chainPem,
      certificate,
      rule: { issuer: certificate.issuer, subject: certificate.subject },
      certPath,
      keyPath,
    };
  };

  const writeCaPath = (opts: { nextUpdate?: Date } = {}): TrustAnchors => {
    mkdirSync(caPathDir, { recursive: true });
    const nextUpdate = opts.nextUpdate ?? new Date(now.getTime() + 30 * DAY_MS);
    const bundle: string[] = [];
    for (const ca of [root, intermediate]) {
      const hash = opensslNameHash(ca.certificate.subjectDer);
      const crlDer = buildCrl({
        issuerNameDer: ca.certificate.subjectDer,
        issuerKey: ca.key,
        revoked: ca.revoked,
        thisUpdate: new Date(now.getTime() - 3600_000),
        nextUpdate,
        crlNumber: Math.floor(now.getTime() / 1000),
      });
      writeFileSync(join(caPathDir, `${hash}.0`), ca.certificatePem);
      writeFileSync(join(caPathDir, `${hash}.r0`), derToPem(crlDer, 'X509 CRL'));
      bundle.push(ca.certificatePem, derToPem(crlDer, 'X509 CRL'));
    }
    writeFileSync(join(dir, 'ca-bundle.pem'), bundle.join(''));
    return loadTrustAnchors({ caPath: caPathDir });
  };

  const revoke = (identity: TestIdentity): void => {
    intermediate.revoked.push({
      serialHex: identity.certificate.serialHex,
      revokedAt: new Date(now.getTime() - 3600_000),
    });
  };

  const endorsers = {
    alice: issue('Alice Endorser'),
    bob: issue('Bob Endorser'),
    carol: issue('Carol Endorser'),
  };
  const site = issue('site EXAMPLE-SITE', { ou: 'sites' });
  const revoked = issue('Dave Revoked');
  revoke(revoked);
  const expired = issue('Eve Expired', {
    notBefore: new Date(now.getTime() - 400 * DAY_MS),
    notAfter: new Date(now.getTime() - DAY_MS),
  });
  const untrusted = issue('Mallory Untrusted', { issuer: rogueCa });
  const anchors = writeCaPath();
  const pki: TestPki = {
    dir,
    root,
    intermediate,
    endorsers,
    site,
    revoked,
    expired,
    untrusted,
    rogue: rogueCa,
    caPathDir,
    bundlePem: [root.certificatePem, intermediate.certificatePem].join(''),
    anchors,
    issue,
    writeCaPath: (o) => {
      pki.anchors = writeCaPath(o);
      return pki.anchors;
    },
    revoke,
  };
  return pki;
}
