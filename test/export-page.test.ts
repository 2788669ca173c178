/**
 * The export page's synchronous inflater (data/export-page/inflate.js): what zlib's raw DEFLATE
 * writes, at every level and strategy, is read back byte for byte; damaged input is an error,
 * never a hang.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, deflateRawSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const inflateRaw = new Function(`${readFileSync(join(root, 'data/export-page/inflate.js'), 'utf8')}; return inflateRaw;`)() as (b: Uint8Array) => Uint8Array;

describe('the export page\'s inflater', () => {
  const text = Buffer.from(JSON.stringify(Array.from({ length: 20000 }, (_, i) => ({ t: `T${i % 977}`, o: [i, i * 7 % 13, 'call site high'] }))));
  const samples: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('a')],
    ['random (stored blocks)', randomBytes(70_000)],
    ['long repeats', Buffer.from('abc'.repeat(100_000))],
    ['JSON', text],
    ['mixed', Buffer.concat([randomBytes(1000), Buffer.from('x'.repeat(5000)), randomBytes(100_000), text])],
  ];
  const settings = [{ level: 9 }, { level: 6 }, { level: 1 }, { level: 0 }, { strategy: constants.Z_FIXED }, { strategy: constants.Z_HUFFMAN_ONLY }, { strategy: constants.Z_RLE }];
  it.each(samples)('reads back %s at every level and strategy', (_, bytes) => {
    for (const opts of settings) expect(Buffer.from(inflateRaw(new Uint8Array(deflateRawSync(bytes, opts)))).equals(bytes), JSON.stringify(opts)).toBe(true);
  });

  it('throws on damaged input', () => {
    const z = deflateRawSync(text);
    expect(() => inflateRaw(new Uint8Array(z.subarray(0, z.length >> 1)))).toThrow(/bad data/);
    expect(() => inflateRaw(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/bad data/);
  });
});
