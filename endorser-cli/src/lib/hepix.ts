// HEPiX image lists (vmcaster, vmcatcher, EGI AppDB): S/MIME-signed JSON. The signature is
// checked by stock `openssl smime -verify` against a CApath (the tool sites already trust),
// the digest algorithm is read with `openssl cms -print`, and only then is the JSON parsed.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalNameFromDer, canonicalNameFromText, loadCertificate } from '@trustswarm/policy';
import { execa } from 'execa';
import { CliError, messageOf } from './errors.js';

export interface VerifiedImageList {
  list: Record<string, unknown>;
  signer: { subject: string; issuer: string };
  digestAlgorithms: string[];
  warnings: string[];
}

const MAX_LIST_BYTES = 16 * 1024 * 1024;

async function openssl(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const r = await execa('openssl', args, { reject: false, timeout: 60_000, maxBuffer: MAX_LIST_BYTES * 2 });
    return { ok: r.exitCode === 0, stdout: String(r.stdout), stderr: String(r.stderr) };
  } catch (err) {
    throw new CliError('IO_ERROR', `cannot run openssl: ${messageOf(err)}`);
  }
}

function firstError(stderr: string): string {
  const line =
    stderr.split('\n').find((l) => /error|fail|unable|invalid/i.test(l)) ?? stderr.split('\n')[0] ?? '';
  return (
    line
      .replace(/^[0-9A-F]+:error:[0-9A-F]*:?/, '')
      .trim()
      .slice(0, 200) || 'verification failed'
  );
}

/**
 * The JSON text of the signed content. Lists signed with `openssl smime -sign -text` carry a
 * MIME header (Content-Type: text/plain) inside the signed bytes: it is signed too, so it is
 * safe to skip up to the first blank line.
 */
function signedJsonText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (!/^content-type:/i.test(text)) return text;
  const blank = /\r?\n\r?\n/.exec(text);
  return blank ? text.slice(blank.index + blank[0].length) : text;
}

function sameDn(certNameDer: Buffer, slashDn: string): boolean {
  try {
    return canonicalNameFromDer(certNameDer).equals(canonicalNameFromText(slashDn));
  } catch {
    return false;
  }
}

export async function verifyImageList(
  file: string,
  caPath: string,
  options: { crlCheck: boolean; now?: Date },
): Promise<VerifiedImageList> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-hepix-'));
  try {
    const content = join(dir, 'content');
    const signerPem = join(dir, 'signer.pem');
    const verify = await openssl([
      'smime',
      '-verify',
      '-in',
      file,
      '-CApath',
      caPath,
      '-purpose',
      'any',
      ...(options.crlCheck ? ['-crl_check'] : []),
      '-signer',
      signerPem,
      '-out',
      content,
    ]);
    if (!verify.ok)
      throw new CliError(
        'HEPIX_SIGNATURE_INVALID',
        `${file}: S/MIME signature rejected by openssl: ${firstError(verify.stderr)}`,
      );
    const printed = await openssl(['cms', '-cmsout', '-print', '-in', file, '-inform', 'SMIME']);
    const digestAlgorithms = [
      ...new Set(
        [...printed.stdout.matchAll(/digestAlgorithm[s]?:\s*\n\s*algorithm: (\S+)/g)].map(
          (m) => m[1] as string,
        ),
      ),
    ];
    const signer = loadCertificate(await readFile(signerPem));
    const bytes = await readFile(content);
    if (bytes.length > MAX_LIST_BYTES)
      throw new CliError('HEPIX_INVALID', `${file}: list larger than ${MAX_LIST_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(signedJsonText(bytes));
    } catch (err) {
      throw new CliError('HEPIX_INVALID', `${file}: signed content is not JSON (${messageOf(err)})`);
    }
    const list = (parsed as Record<string, unknown> | null)?.['hv:imagelist'];
    if (!list || typeof list !== 'object' || Array.isArray(list))
      throw new CliError('HEPIX_INVALID', `${file}: no hv:imagelist object`);
    const il = list as Record<string, unknown>;
    const x509 = ((il['hv:endorser'] as Record<string, unknown> | undefined)?.['hv:x509'] ?? {}) as Record<
      string,
      unknown
    >;
    const dn = typeof x509['hv:dn'] === 'string' ? x509['hv:dn'] : undefined;
    const ca = typeof x509['hv:ca'] === 'string' ? x509['hv:ca'] : undefined;
    // The list names its endorser; someone else's valid signature must not pass as theirs.
    if (!dn || !sameDn(signer.subjectDer, dn))
      throw new CliError(
        'HEPIX_INVALID',
        `${file}: signed by ${signer.subject}, but the list names endorser ${dn ?? '(none)'}`,
      );
    if (ca && !sameDn(signer.issuerDer, ca))
      throw new CliError(
        'HEPIX_INVALID',
        `${file}: signer issued by ${signer.issuer}, but the list names CA ${ca}`,
      );
    const warnings: string[] = [];
    if (digestAlgorithms.some((a) => /^sha1$|sha-1|1\.3\.14\.3\.2\.26/i.test(a)))
      warnings.push(
        'the list is signed with SHA-1, which is broken for signatures: ask the endorser to re-sign',
      );
    const expires = typeof il['dc:date:expires'] === 'string' ? il['dc:date:expires'] : '';
    const expiresYear = Number(expires.slice(0, 4));
    if (expiresYear >= 2499)
      warnings.push(
        `the list claims to expire in ${expiresYear}: it never really expires; the catalog gets a real expiry`,
      );
    else if (Date.parse(expires) <= (options.now ?? new Date()).getTime())
      warnings.push(`the list expired at ${expires}`);
    return {
      list: il,
      signer: { subject: signer.subject, issuer: signer.issuer },
      digestAlgorithms,
      warnings,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
