/**
 * Issue 21: the pool and requested size at every allocation site, by name, through the
 * fixture drivers (`pools.c`: x86, x64, ARM64, clang and gcc, O0 and O2; expectations in
 * scripts/fixtures/expectations.mjs, copied into the manifest), the block-size rule, and
 * triage ranking the driver whose site gives the row's pool and block size first.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lookup } from '../src/answer/lookup.js';
import { screenAllocation } from '../src/answer/pool-match.js';
import { ownerAnswers, readInput, triage, type InputRead, type TriageOptions } from '../src/answer/triage.js';
import { extractEvidence } from '../src/evidence/extract.js';
import { SCHEMA_VERSION, Store } from '../src/knowledge/store.js';
import { readPe } from '../src/pe/read.js';
import { scan } from '../src/scan/scan.js';
import { blockSizes, decodePool } from '../src/tag/pool.js';
import { describeWithShared, SHARED_DIR } from './helpers/shared.js';

/** triage with the base's answers, read before it runs (as the CLI does). */
async function triageWithBase(reads: InputRead[], opts: Omit<TriageOptions, 'lookup'> & { lookup: Lookup }) {
  return triage(reads, { ...opts, lookup: await ownerAnswers(opts.lookup, reads) });
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FX = join(root, 'test/fixtures');
type ManifestTag = { tag: string; ulong: string; routine: string; pool?: string[]; size?: number[]; sizeUnknown?: boolean };
const manifest = JSON.parse(readFileSync(join(FX, 'manifest.json'), 'utf8')) as { binaries: { file: string; source: string; arch: string; tags: ManifestTag[] }[] };
const poolsBinaries = manifest.binaries.filter((b) => b.source === 'pools.c');

describe('pool and size at the allocation sites of pools.c', () => {
  it('is built for x86, x64 and ARM64', () => {
    expect(new Set(poolsBinaries.map((b) => b.arch))).toEqual(new Set(['x86', 'x64', 'arm64']));
    expect(poolsBinaries.length).toBe(10);
  });
  for (const b of poolsBinaries) {
    it(`${b.file}: every site's pool by name and its sizes, or unknown with the reason`, async () => {
      const buf = readFileSync(join(FX, b.file));
      const x = await extractEvidence(buf, readPe(buf));
      for (const t of b.tags) {
        const ev = x.evidence.filter((e) => e.ulong === t.ulong && e.routine === t.routine);
        expect(ev.length, `${t.tag} ${t.routine}`).toBeGreaterThan(0);
        for (const e of ev) {
          expect({ tag: t.tag, pool: e.pool?.names, poolUnknown: e.pool?.unknown }).toEqual({ tag: t.tag, pool: t.pool, poolUnknown: undefined });
          expect({ tag: t.tag, size: e.size?.values }).toEqual({ tag: t.tag, size: t.size });
          if (t.sizeUnknown) expect(e.size?.unknown, t.tag).toMatch(/computed|parameter|not set/);
          else expect(e.size?.unknown, t.tag).toBeUndefined();
        }
      }
      // Frees carry no pool or size.
      for (const e of x.evidence) if (e.routine.startsWith('ExFree')) expect(e.pool ?? e.size).toBeUndefined();
    });
  }
});

describe('pool values by name (data/pool-types.json)', () => {
  it('POOL_TYPE: exact names, modifiers, session and the pool they ask for', () => {
    expect(decodePool('pool-type', 0)).toEqual({ name: 'NonPagedPool', pool: 'nonpaged', session: false, cacheAligned: false });
    expect(decodePool('pool-type', 512).name).toBe('NonPagedPoolNx');
    expect(decodePool('pool-type', 0x600)).toMatchObject({ name: 'NonPagedPoolNx | POOL_ZERO_ALLOCATION', pool: 'nonpaged' });
    expect(decodePool('pool-type', 0x401)).toMatchObject({ name: 'PagedPool | POOL_ZERO_ALLOCATION', pool: 'paged' });
    expect(decodePool('pool-type', 0x204)).toMatchObject({ name: 'NonPagedPoolNxCacheAligned', cacheAligned: true });
    expect(decodePool('pool-type', 33)).toMatchObject({ name: 'PagedPoolSession', pool: 'paged', session: true });
    expect(decodePool('pool-type', 0x211).name).toBe('PagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE | POOL_NX_ALLOCATION');
  });
  it('POOL_FLAGS: bits in order, the 64-bit special-pool bit, and no pool for an invalid value', () => {
    expect(decodePool('pool-flags', 0x42)).toEqual({ name: 'POOL_FLAG_UNINITIALIZED | POOL_FLAG_NON_PAGED', pool: 'nonpaged', session: false, cacheAligned: false });
    expect(decodePool('pool-flags', 0x100)).toMatchObject({ name: 'POOL_FLAG_PAGED', pool: 'paged' });
    expect(decodePool('pool-flags', 0x1_0000_0040).name).toBe('POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL');
    expect(decodePool('pool-flags', 0x140).pool).toBeNull();
    expect(decodePool('pool-flags', 0x2).pool).toBeNull();
  });
});

describe('block size of a requested size (src/answer/pool-blocks.md)', () => {
  it('x86: 8-byte header and granularity; x64/ARM64: 16; a page or more: whole pages', async () => {
    expect(blockSizes(0x20, 'x86')).toEqual([32, 40]);
    expect(blockSizes(48, 'x86')).toEqual([48, 56]);
    expect(blockSizes(0x20, 'x64')).toEqual([32, 48]);
    expect(blockSizes(40, 'arm64')).toEqual([48, 64]);
    expect(blockSizes(0, 'x64')).toEqual([16, 32]);
    expect(blockSizes(0x1000, 'x64')).toEqual([4096]);
    expect(blockSizes(0x1001, 'x86')).toEqual([8192]);
    expect(blockSizes(4090, 'x64')).toEqual([4096]);
    expect(blockSizes(0x20, 'x64', true)).toEqual([96, 112]);
  });
  it('the seed: 56-byte blocks are an x86 allocation of 41..48 bytes, and no x64 one', () => {
    const x86 = Array.from({ length: 200 }, (_, n) => n).filter((n) => blockSizes(n, 'x86').at(-1) === 56);
    expect([x86[0], x86.at(-1)]).toEqual([41, 48]);
    expect(Array.from({ length: 200 }, (_, n) => n).filter((n) => blockSizes(n, 'x64').includes(56))).toEqual([]);
  });
});

const SAMPLES = join(SHARED_DIR, 'samples');
describeWithShared('the rule on the real samples in ../shared/samples', ['samples/msdocs__pool__1.txt', 'samples/msdocs__poolfind__1.txt', 'samples/msdocs__poolmon-display__1.txt', 'samples/msdocs__poolmon-examples__1.txt'], () => {
  it('!pool and !poolfind blocks (x86) are header-plus-data sizes in 8-byte units', async () => {
    for (const f of readdirSync(SAMPLES).filter((n) => /__pool(find)?__/.test(n))) {
      const sizes = [...readFileSync(join(SAMPLES, f), 'utf8').matchAll(/(?<!previous )size:\s+([0-9a-f]+)/g)].map((m) => parseInt(m[1], 16));
      expect(sizes.length).toBeGreaterThan(0);
      // Every block is the block of some request: request = block − 8 gives it back.
      for (const b of sizes) expect(blockSizes(b - 8, 'x86'), `${f} ${b}`).toContain(b);
    }
  });
  it('poolmon rows: one block size when bytes / outstanding is whole, else mixed sizes', () => {
    const r = readInput(readFileSync(join(SAMPLES, 'msdocs__poolmon-display__1.txt')), 'display');
    const at = (tag: string) => {
      const e = r.snapshots[0].entries.find((x) => x.tag === tag)!;
      return screenAllocation(e.pool as 'Paged', e.bytes, e.diff);
    };
    // Ustm: 2464 bytes in 44 allocations = 56-byte blocks: an x86 request of 41..48 bytes.
    expect(at('Ustm')).toEqual({ pool: 'Paged', blockSize: 56, average: null });
    // Wait: 8456 / 30 is not whole: mixed sizes, the size cannot confirm an owner.
    expect(at('Wait')).toEqual({ pool: 'Nonp', blockSize: null, average: 282 });
    // ObSt: nothing outstanding.
    expect(at('ObSt').blockSize).toBeNull();
    const ex1 = readInput(readFileSync(join(SAMPLES, 'msdocs__poolmon-examples__1.txt')), 'ex1');
    const ntfc = ex1.snapshots[0].entries.find((x) => x.tag === 'NtFC')!;
    expect(screenAllocation('Paged', ntfc.bytes, ntfc.diff).blockSize).toBe(64); // 640 / 10
    expect(blockSizes(56, 'x86')).toContain(64);
  });
});

// ---- the triage figure: two fixture drivers share HoSt -------------------------------

describe('triage: the driver whose site gives the row pool and block size comes first', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pooltag-pools-'));
  let store: Store;
  let lk: Lookup;
  beforeAll(async () => {
    // hostile.sys allocates HoSt from NonPagedPoolNx with 0x20 bytes; pools.sys from PagedPool with 0x20.
    const report = await scan({ paths: [join(FX, 'bin/x64-clang-O2/hostile.sys'), join(FX, 'bin/x64-clang-O2/pools.sys')], jobs: 1, cache: null });
    const db = join(tmp, 'kb.db');
    store = await Store.open(db);
    await store.mergeReport(report, 'two.json');
    await store.close();
    store = await Store.open(db, { readonly: true });
    lk = new Lookup(store);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  // A poolmon screen: 5000 HoSt blocks of 48 bytes in nonpaged pool, 100 in paged pool.
  const screen = [
    ' Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc',
    '',
    ' HoSt Nonp       5000 (   0)         0 (   0)     5000   240000 (     0)     48',
    ' HoSt Paged       200 (   0)       100 (   0)      100     4800 (     0)     48',
    '',
  ].join('\n');

  it('nonpaged row: hostile.sys confirmed and first, with the reason; pools.sys not matching', async () => {
    const t = await triageWithBase([readInput(Buffer.from(screen), 'screen.txt')], { lookup: lk });
    const nonp = t.pools.find((p) => p.pool === 'Nonp')!.rows[0].owner;
    expect(nonp.drivers.map((d) => [d.file, d.match?.verdict])).toEqual([
      ['hostile.sys', 'confirmed'],
      ['pools.sys', 'other-pool'],
    ]);
    expect(nonp.drivers[0].match!.reason).toMatch(/^allocates it from NonPagedPoolNx with 32 bytes at 0x[0-9a-f]+ \(x64\): a 48-byte block \(16-byte pool header, 16-byte granularity\)/);
    expect(nonp.text).toMatch(/^hostile\.sys, .*\(confirmed: allocates it from NonPagedPoolNx with 32 bytes/);
    expect(nonp.text).toMatch(/pools\.sys, Pooltag Fixtures, 1 call site \(not matching: allocates it only from paged pool, not the screen's nonpaged pool: not this row\)/);
  });

  it('paged row: the other way round', async () => {
    const t = await triageWithBase([readInput(Buffer.from(screen), 'screen.txt')], { lookup: lk });
    const paged = t.pools.find((p) => p.pool === 'Paged')!.rows[0].owner;
    expect(paged.drivers.map((d) => [d.file, d.match?.verdict])).toEqual([
      ['pools.sys', 'confirmed'],
      ['hostile.sys', 'other-pool'],
    ]);
  });

  it('the base keeps each site with its pool and size', async () => {
    const sites = store.db.prepare("SELECT routine, pool, size FROM evidence WHERE tag = 'HoSt' ORDER BY pool DESC").all() as { pool: string; size: string }[];
    expect(sites.map((s) => [JSON.parse(s.pool).names, JSON.parse(s.size).values])).toEqual([
      [['NonPagedPoolNx'], [32]],
      [['PagedPool'], [32]],
    ]);
  });
});

describe('a base from before pools and sizes (schema 7)', () => {
  it('opens, is migrated, and a later report of the same image fills its sites in', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'pooltag-pools-mig-'));
    try {
      const db = join(tmp, 'old.db');
      const paths = [join(FX, 'bin/x64-clang-O2/hostile.sys')];
      let s = await Store.open(db);
      await s.mergeReport(await scan({ paths, jobs: 1, cache: null }), 'first.json');
      // Make it what schema 7 wrote: no pool or size columns.
      s.db.exec('ALTER TABLE evidence DROP COLUMN pool; ALTER TABLE evidence DROP COLUMN size;');
      s.db.exec('DROP TABLE image_hosts; DROP TABLE host_inventory; DROP TABLE paths; DROP TABLE folders; DROP TABLE images;'); // and no inventory (schema 9)
      s.db.pragma('user_version = 7');
      await s.close();
      s = await Store.open(db);
      expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      // migration 9 gave every image the base holds an id
      expect(s.db.prepare('SELECT count(*) FROM images').pluck().get()).toBe(s.db.prepare('SELECT count(*) FROM drivers').pluck().get());
      const row = () => s.db.prepare("SELECT pool, size FROM evidence WHERE tag = 'HoSt'").get() as { pool: string | null; size: string | null };
      expect(row()).toEqual({ pool: null, size: null });
      // The same image in a new report (another scan): its known rows get their pool and size.
      await s.mergeReport(await scan({ paths, jobs: 1, cache: null }), 'second.json');
      expect(JSON.parse(row().pool!).names).toEqual(['NonPagedPoolNx']);
      expect(JSON.parse(row().size!).values).toEqual([32]);
      await s.close();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
