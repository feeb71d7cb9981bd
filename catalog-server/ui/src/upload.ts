// Artifact upload from the browser: sha256 of the file, then resumable PATCH chunks
// (/api/v1/uploads/:sha256) with progress; .torrent info hashes by walking the bencoding.
import { ApiError, api } from './api.js';
import { token } from './session.js';

const chunkBytes = 8 * 1024 * 1024;
/** The whole file is read into memory to hash it (WebCrypto has no streaming digest). */
export const maxBrowserHashBytes = 2 * 1024 * 1024 * 1024;

const hex = (buf: ArrayBuffer) =>
  Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256Of(data: BufferSource): Promise<string> {
  if (!crypto.subtle)
    throw new Error('this page is not a secure context (use https), so the browser cannot hash files');
  return hex(await crypto.subtle.digest('SHA-256', data));
}

/** Uploads the file (resuming where the server stopped) and reports progress 0..1. */
export async function uploadArtifact(
  file: File,
  sha256: string,
  progress: (fraction: number) => void,
): Promise<void> {
  const head = await fetch(`/api/v1/uploads/${sha256}`, {
    method: 'HEAD',
    headers: { authorization: `Bearer ${token() ?? ''}` },
  });
  if (!head.ok) throw new ApiError(head.status, `HTTP_${head.status}`, `upload refused (${head.status})`);
  if (head.headers.get('upload-complete') === '?1') return progress(1);
  let offset = Number(head.headers.get('upload-offset') ?? '0');
  progress(offset / Math.max(1, file.size));
  do {
    const end = Math.min(file.size, offset + chunkBytes);
    await api('PATCH', `/uploads/${sha256}`, {
      raw: file.slice(offset, end),
      headers: {
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
        'upload-length': String(file.size),
      },
    });
    offset = end;
    progress(offset / Math.max(1, file.size));
  } while (offset < file.size);
}

/** End index of the bencoded value starting at `i`. */
function skip(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x69) return b.indexOf(0x65, i) + 1; // i…e
  if (c === 0x6c || c === 0x64) {
    let j = i + 1;
    while (b[j] !== 0x65) {
      if (j >= b.length) throw new Error('truncated .torrent');
      j = skip(b, j);
    }
    return j + 1;
  }
  const colon = b.indexOf(0x3a, i);
  if (colon < 0) throw new Error('not a .torrent file');
  const len = Number(new TextDecoder().decode(b.subarray(i, colon)));
  if (!Number.isInteger(len) || len < 0) throw new Error('not a .torrent file');
  return colon + 1 + len;
}

/** BitTorrent v1 info hash: sha1 of the exact bytes of the top-level "info" value. */
export async function infoHashOf(torrent: Uint8Array): Promise<string> {
  if (torrent[0] !== 0x64) throw new Error('not a .torrent file');
  let i = 1;
  while (torrent[i] !== 0x65 && i < torrent.length) {
    const keyEnd = skip(torrent, i);
    const key = new TextDecoder().decode(torrent.subarray(torrent.indexOf(0x3a, i) + 1, keyEnd));
    const valueEnd = skip(torrent, keyEnd);
    if (key === 'info') return hex(await crypto.subtle.digest('SHA-1', torrent.slice(keyEnd, valueEnd)));
    i = valueEnd;
  }
  throw new Error('the .torrent has no info dictionary');
}
