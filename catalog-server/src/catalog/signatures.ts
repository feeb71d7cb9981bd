// Checks endorser signatures on upload: each one must verify against the server's trust anchors
// and come from a known endorser identity (the uploader's bound identity or one on a site's list).
// Every failure becomes a reason; the caller rejects with all of them.
import { reasonsOf, type VerifiedSignature, verifyDetached } from '@trustswarm/policy';
import type { Principal } from '../auth/authorize.js';
import type { Reason } from '../errors.js';
import type { Services } from '../services.js';
import { allEndorserIdentities } from '../storage/site-repo.js';

export interface AcceptedSignature {
  verified: VerifiedSignature;
  der: Buffer;
}

export interface SignatureCheck {
  accepted: AcceptedSignature[];
  reasons: Reason[];
}

/** Identities allowed to sign uploads by this principal: its own binding and every site-listed endorser. */
export async function knownSigners(services: Services, principal: Principal): Promise<Set<string>> {
  const known = new Set(await allEndorserIdentities(services.db));
  if (principal.user.endorserIdentity) known.add(principal.user.endorserIdentity);
  return known;
}

/** `known: 'any'` accepts every signer that chains to the anchors (imports vouched for by an admin). */
export async function checkSignatures(
  services: Services,
  known: Set<string> | 'any',
  bytes: Uint8Array,
  signatures: Uint8Array[],
): Promise<SignatureCheck> {
  const accepted: AcceptedSignature[] = [];
  const reasons: Reason[] = [];
  const anchors = services.anchors;
  if (!anchors) {
    return {
      accepted,
      reasons: [
        {
          code: 'TRUST_ANCHORS_MISSING',
          message: 'the server has no trust anchors configured (trust.caPath)',
        },
      ],
    };
  }
  const now = services.clock();
  signatures.forEach((der, i) => {
    const label = `signature ${i + 1}`;
    if (der.byteLength > services.config.trust.maxSignatureBytes) {
      reasons.push({
        code: 'SIGNATURE_MALFORMED',
        message: `${label}: larger than ${services.config.trust.maxSignatureBytes} bytes`,
      });
      return;
    }
    try {
      const verified = verifyDetached(bytes, der, anchors, { now });
      if (known !== 'any' && !known.has(verified.identity.key)) {
        reasons.push({
          code: 'NOT_AUTHORISED_SIGNER',
          message: `${label}: ${verified.identity.subject} is neither your endorser identity nor on any site's endorser list`,
        });
      } else if (accepted.some((a) => a.verified.signerCertSha256 === verified.signerCertSha256)) {
        reasons.push({ code: 'DUPLICATE_SIGNATURE', message: `${label}: same signer certificate twice` });
      } else accepted.push({ verified, der: Buffer.from(der) });
    } catch (err) {
      for (const r of reasonsOf(err)) reasons.push({ code: r.code, message: `${label}: ${r.message}` });
    }
  });
  if (signatures.length === 0)
    reasons.push({ code: 'SIGNATURE_MISSING', message: 'at least one signature is required' });
  return { accepted, reasons };
}
