// wire-writer.ts's merge of small messages for a direct write: each run of two or more
// consecutive messages shorter than 1 KiB becomes one part, a large one stays as it is (not
// copied), and the bytes keep their order.

import { describe, expect, it } from 'vitest';
import { mergeSmallParts } from '../src/transfer/wire-writer.js';

const part = (length: number, fill: number) => new Uint8Array(length).fill(fill);

describe('mergeSmallParts', () => {
  it('copies runs of small parts into one, leaves large and lone parts as they are', () => {
    const block = part(16 * 1024, 9);
    const lone = part(13, 4);
    const parts = [
      part(17, 1),
      part(17, 2),
      part(5, 3),
      block,
      lone,
      part(16 * 1024, 8),
      part(17, 5),
      part(17, 6),
    ];
    const merged = mergeSmallParts(parts);
    expect(merged.map((p) => p.length)).toEqual([39, 16 * 1024, 13, 16 * 1024, 34]);
    expect(merged[1]).toBe(block);
    expect(merged[2]).toBe(lone);
    expect(Buffer.concat(merged).equals(Buffer.concat(parts))).toBe(true);
  });

  it('returns the list itself when there is nothing to merge', () => {
    const parts = [part(13, 1), part(16 * 1024, 2), part(13, 3), part(16 * 1024, 4)];
    expect(mergeSmallParts(parts)).toBe(parts);
  });
});
