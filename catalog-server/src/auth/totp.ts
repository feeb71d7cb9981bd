// TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s), one step of clock drift tolerated.
import * as OTPAuth from 'otpauth';

export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: 'TrustSwarm',
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
  });
}

export function totpUri(secretBase32: string, label: string): string {
  return totp(secretBase32, label).toString();
}

export function totpCode(secretBase32: string, at: number = Date.now()): string {
  return totp(secretBase32, 'x').generate({ timestamp: at });
}

export function verifyTotp(secretBase32: string, code: string, at: number = Date.now()): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  return totp(secretBase32, 'x').validate({ token: code, timestamp: at, window: 1 }) !== null;
}
