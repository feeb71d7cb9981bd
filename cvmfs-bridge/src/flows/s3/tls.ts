// What the S3 connections trust. Without `s3.caFile`, Node's default CA store (its bundled
// Mozilla roots, plus NODE_EXTRA_CA_CERTS). With it, exactly the CAs in that PEM bundle and
// nothing else, for both the signed GETs and the SDK client's ListObjectsV2 (as `curl --cacert`,
// the AWS CLI's `--ca-bundle` or rclone's `--ca-cert` do): a site's S3 endpoint has a
// certificate from the site's own CA, and no public CA then gets to vouch for it.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { S3FlowConfig } from '../config.js';
import { errorMessage, FlowError } from '../errors.js';

export interface S3Tls {
  /** The endpoint these settings are for. */
  readonly endpoint: string;
  /** The CA file as configured, '' when unset. */
  readonly caFile: string;
  /** PEM certificates to trust instead of the default store; undefined: the default store. */
  readonly ca?: readonly string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** Reads and checks `s3.caFile` (at start-up); every problem is one CONFIG_INVALID line naming the file. */
export function loadS3Tls(config: Pick<S3FlowConfig, 'endpoint' | 'caFile'>): S3Tls {
  const file = config.caFile;
  if (!file) return { endpoint: config.endpoint, caFile: '' };
  const invalid = (problem: string) => new FlowError('CONFIG_INVALID', `s3.caFile ${file}: ${problem}`);
  if (!/^https:/i.test(config.endpoint))
    throw invalid(`set, but s3.endpoint ${config.endpoint} is not https:// (nothing would use it)`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw invalid(`cannot read it (${oneLine(errorMessage(error))})`);
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalid('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw invalid(
        `certificate ${i + 1} of ${blocks.length} does not parse (${oneLine(errorMessage(error))})`,
      );
    }
  });
  return { endpoint: config.endpoint, caFile: file, ca: blocks };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Node's codes for a server certificate that failed verification (OpenSSL's verify results). */
const CERTIFICATE_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** The error (itself or a cause) that is a refused server certificate. */
function certificateError(error: unknown): { code: string; message: string } | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return { code, message: errorMessage(e) };
  }
  return undefined;
}

/** A refused certificate as one line an operator can act on; undefined for other errors. */
export function certificateProblem(error: unknown, tls: S3Tls): string | undefined {
  const refused = certificateError(error);
  if (!refused) return undefined;
  const origin = URL.canParse(tls.endpoint) ? new URL(tls.endpoint).origin : tls.endpoint;
  const trusted = tls.caFile
    ? `trusting only the CAs of s3.caFile ${tls.caFile}`
    : 'trusting the default CAs (s3.caFile not set)';
  return `TLS certificate of ${origin} refused, ${trusted}: ${refused.code}: ${refused.message}`;
}
