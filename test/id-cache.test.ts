import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { PathIdCache, ShaIdCache } from '../src/knowledge/id-cache.js';
import { FILE_FULL, FILE_HASHED, FILE_KNOWN, fileColumns, pathAt, pathHashSeed, shaAt, type FileColumns } from '../src/report/merge-input.js';
import type { FileEntry } from '../src/report/types.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = (path: string, sha256: string | null, known?: boolean): FileEntry => ({ path, size: 1, mtime: null, sha256, ...(known ? { known } : {}) });

describe('a report file list as columns of bytes (what reading threads send a fleet merge)', () => {
  it('gives back every path and hash as written, with its flags', () => {
    const files = [
      entry('C:\\Windows\\System32\\drivers\\tcpip.sys', sha('a'), true),
      entry('C:\\Program Files\\Vendor\\агент😀.sys', sha('b')),
      entry('/lib/modules/x.ko', null),
      entry('', sha('c'), true),
      entry('D:\\bad', 'ABCDEF'.repeat(10) + 'abcd'), // not lower-case hex: no hash
    ];
    const c = fileColumns(files, [{ sha256: sha('b') }]);
    expect(c.count).toBe(5);
    expect(files.map((_, i) => pathAt(c, i))).toEqual(files.map((f) => f.path));
    expect(files.map((_, i) => shaAt(c, i))).toEqual([sha('a'), sha('b'), null, sha('c'), null]);
    expect([...c.flags]).toEqual([FILE_HASHED | FILE_KNOWN, FILE_HASHED | FILE_FULL, 0, FILE_HASHED | FILE_KNOWN, 0]);
    expect(c.seed).toBe(pathHashSeed());
  });

  it('a path of 100,000 code units survives', () => {
    const long = 'x\\'.repeat(50_000);
    expect(pathAt(fileColumns([entry(long, null)]), 0)).toBe(long);
  });
});

describe('the merge id caches', () => {
  it('answer as a Map would, for 20,000 paths and hashes, across rehashes', () => {
    const files: FileEntry[] = [];
    for (let i = 0; i < 20_000; i++) files.push(entry(`C:\\Windows\\System32\\DriverStore\\FileRepository\\pkg${i % 7000}.inf_amd64_${i}\\d${i}.sys`, sha(String(i))));
    const c = fileColumns(files);
    let paths = new PathIdCache(pathHashSeed());
    // every cache has a seed of its own: a few of them, so that an unlucky one shows
    for (let round = 0; round < 8; round++) {
      paths = new PathIdCache(round ? (Math.random() * 2 ** 32) | 0 : pathHashSeed());
      const shas = new ShaIdCache();
      for (let i = 0; i < c.count; i += 2) {
        paths.set(c, i, i + 1);
        shas.set(c.sha, 32 * i, i + 1);
      }
      let wrong = 0;
      for (let i = 0; i < c.count; i++) {
        if (paths.get(c, i) !== (i % 2 ? -1 : i + 1)) wrong++;
        if (shas.get(c.sha, 32 * i) !== (i % 2 ? -1 : i + 1)) wrong++;
      }
      expect(wrong).toBe(0);
    }
    // columns hashed with another seed (another process's thread) are hashed again, not misread
    const other = fileColumns(files, [], paths.seed ^ 0x5a5a5a5a);
    expect(paths.get(other, 4)).toBe(5);
    expect(paths.get(other, 5)).toBe(-1);
  });

  it('a report whose paths all claim one hash gets the right ids, and the probes stay bounded', () => {
    const n = 50_000;
    const files = Array.from({ length: n }, (_, i) => entry(`C:\\p${i}.sys`, null));
    const real = fileColumns(files);
    // the same paths, every one with the same hash, as if built to collide under this seed
    const c: FileColumns = { ...real, pathHash: new Int32Array(n).fill(12345) };
    const cache = new PathIdCache(real.seed);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (cache.get(c, i) < 0) cache.set(c, i, i + 1);
    let cached = 0;
    for (let i = 0; i < n; i++) {
      const id = cache.get(c, i);
      if (id >= 0) {
        expect(id).toBe(i + 1);
        cached++;
      }
    }
    // only the first few fit before the probe limit: the rest go to the store's Map, never to a wrong id
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThanOrEqual(64);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('hashes that share their first bytes are told apart by all 32', () => {
    const a = new Uint8Array(64);
    a[63] = 1; // the second hash differs from the first in its last byte only
    const cache = new ShaIdCache();
    cache.set(a, 0, 7);
    expect(cache.get(a, 0)).toBe(7);
    expect(cache.get(a, 32)).toBe(-1);
    cache.set(a, 32, 8);
    expect([cache.get(a, 0), cache.get(a, 32)]).toEqual([7, 8]);
  });
});
