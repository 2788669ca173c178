/**
 * `pooltag triage`: every real sample in ../shared/samples/ and ../shared/debugger/ (read in
 * place; skipped with the reason when ../shared is absent, failed instead when POOLTAG_REQUIRE_SHARED is set),
 * the synthetic samples of every layout in test/triage/ (our own text), encodings, snapshot
 * series and leak suspects, owners from a knowledge base built from the fixture drivers, and
 * the CLI (exit codes, --json, stdin).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lookup } from '../src/answer/lookup.js';
import { contextFindings, readPoolContext } from '../src/answer/pool-context.js';
import { decodeInput, ownerAnswers, parseInterval, parseTimestamp, readInput, summariseOwner, triage, type InputRead, type PoolEntry, type TriageOptions } from '../src/answer/triage.js';
import { splitLines } from '../src/answer/pool-output.js';
import { columnField } from '../src/answer/pool-table.js';
import { parsePooltagTxt } from '../src/knowledge/pooltag-txt.js';
import { Store } from '../src/knowledge/store.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { parseTag } from '../src/tag/tag.js';
import { requireShared, SHARED_DIR } from './helpers/shared.js';

/** triage with the base's answers, read before it runs (as the CLI does). */
async function triageWithBase(reads: InputRead[], opts: Omit<TriageOptions, 'lookup'> & { lookup: Lookup }) {
  return triage(reads, { ...opts, lookup: await ownerAnswers(opts.lookup, reads) });
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = SHARED_DIR;
const SYN = join(root, 'test/triage');
const bin = join(root, 'bin/pooltag');

// ../shared is next to the repository in our setup, not in a fresh clone: skip with the
// reason then, unless CI says the reference files must be there.
const haveShared = existsSync(join(SHARED, 'samples')) && existsSync(join(SHARED, 'debugger'));
if (!haveShared && requireShared()) throw new Error(`missing ${SHARED}/samples and /debugger: POOLTAG_REQUIRE_SHARED is set (CI), and CI provides the reference samples next to the repository`);
const sharedReason = haveShared ? '' : ` (SKIPPED: ${SHARED} is absent; these read the real samples in place)`;
const describeShared = haveShared ? describe : describe.skip;
// eslint-disable-next-line no-console
if (!haveShared) console.warn(`test/triage.test.ts: the tests on the real samples are skipped: ${SHARED}/samples and /debugger are absent (set POOLTAG_REQUIRE_SHARED=1 to make that a failure)`);

const sharedFile = (dir: string, name: string): InputRead => readInput(readFileSync(join(SHARED, dir, name)), name);
const syn = (name: string): InputRead => readInput(readFileSync(join(SYN, name)), name);
const entry = (r: InputRead, tag: string, pool?: string, snap = 0): PoolEntry => {
  const e = r.snapshots[snap].entries.find((x) => x.tag === tag && (pool === undefined || x.pool === pool));
  if (!e) throw new Error(`no ${JSON.stringify(tag)} ${pool ?? ''} in ${r.source}: ${r.snapshots[snap].entries.map((x) => JSON.stringify(x.tag) + x.pool).join(' ')}`);
  return e;
};
const figures = (e: PoolEntry) => [e.bytes, e.allocs, e.frees, e.diff];

// ---- a knowledge base from the fixture drivers ----------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-triage-'));
const dbFile = join(tmp, 'kb.db');
let store: Store;
let lk: Lookup;
let report: ScanReport;
beforeAll(async () => {
  report = await scan({ paths: [join(root, 'test/fixtures/bin')], jobs: 2, cache: null });
  store = await Store.open(dbFile);
  await store.mergeReport(report, 'fixtures.json');
  await store.close();
  store = await Store.open(dbFile, { readonly: true });
  lk = new Lookup(store);
}, 60_000);
afterAll(async () => {
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------

describeShared(`the real samples in ../shared${sharedReason}`, () => {
  const SAMPLES = {
    'msdocs__pool__1.txt': 'pool:4',
    'msdocs__pool__2.txt': 'pool:2',
    'msdocs__poolfind__1.txt': 'poolfind:2',
    'msdocs__poolmon-display__1.txt': 'poolmon:8',
    'msdocs__poolmon-examples__1.txt': 'poolmon:13',
    'msdocs__poolmon-examples__2.txt': 'poolmon:3',
    'msdocs__poolmon-examples__3.txt': 'poolmon:8',
    'msdocs__poolmon-examples__4.txt': 'poolmon:1',
    'msdocs__poolmon-examples__5.txt': 'poolmon:1',
    'msdocs__poolmon-examples__6.txt': 'poolmon:16',
    'msdocs__poolmon-examples__7.txt': 'poolmon:16',
    'msdocs__poolmon-examples__8.txt': 'poolmon:16',
    'msdocs__poolmon-examples__9.txt': 'poolmon:0',
    'msdocs__poolused__1.txt': 'poolused:70',
    'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt': 'poolmon:4',
    'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt': 'poolmon:3',
  };

  it('every sample: its format, its tag-pool entries, no unreadable line', () => {
    expect(readdirSync(join(SHARED, 'samples')).sort()).toEqual(Object.keys(SAMPLES).sort());
    const got: Record<string, string> = {};
    for (const name of Object.keys(SAMPLES)) {
      const r = sharedFile('samples', name);
      got[name] = `${r.format}:${r.snapshots.reduce((n, s) => n + s.entries.length, 0)}`;
      expect(r.unreadable, name).toEqual([]);
      expect(r.encoding, name).toBe('utf-8');
    }
    expect(got).toEqual(SAMPLES);
    // A header with no rows is no table: said so, not analysed.
    expect(sharedFile('samples', 'msdocs__poolmon-examples__9.txt').error).toBe('a poolmon header but no table rows in it');
  });

  it('every row read: bytes, allocations and outstanding allocations summed per pool, per file', () => {
    // Sums worked out apart from the parsers (by splitting each row's numbers), so a row
    // dropped or a column misread in any sample changes them.
    const want: Record<string, Record<string, [number, number, number | null]>> = {
      'msdocs__poolmon-display__1.txt': { Nonp: [104024, 8463825, 184], Paged: [90856, 4172416, 894] },
      'msdocs__poolmon-examples__1.txt': { Nonp: [91856, 126502, 1608], Paged: [333928, 1726403, 338] },
      'msdocs__poolmon-examples__2.txt': { Nonp: [7536, 5, 5] },
      'msdocs__poolmon-examples__3.txt': { Nonp: [68136, 1061, 1058] },
      'msdocs__poolmon-examples__4.txt': { Paged: [17472, 560, 21] },
      'msdocs__poolmon-examples__5.txt': { Paged: [22464, 737, 27] },
      'msdocs__poolmon-examples__6.txt': { Sess: [391112, 112917, 140] },
      'msdocs__poolmon-examples__7.txt': { Sess: [385776, 113125, 140] },
      'msdocs__poolmon-examples__8.txt': { Sess: [407704, 124935, 148] },
      'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt': { Paged: [1953280, 18944, 5872] },
      'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt': { Paged: [896, 1667, 8], Nonp: [26512, 18389, 135] },
      'msdocs__poolused__1.txt': { Nonp: [126512, 343, null], Paged: [183024, 220, null] },
    };
    for (const [name, pools] of Object.entries(want)) {
      const got: Record<string, [number, number, number | null]> = {};
      for (const e of sharedFile('samples', name).snapshots[0].entries) {
        const t = (got[e.pool] ??= [0, 0, e.diff === null ? null : 0]);
        t[0] += e.bytes!;
        t[1] += e.allocs!;
        if (t[2] !== null) t[2] += e.diff!;
      }
      expect(got, name).toEqual(pools);
    }
  });

  it('poolmon: exact figures, pools, padded tags, Mapped_Driver, session scope', () => {
    const d = sharedFile('samples', 'msdocs__poolmon-display__1.txt');
    expect(d.snapshots[0].entries.map((e) => e.tag)).toEqual(['Wait', 'ObSt', 'Gxlt', 'Ustm', 'Io  ', 'ObSq', 'Key ', 'SePa']);
    expect(figures(entry(d, 'Io  ', 'Nonp'))).toEqual([91912, 1021112, 1020985, 127]);
    expect(figures(entry(d, 'Key ', 'Paged'))).toEqual([87528, 954821, 953979, 842]);
    expect(d.snapshots[0].context.poolmon).toMatchObject({ nonpagedBytes: 8332 * 1024, pagedBytes: 27220 * 1024 });
    const m = sharedFile('samples', 'msdocs__poolmon-examples__1.txt');
    expect(entry(m, 'NtFB', 'Paged')).toMatchObject({ bytes: 252088, diff: 10, inputDriver: 'ntfs.sys', inputDescription: 'BitmpSup.c' });
    const s = sharedFile('samples', 'msdocs__poolmon-examples__6.txt');
    expect(new Set(s.snapshots[0].entries.map((e) => e.pool))).toEqual(new Set(['Sess'])); // poolmon /s: session pool
    expect(figures(entry(s, 'Dh 1'))).toEqual([0, 24, 24, 0]);
    expect(figures(entry(s, 'Gcac'))).toEqual([288968, 3761, 3706, 55]);
    const u = sharedFile('samples', 'msdocs__poolmon-examples__8.txt');
    expect(entry(u, 'Dh 1')).toMatchObject({ inputUnknown: true, bytes: 224 });
    const leak = sharedFile('samples', 'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt');
    expect(leak.snapshots[0].entries.map((e) => `${e.tag}/${e.pool}/${e.bytes}`)).toEqual(['HidC/Paged/896', 'HidC/Nonp/19808', 'HidP/Nonp/6704']);
    const l1 = sharedFile('samples', 'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt');
    expect(l1.snapshots[0].entries.map((e) => e.tag)).toEqual(['CM  ', 'Strg', 'Fat ', 'MmSt']);
  });

  it('!poolused: both pools per tag, quoted padding (AGP , rx), the TOTAL line', () => {
    const r = sharedFile('samples', 'msdocs__poolused__1.txt');
    expect(r.snapshots[0].totals).toEqual({ Nonp: 209120008, Paged: 13066104 });
    expect(figures(entry(r, 'AGP ', 'Paged'))).toEqual([384, 2, null, null]);
    expect(entry(r, 'rx  ', 'Nonp')).toMatchObject({ bytes: 1248, allocs: 3, inputUnknown: true });
    expect(entry(r, '8042', 'Nonp')).toMatchObject({ bytes: 3944, inputDriver: 'i8042prt.sys', inputDescription: 'PS/2 kb and mouse' });
    const t = triage([r], { top: 3 });
    expect(t.pools.map((p) => [p.pool, p.tags, p.totalFrom, p.totalBytes])).toEqual([
      // the tags with something in each pool (the other pool's zero columns are not rows of its table)
      ['Nonp', 29, '!poolused TOTAL', 209120008],
      ['Paged', 11, '!poolused TOTAL', 13066104],
    ]);
    expect(t.pools[0].rows.map((x) => [x.tag, x.bytes])).toEqual([
      ['usbp', 77056],
      ['AcpD', 13280],
      ['WmiG', 6960],
    ]);
  });

  it('!pool and !poolfind: allocated blocks per tag (free blocks hold nothing)', async () => {
    const p = sharedFile('samples', 'msdocs__pool__1.txt');
    expect(p.snapshots[0].entries.map((e) => [e.tag, e.pool, e.bytes, e.allocs])).toEqual([
      ['MmDT', 'Unknown', 0x40, 1],
      ['ObDi', 'Unknown', 0x30, 3],
      ['Symt', 'Unknown', 0x10, 1],
      ['ObDm', 'Unknown', 0x40, 1],
    ]);
    const f = sharedFile('samples', 'msdocs__poolfind__1.txt');
    expect(f.snapshots[0].entries.map((e) => [e.tag, e.pool, e.bytes, e.allocs])).toEqual([
      ['SeSd', 'Nonp', 2784, 17],
      ['SeSd', 'Paged', 736, 4],
    ]);
  });

  it('!vm and !frag: usage against the maximum, failed allocations, PTEs, fragments', () => {
    expect(readdirSync(join(SHARED, 'debugger')).sort()).toEqual(['blog__frag__1.txt', 'blog__vm__1.txt', 'msdocs__vm__1.txt']);
    // The blog copy: non-breaking spaces, lines that lost their indentation.
    const blog = sharedFile('debugger', 'blog__vm__1.txt');
    expect(blog).toMatchObject({ format: 'vm', unreadable: [], error: null });
    expect(blog.snapshots[0].context.vm).toEqual({
      nonpaged: { usedBytes: 3508 * 1024, maxBytes: 25008 * 1024 },
      paged: { usedBytes: 6388 * 1024, maxBytes: 53248 * 1024 },
      failedAllocations: 4270,
      freeSystemPtes: 45089,
      line: 3,
    });
    const ms = sharedFile('debugger', 'msdocs__vm__1.txt');
    expect(ms.snapshots[0].context.vm).toMatchObject({ failedAllocations: 0, freeSystemPtes: 45089, nonpaged: { usedBytes: 3508 * 1024 } });
    expect(ms.unreadable).toEqual([]);
    // Every line of !vm's output is context: lines 3 to 29 (not the prompt, not the blank line).
    expect([...readPoolContext(splitLines(readFileSync(join(SHARED, 'debugger', 'blog__vm__1.txt'), 'utf8'))).lines]).toEqual(Array.from({ length: 27 }, (_, i) => i + 3));
    const frag = sharedFile('debugger', 'blog__frag__1.txt');
    expect(frag.unreadable).toEqual([]);
    expect(frag.snapshots[0].context.frag).toEqual({
      buckets: [
        { index: 0, fragments: 4, bytes: 128 },
        { index: 1, fragments: 0, bytes: 0 },
        { index: 2, fragments: 2, bytes: 192 },
        { index: 3, fragments: 0, bytes: 0 },
        { index: 20, fragments: 0, bytes: 0 },
        { index: 21, fragments: 0, bytes: 0 },
        { index: 22, fragments: 1, bytes: 7232 },
        { index: 23, fragments: 0, bytes: 0 },
        { index: 24, fragments: 0, bytes: 0 },
      ],
      fragments: 11,
      freeBytes: 9344,
      nonpagedUsedBytes: 1105920,
      line: 2,
    });
  });

  it('the verdict starts from !vm / !frag given beside the table', async () => {
    const t = triage([sharedFile('debugger', 'blog__vm__1.txt'), sharedFile('debugger', 'blog__frag__1.txt'), sharedFile('samples', 'msdocs__poolused__1.txt')], {});
    expect(t.verdict.slice(0, 4).map((v) => v.text)).toEqual([
      '4270 pool allocations have failed (!vm): the pool ran out at some point, or a large request found no contiguous space, even though it is not full now.',
      'Nonpaged pool is not exhausted: 3.4 MB of its 24.4 MB maximum (14%) in !vm.',
      'Paged pool is not exhausted: 6.2 MB of its 52.0 MB maximum (12%) in !vm.',
      'Nonpaged pool is not fragmented: 11 free fragments hold 9.1 KB (0.8% of the 1.1 MB in use), the largest about 7232 bytes (!frag).',
    ]);
    // Then no holder: the paste was cut with `...` (its rows hold 0.1% and 1.4% of the TOTALs), and it says so per pool.
    expect(t.verdict.slice(4, 6).map((v) => [v.kind, v.pool])).toEqual([
      ['note', 'Nonp'],
      ['note', 'Paged'],
    ]);
    expect(t.verdict[4].text).toBe('The nonpaged pool table is incomplete: its rows hold 123.5 KB of the 199.4 MB TOTAL (0.1%); rows were cut from the paste (`...`), and the tag that holds the pool may be among them.');
    expect(t.pools.map((p) => [p.pool, p.incomplete])).toEqual([
      ['Nonp', true],
      ['Paged', true],
    ]);
  });
});

describe('the synthetic samples (test/triage/)', () => {
  it('every layout is detected and read, with its unreadable lines by number', () => {
    const got: Record<string, string> = {};
    for (const name of readdirSync(SYN).filter((n) => n !== 'README.md').sort()) {
      const r = syn(name);
      got[name] = `${r.format}:${r.snapshots.length}:${r.snapshots.reduce((n, s) => n + s.entries.length, 0)}:${r.unreadable.map((u) => u.line).join(',')}`;
    }
    expect(got).toEqual({
      'debugger-2019.log': 'poolused:1:12:',
      'export.csv': 'csv:1:8:7',
      'loop.csv': 'csv:3:12:',
      'pool-blocks.txt': 'pool:1:2:',
      'poolfind-new.txt': 'poolfind:1:2:',
      'poolmon-2019.txt': 'poolmon:1:9:',
      'poolmon-session.txt': 'poolmon:1:3:',
      'poolused-old.txt': 'poolused:1:10:',
      'series-1.txt': 'poolmon:1:5:',
      'series-2.txt': 'poolmon:1:5:',
      'series-3.txt': 'poolmon:1:5:',
      'tags.json': 'json:1:8:5',
    });
  });

  it('poolmon: deltas, Mapped_Driver, a right-aligned short tag, an inner-space tag in session pool', () => {
    const r = syn('poolmon-2019.txt');
    expect(figures(entry(r, 'FxAp', 'Nonp'))).toEqual([197533696, 4811230, 4570118, 241112]);
    expect(entry(r, 'FxAp')).toMatchObject({ inputUnknown: true, inputDriver: null });
    expect(entry(r, 'Ntfx')).toMatchObject({ inputDriver: 'ntfs.sys', inputDescription: 'General Allocation' });
    expect(figures(entry(r, 'rx  ', 'Nonp'))).toEqual([1248, 3, 0, 3]);
    expect(figures(entry(r, 'Irp ', 'Nonp'))).toEqual([2486400, 8801221, 8799001, 2220]);
    const s = syn('poolmon-session.txt');
    expect(s.snapshots[0].entries.map((e) => `${e.tag}/${e.pool}`)).toEqual(['Gh05/Sess', 'Usqm/Sess', 'Dh 1/Sess']);
    const n = syn('series-2.txt');
    expect(n.snapshots[0].timeText).toBe('2024-05-01 09:30:00');
    expect(figures(entry(n, 'FlAl', 'Paged'))).toEqual([4096000, 9000, 5000, 4000]);
  });

  it('!poolused both layouts, !pool and !poolfind (newer lines), with the debugger log around them', () => {
    const o = syn('poolused-old.txt');
    expect(o.snapshots[0].entries.map((e) => `${JSON.stringify(e.tag)}/${e.pool}/${e.bytes}`)).toEqual([
      '"FxAp"/Nonp/1810432',
      '"FxAp"/Paged/0',
      '"Io  "/Nonp/86400',
      '"Io  "/Paged/1536',
      '"Ntfx"/Nonp/32768',
      '"Ntfx"/Paged/2048',
      '"ab  "/Nonp/128',
      '"ab  "/Paged/0',
      '"usb7"/Nonp/64',
      '"usb7"/Paged/0',
    ]);
    expect(entry(o, 'usb7', 'Nonp').inputDescription).toBe('2.0 host controller scratch');
    expect(o.snapshots[0].totals).toEqual({ Nonp: 1929792, Paged: 3584 });
    const d = syn('debugger-2019.log');
    expect(d.snapshots[0].totals).toEqual({ Nonp: 258048000, Paged: 135020544 });
    expect(d.snapshots[0].timeText).toBe('Wed May  1 10:14:21.000 2024 (UTC + 2:00)');
    expect(figures(entry(d, 'CM31', 'Paged'))).toEqual([98566144, 4431102, 4310102, 121000]);
    expect(entry(d, 'Ntfx', 'Nonp')).toMatchObject({ inputDriver: 'ntfs.sys', inputDescription: 'General Allocation' });
    expect(d.snapshots[0].context.vm).toMatchObject({ failedAllocations: 1200, freeSystemPtes: 6000, nonpaged: { usedBytes: 252000 * 1024, maxBytes: 256000 * 1024 } });
    expect(d.snapshots[0].context.frag).toMatchObject({ fragments: 15000, freeBytes: 672000, nonpagedUsedBytes: 258048000 });
    const p = syn('pool-blocks.txt');
    expect(p.snapshots[0].entries.map((e) => [e.tag, e.pool, e.bytes, e.allocs])).toEqual([
      ['FxAp', 'Nonp', 0x330 + 0x330 + 0x90, 3],
      ['Io  ', 'Nonp', 0x40, 1],
    ]);
    const f = syn('poolfind-new.txt');
    expect(f.snapshots[0].entries.map((e) => [e.tag, e.pool, e.bytes, e.allocs])).toEqual([
      ['FxAp', 'Nonp', 0x320 + 0x320 + 0x1000, 3],
      ['FxAp', 'Paged', 0x80, 1],
    ]);
  });

  it('CSV and JSON tables by their header names (PowerShell Export-Csv / ConvertTo-Json)', async () => {
    const c = syn('export.csv');
    expect(figures(entry(c, 'FxAp', 'Nonp'))).toEqual([197533696, 4811230, 4570118, 241112]);
    expect(entry(c, 'CM31', 'Paged')).toMatchObject({ bytes: 98566144, diff: 121000, inputDriver: 'nt!cm', inputDescription: 'Internal Configuration manager allocations' });
    expect(figures(entry(c, 'Io  ', 'Paged'))).toEqual([1536, 12, 0, 12]);
    expect(c.unreadable[0]).toMatchObject({ line: 7 });
    expect(c.unreadable[0].text).toBe('"bad!","x","0","0","0","0","0",""  (8 cells, the header has 9)');
    const j = syn('tags.json');
    expect(j.snapshots[0].entries.map((e) => `${JSON.stringify(e.tag)}/${e.pool}/${e.bytes}`)).toEqual([
      '"FxAp"/Paged/0',
      '"FxAp"/Nonp/197533696',
      '"Ntfx"/Paged/2048',
      '"Ntfx"/Nonp/9834496',
      '"FxQt"/Paged/64', // TagUlong 0x74517846
      '"FxQt"/Nonp/0',
      '"Io  "/Paged/1536', // byte[] Tag [73, 111, 0, 0]
      '"Io  "/Nonp/86400',
    ]);
    expect(j.unreadable).toEqual([{ line: 5, text: 'record 5: not an object' }]);
    // One pool per row, `;` (Export-Csv -UseCulture), header names with spaces, TotalUsedBytes not used.
    const semi = readInput(Buffer.from('Tag;Type;Allocs;Frees;Bytes;Total Used Bytes\r\nFxAp;Nonpaged;30;10;4096;4096\r\nIo;Paged;5;5;0;0\r\n'), 'semi.csv');
    expect(semi.snapshots[0].entries.map((e) => [e.tag, e.pool, ...figures(e)])).toEqual([
      ['FxAp', 'Nonp', 4096, 30, 10, 20],
      ['Io  ', 'Paged', 0, 5, 5, 0],
    ]);
    expect(columnField('NonPaged Used Bytes')).toEqual({ kind: 'metric', pool: 'Nonp', metric: 'bytes' });
    expect(columnField('TotalUsedBytes')).toBeNull();
    const loop = syn('loop.csv');
    expect(loop.snapshots.map((s) => s.timeText)).toEqual(['13/05/2024 09:00:00', '13/05/2024 10:00:00', '13/05/2024 11:00:00']);
  });

  it('encodings and line endings: UTF-16LE with BOM (PowerShell >), UTF-8 BOM, CRLF, Latin-1', () => {
    const text = readFileSync(join(SYN, 'poolmon-2019.txt'), 'utf8');
    const crlf = text.replace(/\n/g, '\r\n');
    const want = syn('poolmon-2019.txt').snapshots[0].entries;
    const variants: [Buffer, string, string][] = [
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf, 'utf16le')]), 'utf-16le', 'crlf'],
      [Buffer.from(crlf, 'utf16le'), 'utf-16le', 'crlf'],
      [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf, 'utf8')]), 'utf-8-bom', 'crlf'],
      [Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]), 'utf-16be', 'lf'],
      [Buffer.from(text.replace('General Allocation', 'Général Allocation'), 'latin1'), 'latin1', 'lf'],
    ];
    for (const [bytes, encoding, eol] of variants) {
      const r = readInput(bytes, encoding);
      expect(r).toMatchObject({ encoding, lineEnding: eol, format: 'poolmon', unreadable: [] });
      expect(r.snapshots[0].entries.map((e) => [e.tag, e.pool, e.bytes, e.diff])).toEqual(want.map((e) => [e.tag, e.pool, e.bytes, e.diff]));
    }
    expect(entry(readInput(variants[4][0], 'latin1'), 'Ntfx').inputDescription).toBe('Général Allocation');
    // UTF-16LE CSV and JSON, as Windows PowerShell 5.1's `Export-Csv -Encoding Unicode` / `>` write them.
    const csv = readInput(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(readFileSync(join(SYN, 'export.csv'), 'utf8').replace(/\n/g, '\r\n'), 'utf16le')]), 'csv');
    expect(csv).toMatchObject({ format: 'csv', encoding: 'utf-16le' });
    expect(csv.snapshots[0].entries).toHaveLength(8);
    const json = readInput(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(readFileSync(join(SYN, 'tags.json'), 'utf8'), 'utf16le')]), 'json');
    expect(json).toMatchObject({ format: 'json', encoding: 'utf-16le' });
    expect(decodeInput(Buffer.from('a\r\nb\nc')).lineEnding).toBe('mixed');
  });

  it('bad input never throws: binary, empty, garbage, a file of prose', () => {
    expect(readInput(Buffer.alloc(0), 'empty').error).toMatch(/empty/);
    expect(readInput(readFileSync(join(root, 'test/fixtures/bin/x64-clang-O2/core.sys')), 'core.sys').error).toMatch(/binary data/);
    expect(readInput(Buffer.from('hello\nworld\n'), 'prose')).toMatchObject({ format: 'none', snapshots: [] });
    let x = 12345;
    for (let k = 0; k < 20; k++) {
      const b = Buffer.alloc(4000);
      for (let i = 0; i < b.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[i] = (x >>> 16) % 7 === 0 ? 10 : 32 + ((x >>> 8) % 95);
      }
      const r = readInput(b, 'random');
      expect(r.snapshots.length + (r.error ? 1 : 0)).toBeGreaterThan(0);
      triage([r], {});
    }
    expect(() => triage([], {})).not.toThrow();
  });
});

describe('times and intervals', () => {
  it('timestamps as the inputs write them', async () => {
    expect(parseTimestamp('2024-05-01 09:30:00')).toBe(Date.UTC(2024, 4, 1, 9, 30));
    expect(parseTimestamp('2024-05-01T09:30:00+02:00')).toBe(Date.UTC(2024, 4, 1, 7, 30));
    expect(parseTimestamp('05/01/2024 09:30:00 PM')).toBe(Date.UTC(2024, 4, 1, 21, 30));
    expect(parseTimestamp('01/05/2024 09:30:00', true)).toBe(Date.UTC(2024, 4, 1, 9, 30));
    expect(parseTimestamp('13/05/2024 09:30')).toBe(Date.UTC(2024, 4, 13, 9, 30));
    expect(parseTimestamp('Wed May  1 10:14:21.000 2024 (UTC + 2:00)')).toBe(Date.UTC(2024, 4, 1, 10, 14, 21));
    expect(parseTimestamp('Wednesday, May 1, 2024 10:30:00 AM')).toBe(Date.UTC(2024, 4, 1, 10, 30));
    expect(parseTimestamp(' FxAp Nonp 3 (0) 0 (0)')).toBeNull();
    expect([parseInterval('30m'), parseInterval('1h'), parseInterval('90s'), parseInterval('2h30m'), parseInterval('45'), parseInterval('soon'), parseInterval('0'), parseInterval('0m')]).toEqual([
      1_800_000, 3_600_000, 90_000, 9_000_000, 2_700_000, null, null, null,
    ]);
  });
});

describe('several snapshots: growth and leak suspects', () => {
  const series = () => ['series-3.txt', 'series-1.txt', 'series-2.txt'].map(syn);

  it('ordered by their timestamps; a tag that grows in every interval is a suspect, grow-then-shrink is not', async () => {
    const t = await triageWithBase(series(), { lookup: lk });
    expect(t).toMatchObject({ mode: 'series', intervalMs: 1_800_000, intervalFrom: 'timestamps' });
    expect(t.snapshots.map((s) => s.label)).toEqual(['series-1.txt', 'series-2.txt', 'series-3.txt']);
    const g = (tag: string) => t.growth.find((r) => r.tag === tag)!;
    expect(g('FxAp')).toMatchObject({
      pool: 'Nonp',
      bytes: [8192000, 16384000, 24576000],
      outstanding: [10000, 20000, 30000],
      intervals: [
        { bytes: 8192000, outstanding: 10000 },
        { bytes: 8192000, outstanding: 10000 },
      ],
      totalBytes: 16384000,
      bytesPerHour: 16384000,
      outstandingPerHour: 20000,
      suspect: true,
    });
    expect(g('FlAl')).toMatchObject({ bytes: [1024000, 4096000, 1024000], totalBytes: 0, suspect: false });
    expect(g('Toke')).toMatchObject({ totalBytes: -184320, suspect: false });
    expect(g('Ntfx').suspect).toBe(false);
    expect(t.growth.filter((r) => r.suspect).map((r) => r.tag)).toEqual(['FxAp']);
    expect(t.growth[0].tag).toBe('FxAp');
    const v = t.verdict.find((x) => x.kind === 'suspect')!;
    expect(v.text).toMatch(/^Leak suspect: FxAp in nonpaged pool grows in every interval \(2 intervals\): \+15\.6 MB\/h, \+20000 allocations\/h, now 23\.4 MB\. Owner: core\.sys, Pooltag Fixtures/);
    expect(v.next).toBe('Next: contact the vendor (Pooltag Fixtures) or update the driver.');
  });

  it('without times: the order given, --interval for rates; none: totals only', () => {
    const strip = (name: string) => readInput(Buffer.from(readFileSync(join(SYN, name), 'utf8').replace(/^Snapshot taken:.*\n/m, '')), name);
    const inputs = () => ['series-1.txt', 'series-2.txt', 'series-3.txt'].map(strip);
    const a = triage(inputs(), { intervalMs: parseInterval('30m') });
    expect(a).toMatchObject({ intervalMs: 1_800_000, intervalFrom: '--interval' });
    expect(a.growth[0]).toMatchObject({ tag: 'FxAp', bytesPerHour: 16384000, suspect: true });
    const b = triage(inputs(), {});
    expect(b).toMatchObject({ intervalMs: null, intervalFrom: null });
    expect(b.growth[0]).toMatchObject({ tag: 'FxAp', bytesPerHour: null, totalBytes: 16384000, suspect: true });
    // Reversed, FxAp shrinks in every interval and Toke grows in every one.
    const c = triage(inputs().reverse(), {});
    expect(c.growth.filter((r) => r.suspect).map((r) => r.tag)).toEqual(['Toke']);
    // Only the grow-then-shrink tags: no suspect.
    const d = triage(['series-1.txt', 'series-2.txt', 'series-3.txt'].map((n) => readInput(Buffer.from(readFileSync(join(SYN, n), 'utf8').split('\n').filter((l) => !/^ (?:FxAp|Toke) /.test(l)).join('\n')), n)), {});
    expect(d.growth.some((r) => r.suspect)).toBe(false);
    expect(d.verdict[0].text).toBe('No tag grows in every interval: no leak suspect.');
    expect(d.growth.find((r) => r.tag === 'FlAl')!.intervals).toEqual([
      { bytes: 3072000, outstanding: 3000 },
      { bytes: -3072000, outstanding: -3000 },
    ]);
  });

  it('one log a script appended to (a time line, then a table, each time) is a series, line numbers kept', () => {
    const parts = ['series-1.txt', 'series-2.txt', 'series-3.txt'].map((n) => readFileSync(join(SYN, n), 'utf8'));
    parts[1] = parts[1].replace(' Ntfx Nonp', ' garbage here\n Ntfx Nonp');
    const text = parts.join('');
    const r = readInput(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace(/\n/g, '\r\n'), 'utf16le')]), 'appended.log');
    expect(r.snapshots.map((x) => [x.label, x.entries.length])).toEqual([
      ['appended.log#2024-05-01 09:00:00', 5],
      ['appended.log#2024-05-01 09:30:00', 5],
      ['appended.log#2024-05-01 10:00:00', 5],
    ]);
    const bad = text.split('\n').indexOf(' garbage here') + 1;
    expect(r.unreadable).toEqual([{ line: bad, text: ' garbage here' }]);
    expect(entry(r, 'Ntfx', 'Nonp', 1).lines).toEqual([bad + 1]);
    const t = triage([r], {});
    expect(t.growth.filter((g) => g.suspect).map((g) => g.tag)).toEqual(['FxAp']);
    expect(t.intervalMs).toBe(1_800_000);
  });

  it('a CSV series (PowerShell loop with a DateTime column) in one file', async () => {
    const t = triage([syn('loop.csv')], {});
    expect(t).toMatchObject({ mode: 'series', intervalFrom: 'timestamps', intervalMs: 3_600_000 });
    expect(t.growth.map((r) => [r.tag, r.pool, r.bytesPerHour, r.outstandingPerHour, r.suspect])).toEqual([
      ['FxAp', 'Nonp', 8192000, 10000, true],
      ['FlAl', 'Paged', 0, 0, false],
    ]);
  });
});

describe('owners', () => {
  it('a tag passed at call sites: each driver file once, its vendor, call sites and builds', async () => {
    const answer = await lk.answer(parseTag('FxAp'));
    const o = summariseOwner('FxAp', answer, null);
    const coreBuilds = report.images.filter((i) => i.evidence.some((e) => e.tag === 'FxAp'));
    expect(o.status).toBe('driver');
    // One driver: every build of core.sys (the signed copy too, by its OriginalFilename), as lookup groups them.
    expect(o.drivers.map((d) => d.file)).toEqual(['core.sys']);
    expect(o.drivers[0].builds).toBe(coreBuilds.length);
    expect(o.drivers[0]).toMatchObject({ file: 'core.sys', vendor: 'Pooltag Fixtures', versions: ['1.2.3.4'], confidence: 'high', via: 'call-site' });
    const sites = coreBuilds.reduce((n, i) => n + i.evidence.filter((e) => e.tag === 'FxAp').length, 0);
    expect(o.drivers[0].callSites).toBe(sites);
    expect(o.short).toBe('core.sys (Pooltag Fixtures)');
    expect(o.next).toBe('Next: contact the vendor (Pooltag Fixtures) or update the driver.');
  });

  it('shared and unknown tags say so, each with its next step; without a base, the input\'s own owner', async () => {
    const none = summariseOwner('None', await lk.answer(parseTag('None')), null);
    expect(none.status).toBe('shared');
    expect(none.text).toMatch(/^shared tag \(/);
    expect(none.next).toMatch(/!poolfind None/);
    const unk = summariseOwner('Zq9x', await lk.answer(parseTag('Zq9x')), { driver: null, description: null, unknown: true });
    expect(unk).toMatchObject({ status: 'unknown', short: 'unknown' });
    expect(unk.next).toMatch(/pooltag scan/);
    const input = summariseOwner('Ntfx', null, { driver: 'ntfs.sys', description: 'General Allocation', unknown: false });
    expect(input).toMatchObject({ status: 'input', short: 'ntfs.sys (input)', text: 'ntfs.sys - General Allocation (as the input says)' });
    expect(input.next).toMatch(/build the knowledge base/);
  });

  it('one snapshot: the seed story, verdict first, tables per pool sorted as asked', async () => {
    const t = await triageWithBase([syn('poolmon-2019.txt')], { lookup: lk, top: 3 });
    expect(t.mode).toBe('snapshot');
    const nonp = t.pools.find((p) => p.pool === 'Nonp')!;
    expect(nonp).toMatchObject({ tags: 6, totalBytes: 262144 * 1024, totalFrom: 'poolmon header' });
    expect(nonp.rows.map((r) => r.tag)).toEqual(['FxAp', 'Ntfx', 'File']);
    expect(nonp.rows[0].share).toBeCloseTo(197533696 / (262144 * 1024), 6);
    const holder = t.verdict.find((v) => v.tag === 'FxAp')!;
    expect(holder.text).toMatch(/^FxAp holds 74% of nonpaged pool \(188\.4 MB, 241112 allocations\): core\.sys, Pooltag Fixtures, \d+ call sites in \d+ builds/);
    expect(t.verdict.some((v) => v.kind === 'note')).toBe(false);
    const byAllocs = await triageWithBase([syn('poolmon-2019.txt')], { lookup: lk, sort: 'allocs', top: 2 });
    expect(byAllocs.pools.find((p) => p.pool === 'Nonp')!.rows.map((r) => r.tag)).toEqual(['Irp ', 'FxAp']);
    const byTag = triage([syn('poolmon-2019.txt')], { sort: 'tag', top: 0 });
    expect(byTag.pools.find((p) => p.pool === 'Nonp')!.rows.map((r) => r.tag)).toEqual(['File', 'FxAp', 'Irp ', 'None', 'Ntfx', 'rx  ']);
    expect(byTag.verdict.at(-1)!.kind).toBe('note'); // no knowledge base: says how to build one
    const ctx = contextFindings(syn('debugger-2019.log').snapshots[0].context);
    expect(ctx.map((c) => [c.pool, c.state])).toEqual([
      ['allocations', 'failed'],
      ['Nonp', 'exhausted'],
      ['Paged', 'ok'],
      ['system PTEs', 'low'],
      ['Nonp', 'ok'],
    ]);
  });
});

describe('what the input can say (issue 22, items 3 to 7)', () => {
  /** A poolmon screen: the header's pool sizes in KB, then `tag pool bytes` rows. */
  const poolmon = (nonpK: number, pagedK: number, rows: [string, 'Nonp' | 'Paged', number][]): InputRead =>
    readInput(
      Buffer.from(
        [
          ` Memory: 8388148K Avail: 1123456K  PageFlts:  1024   InRam Krnl: 9876K P:${pagedK}K`,
          ` Commit:3456780K Limit:9830400K Peak:3987654K            Pool N:${nonpK}K P:${pagedK}K`,
          ' System pool information',
          ' Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc',
          '',
          ...rows.map(([t, p, b]) => ` ${t} ${p.padEnd(5)}   1000 (   0)   900 (   0)   100   ${String(b).padStart(9)} (     0)   ${Math.floor(b / 100)}`),
        ].join('\n'),
      ),
      'screen.txt',
    );

  it('3. no verdict on a tag below 10% of its pool or below 1 MB: nothing stands out, and what to do instead', async () => {
    // The largest holds 1.1% of a 256 MB nonpaged pool; a 2 KB tag is 57% of a tiny paged table.
    const t = await triageWithBase([poolmon(262144, 0, [['Abcd', 'Nonp', 2_952_790], ['Efgh', 'Nonp', 1_000_000], ['Tiny', 'Paged', 2048], ['Tin2', 'Paged', 1536]])], { lookup: lk });
    expect(t.verdict.filter((v) => v.kind === 'holder')).toEqual([]);
    const notes = t.verdict.filter((v) => v.kind === 'note');
    expect(notes.map((v) => [v.pool, v.tag])).toEqual([
      ['Nonp', 'Abcd'],
      ['Paged', 'Tiny'],
    ]);
    expect(notes[0].text).toBe('Nothing stands out in nonpaged pool (256.0 MB, poolmon header): the largest tag, Abcd, holds 1.1% (2.8 MB); a tag is named when it holds 10% of its pool and 1.0 MB or more.');
    expect(notes[1].text).toMatch(/^Nothing stands out in paged pool \(3\.5 KB, table\): the largest tag, Tiny, holds 57% \(2\.0 KB\)/);
    for (const n of notes) {
      expect(n.next).toMatch(/snapshots over time/);
      expect(n.next).toMatch(/!vm/);
      expect(n.text + n.next).not.toMatch(/contact the vendor/);
    }
    // At 10% and 1 MB a tag is a verdict again.
    const big = await triageWithBase([poolmon(262144, 0, [['Abcd', 'Nonp', 30_000_000]])], { lookup: lk });
    expect(big.verdict.map((v) => [v.kind, v.tag])).toEqual([['holder', 'Abcd']]);
  });

  it('4. !poolfind and !pool list allocations: no share of the pool, each tag with its owner, and no advice to run the !poolfind that was pasted', async () => {
    for (const name of ['poolfind-new.txt', 'pool-blocks.txt']) {
      const t = await triageWithBase([syn(name)], { lookup: lk });
      expect(t.pools.length, name).toBeGreaterThan(0);
      for (const p of t.pools) {
        expect(p.listing).toBe('allocations');
        for (const r of p.rows) expect(r.share).toBeNull();
      }
      expect(t.verdict.some((v) => v.kind === 'holder' || /holds \d/.test(v.text)), name).toBe(false);
      const fx = t.verdict.find((v) => v.tag === 'FxAp')!;
      expect(fx.kind).toBe('allocations');
      expect(fx.text).toMatch(/^FxAp: 3 blocks listed in nonpaged pool \([\d.]+ KB; a list of allocations, not the pool's use\): core\.sys, Pooltag Fixtures/);
    }
    // A shared or unknown tag's next step, given a !poolfind of it, looks inside the blocks.
    const blocks = Buffer.from('ffffc10a`2b4c7000 : tag None, size     0x320, Nonpaged pool\nffffc10a`2b4c8000 : tag Zq9x, size     0x320, Nonpaged pool\n');
    const t = await triageWithBase([readInput(blocks, 'find.txt')], { lookup: lk });
    expect(t.verdict.map((v) => v.tag)).toEqual(['None', 'Zq9x']);
    for (const v of t.verdict) {
      expect(v.next).not.toMatch(/!poolfind/);
      expect(v.next).toMatch(/dps ADDRESS/);
    }
    // poolmon stays a use of the pool.
    expect((await triageWithBase([syn('poolmon-2019.txt')], { lookup: lk })).pools.every((p) => p.listing === 'usage' && !p.incomplete)).toBe(true);
  });

  it('5. a !poolused paste whose rows were cut says so, and names no tag from what is left', async () => {
    const whole = readFileSync(join(SYN, 'poolused-old.txt'), 'utf8');
    const cut = whole.replace(/ Io .*\n/, ' ...\n').replace(/TOTAL .*/, 'TOTAL        99373  209192960        15     3584');
    const t = await triageWithBase([readInput(Buffer.from(cut), 'cut.txt')], { lookup: lk });
    const nonp = t.pools.find((p) => p.pool === 'Nonp')!;
    expect(nonp).toMatchObject({ totalFrom: '!poolused TOTAL', incomplete: true, totalBytes: 209192960 });
    expect(t.verdict.filter((v) => v.kind === 'holder')).toEqual([]);
    expect(t.verdict.find((v) => v.pool === 'Nonp')!.text).toMatch(/^The nonpaged pool table is incomplete: its rows hold 1\.8 MB of the 199\.5 MB TOTAL \(0\.9%\); rows were cut from the paste/);
    // The whole table is not incomplete.
    expect((await triageWithBase([syn('poolused-old.txt')], { lookup: lk })).pools.every((p) => !p.incomplete)).toBe(true);
  });

  it("6. a tag both Microsoft's pooltag.txt and a third-party driver own: both shown, Microsoft's first", async () => {
    const ms = await Store.open(join(tmp, 'with-pooltag.db'));
    try {
      await ms.mergeReport(report, 'fixtures.json');
      const bytes = readFileSync(join(root, 'test/data/pooltag-synthetic-modern.txt'));
      await ms.importPooltag(parsePooltagTxt(bytes, 'pooltag.txt'), bytes, { path: 'pooltag.txt' });
      const o = summariseOwner('Io  ', (await new Lookup(ms).answer(parseTag('Io'))), null);
      expect(o.status).toBe('driver');
      expect(o.text).toMatch(/^Windows \(pooltag\.txt: nt!io - I\/O manager example allocations\); also passed by core\.sys, Pooltag Fixtures, \d+ call sites? in \d+ builds$/);
      expect(o.short).toBe('nt!io; core.sys (Pooltag Fixtures)');
      expect(o.next).toMatch(/^Next: a Windows tag that core\.sys \(Pooltag Fixtures\) passes too: /);
      expect(o.next).toMatch(/cumulative update/);
      expect(o.next).toMatch(/contact its vendor/);
    } finally {
      ms.close();
    }
  });
});

const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(JSON.parse(readFileSync(join(root, 'data/triage.schema.json'), 'utf8')));

describe('pooltag triage (CLI)', () => {
  function run(args: string[], input?: Buffer, env: Record<string, string> = {}) {
    if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` before the tests');
    const r = spawnSync(process.execPath, [bin, 'triage', ...args], { cwd: root, input, env: { ...process.env, POOLTAG_DB: join(tmp, 'absent.db'), ...env } });
    return { code: r.status, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
  }

  it('exit 0 and the verdict with the owner and vendor, at 80 columns, no colour when piped', () => {
    const r = run(['--db', dbFile, 'test/triage/poolmon-2019.txt']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/FxAp holds 74% of nonpaged pool \(188\.4 MB, 241112\s+allocations\): core\.sys,\s+Pooltag Fixtures/);
    expect(r.out).toMatch(/Next: contact the vendor \(Pooltag Fixtures\) or update the driver\./);
    expect(r.out).toMatch(/^ {2}FxAp +188\.4 MB +73\.6% +4811230 +241112 {2}core\.sys \(Pooltag Fixtures\)/m);
    for (const line of r.out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // eslint-disable-next-line no-control-regex
    expect(r.out).not.toMatch(/\x1b\[/);
  });

  it('the README shows the real output of its examples, and its setup line as it must be typed', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(
      '\nnpm install && bin/pooltag scan --no-cache --out fixtures-report.json test/fixtures/bin && bin/pooltag merge --db fixtures.db fixtures-report.json && bin/pooltag lookup --db fixtures.db FxAp && bin/pooltag triage --db fixtures.db test/triage/poolmon-2019.txt\nnpm test\n',
    );
    // Every sample kept in the README: a console block, `$ pooltag COMMAND ...` and its output.
    const blocks = [...readme.matchAll(/```console\n\$ pooltag ([^\n]*)\n([\s\S]*?)```/g)];
    expect(blocks.map(([, command]) => command.split(' ')[0]).sort()).toEqual(['lookup', 'triage']);
    expect(readme).not.toMatch(/```text\n\$ pooltag/); // an output sample no test runs
    for (const [, command, shown] of blocks) {
      const args = command.split(' ').map((a) => (a === 'fixtures.db' ? dbFile : a));
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, POOLTAG_DB: join(tmp, 'absent.db') } });
      expect(r.status, command).toBe(0);
      // The last line of triage names the base: fixtures.db in the README, a temporary one here.
      const strip = (t: string) => t.replace(/\nknowledge base [^\n]*\n$/, '\n');
      expect(strip(r.stdout.toString('utf8')), command).toBe(strip(shown));
    }
  });

  it('7. a binary file is one line (where its NUL byte is), and so is a text with no table: no line of it is quoted', () => {
    const gz = join(tmp, 'poolmon.txt.gz');
    writeFileSync(gz, gzipSync(readFileSync(join(SYN, 'poolmon-2019.txt'))));
    const bin1 = run([gz]);
    expect(bin1.code).toBe(1);
    expect(bin1.err).toMatch(/^pooltag triage: \S+poolmon\.txt\.gz: binary data \(a NUL byte at offset 0x[0-9a-f]+\), not pool output \(give a text copy of poolmon/);
    expect(bin1.err.trimEnd().split('\n')).toHaveLength(1);
    const notes = join(tmp, 'notes.txt');
    writeFileSync(notes, 'The server ran out of pool on Monday.\nIt was slow before that.\nWe rebooted it twice.\n');
    const prose = run([notes]);
    expect(prose.code).toBe(1);
    expect(prose.err.trimEnd().split('\n')).toEqual([`pooltag triage: ${notes}: no pool table or !vm/!frag output in it (poolmon, !poolused, !pool, !poolfind, CSV or JSON with a Tag column)`]);
    // Beside a readable input: still one line for it.
    const both = run(['test/triage/poolmon-2019.txt', gz]);
    expect(both.code).toBe(2);
    expect(both.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('colour on a terminal only, none with NO_COLOR', () => {
    const tty = (env: string) => spawnSync('script', ['-qc', `${env} ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} triage --db ${JSON.stringify(dbFile)} test/triage/series-1.txt test/triage/series-2.txt`, '/dev/null'], { cwd: root, encoding: 'utf8' });
    const probe = spawnSync('script', ['-qc', 'true', '/dev/null']);
    if (probe.error || probe.status !== 0) throw new Error('this test needs util-linux `script` to give the command a terminal');
    const on = tty('NO_COLOR=');
    expect(on.stdout).toMatch(/\x1b\[1mVerdict\x1b\[0m/);
    expect(on.stdout).toMatch(/\x1b\[31m {2}\* Leak suspect: FxAp/);
    // eslint-disable-next-line no-control-regex
    expect(tty('NO_COLOR=1').stdout).not.toMatch(/\x1b\[/);
  });

  it('--json: the documented shape', async () => {
    const r = run(['--json', '--db', dbFile, '--top', '2', 'test/triage/series-1.txt', 'test/triage/series-2.txt', 'test/triage/series-3.txt']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'pooltag-triage', schemaVersion: 1, mode: 'series', knowledgeBase: dbFile, intervalMs: 1_800_000, intervalFrom: 'timestamps' });
    expect(j.growth).toHaveLength(2);
    expect(j.growth[0]).toMatchObject({ tag: 'FxAp', pool: 'Nonp', suspect: true, bytesPerHour: 16384000, owner: { status: 'driver' } });
    expect(j.growth[0].owner.drivers[0]).toMatchObject({ file: 'core.sys', vendor: 'Pooltag Fixtures', via: 'call-site' });
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    // Every form and input validates against data/triage.schema.json.
    for (const args of [
      ['--db', dbFile, 'test/triage/poolmon-2019.txt'],
      ['test/triage/debugger-2019.log', 'test/triage/poolused-old.txt'],
      ['test/triage/export.csv', 'no-such.txt'],
      ['--db', dbFile, '--top', '0', 'test/triage/loop.csv'],
      ['--db', dbFile, 'test/triage/pool-blocks.txt', 'test/triage/tags.json'],
    ]) {
      const x = run(['--json', ...args]);
      const doc = JSON.parse(x.out);
      expect(validate(doc), `${args.join(' ')}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('stdin in UTF-16LE; without a base it says how to build one', async () => {
    const text = readFileSync(join(SYN, 'poolmon-2019.txt'), 'utf8').replace(/\n/g, '\r\n');
    const r = run(['-'], Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^stdin: poolmon, 9 tag rows \(System pool information\), utf-16le/);
    expect(r.out).toMatch(/No knowledge base/);
    expect(r.out).toMatch(/pooltag merge host\.json/);
  });

  it('exit 2 for unreadable lines or inputs (with their numbers), 1 for nothing readable and usage errors', () => {
    const bad = run(['test/triage/export.csv']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^pooltag triage: test\/triage\/export\.csv:7: cannot read this line, skipped: /m);
    const some = run(['test/triage/poolmon-2019.txt', 'no-such.txt']);
    expect(some.code).toBe(2);
    expect(some.err).toBe('pooltag triage: no-such.txt: no such file\n');
    expect(run(['no-such.txt']).code).toBe(1);
    expect(run(['package.json']).code).toBe(1);
    for (const [args, msg] of [
      [['--sort', 'size', 'x'], /--sort/],
      [['--interval', 'soon', 'x'], /^pooltag triage: --interval "soon": give a duration such as 30m/],
      [['--top', '-3', 'x'], /--top/],
      [['--db', join(tmp, 'nope.db'), 'test/triage/poolmon-2019.txt'], /^pooltag triage: no knowledge base at /],
      [[], /missing required argument/],
    ] as [string[], RegExp][]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err.trim().split('\n')[0]).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});
