// Verification of one detached CMS SignedData (RFC 5652) over exact bytes, with node:crypto.
// Steps, each throwing a TrustError: structure → content type and digest → signer
// certificate → signature over the signed attributes → certificate chain at the signing
// time and now, with CRLs.

import { timingSafeEqual, verify } from 'node:crypto';
import { type DigestName, digestForOid, signatureDigest } from './algorithms.js';
import { type Certificate, type Identity, identityOf, parseCertificateDer } from './certificate.js';
import { validateChain } from './chain.js';
import { content, DerReader, integerHex, type Tlv, whole } from './der.js';
import { DigestCache } from './digest-cache.js';
import { TrustError } from './errors.js';
import { canonicalNameFromDer } from './names.js';
import type { TrustAnchors } from './trust-anchors.js';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_DATA = '1.2.840.113549.1.7.1';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

export const MAX_SIGNATURE_BYTES = 1024 * 1024;
/** How far in the future a signing time may lie before it is refused (clock skew). */
export const SIGNING_TIME_SKEW_MS = 5 * 60_000;

export interface VerifiedSignature {
  identity: Identity;
  certificate: Certificate;
  chain: Certificate[];
  signingTime: Date;
  /** sha256 of the signer certificate DER: the name of the signature file in the layout. */
  signerCertSha256: string;
}

interface ParsedSignerInfo {
  sid: { issuerDer: Buffer; serialHex: string } | { subjectKeyId: Buffer };
  digest: DigestName;
  signedAttrs: Tlv;
  signatureAlgorithm: string;
  signature: Buffer;
}

interface ParsedSignedData {
  certificates: Certificate[];
  signer: ParsedSignerInfo;
}

function parseSignedData(r: DerReader): ParsedSignedData {
  const [typeTlv, wrapper] = r.children(r.expect(r.root(), 0x30, 'ContentInfo'));
  if (r.oid(typeTlv, 'content type') !== OID_SIGNED_DATA) r.fail('not a CMS SignedData');
  const [signedData] = r.children(r.expect(wrapper, 0xa0, 'SignedData wrapper'));
  const parts = r.children(r.expect(signedData, 0x30, 'SignedData'));
  const encap = r.children(r.expect(parts[2], 0x30, 'EncapsulatedContentInfo'));
  if (r.oid(encap[0], 'eContentType') !== OID_DATA) r.fail('encapsulated content type is not id-data');
  if (encap.length > 1) r.fail('signature is not detached (it carries content)');
  const certificates: Certificate[] = [];
  const certSet = parts.find((p, i) => i > 2 && p.tag === 0xa0);
  for (const c of certSet ? r.children(certSet) : []) {
    if (c.tag === 0x30) certificates.push(parseCertificateDer(Buffer.from(whole(c))));
  }
  const signerInfos = r.children(r.expect(parts[parts.length - 1], 0x31, 'SignerInfos'));
  if (signerInfos.length !== 1)
    r.fail(`expected exactly one signer per signature file, found ${signerInfos.length}`);
  return { certificates, signer: parseSignerInfo(r, signerInfos[0] as Tlv) };
}

function parseSignerInfo(r: DerReader, tlv: Tlv): ParsedSignerInfo {
  const f = r.children(r.expect(tlv, 0x30, 'SignerInfo'));
  const sidTlv = f[1];
  let sid: ParsedSignerInfo['sid'];
  if (sidTlv?.tag === 0x30) {
    const [issuer, serial] = r.children(sidTlv);
    sid = {
      issuerDer: Buffer.from(whole(r.expect(issuer, 0x30, 'sid issuer'))),
      serialHex: integerHex(r.expect(serial, 0x02, 'sid serial')),
    };
  } else if (sidTlv?.tag === 0x80) {
    sid = { subjectKeyId: Buffer.from(content(sidTlv)) };
  } else {
    r.fail('unknown signer identifier');
  }
  const [digestOid] = r.children(r.expect(f[2], 0x30, 'digestAlgorithm'));
  const digest = digestForOid(r.oid(digestOid, 'digest algorithm'), 'signature');
  const signedAttrs = f[3];
  if (signedAttrs?.tag !== 0xa0) {
    throw new TrustError(
      'SIGNATURE_INVALID',
      'signature has no signed attributes (signing time and digest are required)',
    );
  }
  const [sigAlgOid] = r.children(r.expect(f[4], 0x30, 'signatureAlgorithm'));
  const signatureAlgorithm = r.oid(sigAlgOid, 'signature algorithm');
  const signature = Buffer.from(content(r.expect(f[5], 0x04, 'signature value')));
  return { sid, digest, signedAttrs, signatureAlgorithm, signature };
}

interface SignedAttributes {
  messageDigest: Buffer;
  signingTime: Date;
}

function readSignedAttributes(r: DerReader, attrs: Tlv): SignedAttributes {
  const seen = new Map<string, Tlv>();
  for (const attr of r.children(attrs)) {
    const [typeTlv, valuesTlv] = r.children(r.expect(attr, 0x30, 'Attribute'));
    const type = r.oid(typeTlv, 'attribute type');
    if (seen.has(type)) throw new TrustError('SIGNATURE_INVALID', `signed attribute ${type} appears twice`);
    const values = r.children(r.expect(valuesTlv, 0x31, 'attribute values'));
    if (values.length !== 1)
      throw new TrustError('SIGNATURE_INVALID', `signed attribute ${type} must have one value`);
    seen.set(type, values[0] as Tlv);
  }
  const contentType = seen.get(OID_CONTENT_TYPE);
  if (!contentType || r.oid(contentType, 'contentType attribute') !== OID_DATA) {
    throw new TrustError('SIGNATURE_INVALID', 'signed contentType attribute is missing or not id-data');
  }
  const digest = seen.get(OID_MESSAGE_DIGEST);
  if (digest?.tag !== 0x04)
    throw new TrustError('SIGNATURE_INVALID', 'signed messageDigest attribute is missing');
  const time = seen.get(OID_SIGNING_TIME);
  if (!time) throw new TrustError('SIGNING_TIME_INVALID', 'signed signingTime attribute is missing');
  return { messageDigest: Buffer.from(content(digest)), signingTime: r.time(time, 'signingTime') };
}

function findSignerCertificate(signer: ParsedSignerInfo, certs: Certificate[]): Certificate {
  const sid = signer.sid;
  const match =
    'subjectKeyId' in sid
      ? certs.find((c) => c.subjectKeyId?.equals(sid.subjectKeyId))
      : certs.find(
          (c) =>
            c.serialHex === sid.serialHex &&
            canonicalNameFromDer(c.issuerDer).equals(canonicalNameFromDer(sid.issuerDer)),
        );
  if (!match)
    throw new TrustError('SIGNATURE_INVALID', 'the signer certificate is not included in the signature');
  return match;
}

/**
 * Verifies a detached signature over `content`. The content is hashed as given: no
 * canonicalisation, no line-ending conversion.
 */
export function verifyDetached(
  content: Uint8Array,
  signatureDer: Uint8Array,
  anchors: TrustAnchors,
  options: { now?: Date; digests?: DigestCache } = {},
): VerifiedSignature {
  const now = options.now ?? new Date();
  if (signatureDer.byteLength > MAX_SIGNATURE_BYTES) {
    throw new TrustError(
      'SIGNATURE_MALFORMED',
      `signature of ${signatureDer.byteLength} bytes exceeds ${MAX_SIGNATURE_BYTES}`,
    );
  }
  const der = Buffer.from(signatureDer);
  const r: DerReader = new DerReader(der, 'SIGNATURE_MALFORMED', 'signature');
  const parsed = parseSignedData(r);
  const { signer } = parsed;
  const attrs = readSignedAttributes(r, signer.signedAttrs);

  const actual = (options.digests ?? new DigestCache()).digest(content, signer.digest);
  if (actual.length !== attrs.messageDigest.length || !timingSafeEqual(actual, attrs.messageDigest)) {
    throw new TrustError(
      'DIGEST_MISMATCH',
      'the document bytes do not match the signed digest (tampered or wrong file)',
    );
  }
  if (attrs.signingTime.getTime() > now.getTime() + SIGNING_TIME_SKEW_MS) {
    throw new TrustError(
      'SIGNING_TIME_INVALID',
      `signing time ${attrs.signingTime.toISOString()} is in the future`,
    );
  }

  const certificate = findSignerCertificate(signer, parsed.certificates);
  if (certificate.keyUsage && !certificate.keyUsage.digitalSignature) {
    throw new TrustError(
      'NOT_AUTHORISED_SIGNER',
      `certificate ${certificate.subject} is not allowed to make signatures`,
    );
  }
  const digest = signatureDigest(signer.signatureAlgorithm, signer.digest, 'signature');
  // The signed attributes are signed as a universal SET (0x31), not as the [0] they are stored with.
  const signedBytes = Buffer.from(whole(signer.signedAttrs));
  signedBytes[0] = 0x31;
  if (!verify(digest, signedBytes, certificate.publicKey, signer.signature)) {
    throw new TrustError('SIGNATURE_INVALID', `signature by ${certificate.subject} does not verify`);
  }
  const chain = validateChain(certificate, parsed.certificates, anchors, {
    signingTime: attrs.signingTime,
    now,
  });
  return {
    identity: identityOf(certificate),
    certificate,
    chain,
    signingTime: attrs.signingTime,
    signerCertSha256: certificate.sha256,
  };
}
