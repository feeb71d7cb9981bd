// Both .cvmfspublished and .cvmfswhitelist are "body, `--\n`, hex hash of the body, `\n`, raw
// signature bytes". This module splits and joins that envelope; the signing schemes differ.
import { BridgeError, type BridgeErrorCode } from '../errors.js';
import { sha1Hex } from './hash.js';

export interface SignedFile {
  readonly body: Buffer;
  readonly bodyHashHex: string;
  readonly signature: Buffer;
}

const SEPARATOR = Buffer.from('\n--\n');

export function splitSignedFile(bytes: Buffer, code: BridgeErrorCode, what: string): SignedFile {
  const at = bytes.indexOf(SEPARATOR);
  if (at < 0) throw new BridgeError(code, `${what}: no '--' signature separator`);
  const body = bytes.subarray(0, at + 1);
  const rest = bytes.subarray(at + SEPARATOR.length);
  const newline = rest.indexOf(0x0a);
  if (newline < 0) throw new BridgeError(code, `${what}: no hash line after the separator`);
  const bodyHashHex = rest.subarray(0, newline).toString('latin1');
  if (bodyHashHex !== sha1Hex(body))
    throw new BridgeError(code, `${what}: body hash does not match its content`);
  return { body, bodyHashHex, signature: rest.subarray(newline + 1) };
}

export function joinSignedFile(body: Buffer, bodyHashHex: string, signature: Buffer): Buffer {
  return Buffer.concat([body, Buffer.from(`--\n${bodyHashHex}\n`), signature]);
}

/** Parses `Xvalue` lines; the first occurrence of a key wins, as in upstream manifest.cc. */
export function parseKeyLines(body: Buffer): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of body.toString('utf8').split('\n')) {
    if (line.length === 0) continue;
    const key = line[0] as string;
    if (!map.has(key)) map.set(key, line.slice(1));
  }
  return map;
}
