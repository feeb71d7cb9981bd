// init: a new RSA key and certificate request for endorsers without a grid certificate;
// --install-cert puts the certificate their CA returned beside the key; --dev-ca DIR
// issues one from a local test CA (made in DIR on first use) for trying things out.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { derToPem, loadCertificate, opensslNameHash } from '@trustswarm/policy';
import { buildCrl } from '@trustswarm/policy/testing';
import forge from 'node-forge';
import { writeFileAtomicSync } from '../lib/atomic.js';
import { expandPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError, fsError, messageOf } from '../lib/errors.js';
import { obtainPassphrase } from '../lib/passphrase.js';
import {
  csrPublicKeyPem,
  csrToCertSpec,
  keyToPem,
  loadKey,
  makeCertificate,
  makeCsr,
  newRsaKey,
  publicKeyOf,
  slashDnToAttributes,
} from '../lib/x509-build.js';

const DAY_MS = 24 * 3600 * 1000;

export interface InitOptions {
  subject?: string;
  cn?: string;
  bits?: number;
  encrypt?: boolean;
  installCert?: string;
  devCa?: string;
  force?: boolean;
}

function requestPath(certFile: string): string {
  return join(dirname(certFile), 'usercert_request.pem');
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fsError(err, `${what} ${path}`);
  }
}

/** Installs a certificate returned by a CA, after checking it belongs to our request. */
function installCertificate(ctx: Context, certPath: string): CommandResult {
  const certFile = expandPath(ctx.config.identity.certFile);
  const pem = readText(certPath, 'certificate');
  let cert: ReturnType<typeof loadCertificate>;
  try {
    cert = loadCertificate(pem);
  } catch (err) {
    throw new CliError('IDENTITY_INVALID', `${certPath}: ${messageOf(err)}`);
  }
  const requestPem = readText(requestPath(certFile), 'certificate request');
  const wanted = csrPublicKeyPem(requestPem);
  const got = cert.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (wanted.replace(/\s+/g, '') !== got.replace(/\s+/g, ''))
    throw new CliError(
      'IDENTITY_INVALID',
      `${certPath} is not for the key made by 'init' (public keys differ)`,
    );
  writeFileAtomicSync(certFile, pem, 0o644);
  return {
    data: { certificate: certFile, subject: cert.subject, issuer: cert.issuer, notAfter: cert.notAfter },
    text: `installed ${cert.subject} (issued by ${cert.issuer}, valid until ${cert.notAfter.toISOString()}) as ${certFile}`,
  };
}

interface DevCa {
  certPem: string;
  key: ReturnType<typeof loadKey>;
  caPathDir: string;
}

/** The local test CA in DIR: made on first use, with a CApath directory and an empty CRL. */
function openDevCa(dir: string): DevCa {
  const certPath = join(dir, 'ca-cert.pem');
  const keyPath = join(dir, 'ca-key.pem');
  const caPathDir = join(dir, 'certificates');
  if (existsSync(certPath) && existsSync(keyPath))
    return {
      certPem: readText(certPath, 'dev CA'),
      key: loadKey(readText(keyPath, 'dev CA key')),
      caPathDir,
    };
  mkdirSync(caPathDir, { recursive: true });
  const key = newRsaKey();
  const subject = slashDnToAttributes('/DC=org/DC=trustswarm-dev/CN=TrustSwarm Dev CA');
  const now = Date.now();
  const certPem = makeCertificate({
    subject,
    issuer: subject,
    publicKey: publicKeyOf(key),
    signingKey: key,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    ca: true,
  });
  const cert = loadCertificate(certPem);
  const hash = opensslNameHash(cert.subjectDer);
  const crl = buildCrl({
    issuerNameDer: cert.subjectDer,
    issuerKey: key,
    revoked: [],
    thisUpdate: new Date(now - 3600_000),
    nextUpdate: new Date(now + 365 * DAY_MS),
    crlNumber: 1,
  });
  writeFileAtomicSync(keyPath, keyToPem(key, undefined), 0o600);
  writeFileAtomicSync(certPath, certPem);
  writeFileAtomicSync(join(caPathDir, `${hash}.0`), certPem);
  writeFileAtomicSync(join(caPathDir, `${hash}.r0`), derToPem(crl, 'X509 CRL'));
  return { certPem, key, caPathDir };
}

export async function init(ctx: Context, opts: InitOptions): Promise<CommandResult> {
  if (opts.installCert) return installCertificate(ctx, opts.installCert);
  const certFile = expandPath(ctx.config.identity.certFile);
  const keyFile = expandPath(ctx.config.identity.keyFile);
  if (existsSync(keyFile) && !opts.force)
    throw new CliError(
      'IDENTITY_INVALID',
      `${keyFile} already exists: keep it, or pass --force to replace it`,
    );
  const cn = opts.cn ?? userInfo().username;
  const subject = opts.subject ?? `/DC=org/DC=trustswarm-dev/OU=people/CN=${cn}`;
  slashDnToAttributes(subject);
  const passphrase =
    opts.encrypt === false
      ? undefined
      : await obtainPassphrase(
          { file: ctx.config.identity.passphraseFile, envName: ctx.config.identity.passphraseEnv },
          `the new key ${keyFile}`,
        );
  if (passphrase !== undefined && passphrase.length < 4)
    throw new CliError('USAGE', 'the passphrase must have at least 4 characters');
  const key = newRsaKey(opts.bits ?? 2048);
  const csrPem = makeCsr(key, subject);
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(keyFile, keyToPem(key, passphrase), 0o600);
  writeFileAtomicSync(requestPath(certFile), csrPem);
  const result: Record<string, unknown> = {
    key: keyFile,
    request: requestPath(certFile),
    subject,
    encrypted: !!passphrase,
  };
  if (!opts.devCa) {
    return {
      data: result,
      text: `wrote ${keyFile}${passphrase ? ' (encrypted)' : ''} and ${requestPath(certFile)}\nsend the request to your CA, then run: tsw-endorse init --install-cert FILE`,
    };
  }
  const ca = openDevCa(expandPath(opts.devCa));
  const spec = csrToCertSpec(csrPem);
  const now = Date.now();
  const certPem = makeCertificate({
    ...spec,
    issuer: forge.pki.certificateFromPem(ca.certPem).subject.attributes,
    signingKey: ca.key,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 365 * DAY_MS),
    ca: false,
  });
  writeFileAtomicSync(certFile, certPem);
  return {
    data: { ...result, certificate: certFile, caPath: ca.caPathDir },
    text: `wrote ${keyFile}${passphrase ? ' (encrypted)' : ''} and ${certFile} for ${subject}, issued by the dev CA in ${opts.devCa}\nverify with: tsw-endorse verify --ca ${ca.caPathDir}`,
  };
}
