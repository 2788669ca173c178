/**
 * Parsers for pasted poolmon / !poolused / !pool / !poolfind output: tested on synthetic
 * pastes written for this repository (test/data/*-synthetic.txt and inline), on garbage,
 * and on every real sample in ../shared/samples/ when it is there (read in place, never
 * copied into the repository; skipped with one reason otherwise).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  type PoolOutput,
  type PoolRow,
  detectPoolOutput,
  parsePool,
  parsePoolFind,
  parsePoolmon,
  parsePoolused,
} from '../src/answer/pool-output.js';
import { describeWithShared, repoRoot, sharedFile, sharedPath } from './helpers/shared.js';

const sample = (name: string): string => sharedFile(`samples/${name}`).toString('utf8');
const synthetic = (name: string): string => readFileSync(join(repoRoot, 'test/data', name), 'utf8');



/** The numeric columns of a row, for compact assertions. */
const nums = (r: PoolRow) => [r.allocs, r.allocsDelta, r.frees, r.freesDelta, r.diff, r.bytes, r.bytesDelta, r.perAlloc];
const tags = (o: PoolOutput) => o.rows.map((r) => r.tag);
const row = (o: PoolOutput, tag: string, poolType?: string): PoolRow => {
  const r = o.rows.find((x) => x.tag === tag && (poolType === undefined || x.poolType === poolType));
  if (!r) throw new Error(`no row ${JSON.stringify(tag)} ${poolType ?? ''} in ${JSON.stringify(tags(o))}`);
  return r;
};

/** Every sample is covered below; this list makes a new sample fail until it is added. */
const COVERED = [
  'msdocs__pool__1.txt',
  'msdocs__pool__2.txt',
  'msdocs__poolfind__1.txt',
  'msdocs__poolmon-display__1.txt',
  'msdocs__poolmon-examples__1.txt',
  'msdocs__poolmon-examples__2.txt',
  'msdocs__poolmon-examples__3.txt',
  'msdocs__poolmon-examples__4.txt',
  'msdocs__poolmon-examples__5.txt',
  'msdocs__poolmon-examples__6.txt',
  'msdocs__poolmon-examples__7.txt',
  'msdocs__poolmon-examples__8.txt',
  'msdocs__poolmon-examples__9.txt',
  'msdocs__poolused__1.txt',
  'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt',
  'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt',
];

// ---- synthetic pastes (test/data, written for this repository) ------------------------

describe('synthetic pastes', () => {
  it('poolmon: header block skipped, deltas, Mapped_Driver, localtag + pooltag groups, Unknown Driver, inner space', () => {
    const text = synthetic('poolmon-synthetic.txt');
    const o = detectPoolOutput(text);
    expect(o).toMatchObject({ format: 'poolmon', ignored: 6, unknownCount: 0, scope: 'System pool information' });
    expect(o.rows.map((r) => r.displayTag)).toEqual(['ShAp', 'ShAq', 'ExQm', 'ExQn', 'Zz9x', 'Dx 2', 'Io  ']);
    expect(o.rows[0]).toMatchObject({ poolType: 'Nonp', line: 6, mappedDriver: 'shap.sys', description: 'Example share cache', unknownTag: false });
    expect(nums(o.rows[0])).toEqual([120000, 12, 100, 2, 119900, 122777600, 10240, 1024]);
    expect(row(o, 'ShAq')).toMatchObject({ poolType: 'Paged', bytes: 2560, perAlloc: 256 });
    expect(row(o, 'ExQm').mapped).toEqual([
      { driver: 'exq', description: null, truncated: false },
      { driver: 'exq.sys', description: 'Example event queue', truncated: false },
    ]);
    expect(row(o, 'Zz9x')).toMatchObject({ mappedDriver: null, description: null, unknownTag: true });
    expect(row(o, 'Dx 2')).toMatchObject({ poolType: 'Paged', mappedDriver: 'win32k.sys' });
    expect(row(o, 'Io  ')).toMatchObject({ mappedDriver: 'nt!io', line: 12 });
    // the same paste saved by PowerShell (CRLF) reads the same
    expect(detectPoolOutput(text.replace(/\n/g, '\r\n')).rows.map(nums)).toEqual(o.rows.map(nums));
  });

  it('!poolused: the older layout, a row per pool, descriptions glued to the last number, the totals', () => {
    const o = detectPoolOutput(synthetic('poolused-synthetic.txt'));
    expect(o).toMatchObject({ format: 'poolused', unknownCount: 0, totals: [123, 122778584, 7, 2944] });
    expect(o.rows.map((r) => [r.tag, r.poolType, r.allocs, r.bytes])).toEqual([
      ['4711', 'Nonp', 2, 640],
      ['4711', 'Paged', 0, 0],
      ['ShAp', 'Nonp', 120, 122777600],
      ['ShAp', 'Paged', 5, 2560],
      ['Ex  ', 'Nonp', 1, 344],
      ['Ex  ', 'Paged', 2, 384],
    ]);
    expect(o.rows[0]).toMatchObject({ unknownTag: true, quotedTag: '4711', line: 7 });
    expect(row(o, 'ShAp', 'Nonp')).toMatchObject({ mappedDriver: 'shap.sys', description: 'Example share cache', unknownTag: false });
  });

  it('!pool: allocations with sizes in hex, the `*` marked one, a free block', () => {
    const o = detectPoolOutput(synthetic('pool-synthetic.txt'));
    expect(o).toMatchObject({ format: 'pool', unknownCount: 0 });
    expect(o.rows.map((r) => [r.tag, r.allocation?.size, r.allocation?.state, r.allocation?.marked])).toEqual([
      ['ShAp', 0x40, 'Allocated', false],
      ['Ex  ', 0x10, 'Free', false],
      ['ExQm', 0x10, 'Allocated', true],
      ['ExQn', 0x20, 'Allocated', false],
    ]);
  });
});


describe('poolmon layouts not in the samples', () => {
  it('right-aligned short tags are read by column (`  rx` is the NUL-padded tag `rx  `)', () => {
    const text = [
      ' Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc',
      '',
      '   rx Nonp          3 (   0)         0 (   0)        3    1248 (     0)    416',
      ' Io   Nonp    1021112 (   1)   1020985 (   1)      127   91912 (     0)    723',
      ' Dh 1 Paged        24 (   0)        24 (   0)        0       0 (     0)      0',
      ' Sess Paged         1 (   0)         0 (   0)        1      64 (     0)     64',
    ].join('\r\n');
    const o = parsePoolmon(text);
    expect(o.rows.map((r) => [r.displayTag, r.tag, r.poolType])).toEqual([
      ['  rx', 'rx  ', 'Nonp'],
      ['Io  ', 'Io  ', 'Nonp'],
      ['Dh 1', 'Dh 1', 'Paged'],
      ['Sess', 'Sess', 'Paged'],
    ]);
  });

  it('`/n` snapshot style rows without deltas, and rows with no header at all', () => {
    const snap = [
      ' Tag  Type     Allocs     Frees      Diff   Bytes  Per Alloc',
      ' Wait Nonp    3971107   3971077        30    8456    281',
      '   rx Paged         3         0         3    1248    416',
    ].join('\n');
    const o = parsePoolmon(snap);
    expect(nums(o.rows[0])).toEqual([3971107, null, 3971077, null, 30, 8456, null, 281]);
    expect(o.rows[1]).toMatchObject({ tag: 'rx  ', displayTag: '  rx' });
    const headerless = ' Wait Nonp    3971107 (   0)   3971077 (   0)       30    8456 (     0)    281\n   rx Paged   3 (0) 0 (0) 3 1248 (0) 416\n';
    expect(parsePoolmon(headerless).rows.map((r) => r.displayTag)).toEqual(['Wait', '  rx']);
  });

  it('skips and counts lines it cannot read', () => {
    const o = parsePoolmon(' Tag  Type     Allocs\nhello world\n Wait Nonp 1 (0) oops\n Wait Nonp 1 (0) 0 (0) 1 8 (0) 8\n');
    expect(o.rows).toHaveLength(1);
    expect(o.unknown).toEqual([
      { line: 2, text: 'hello world' },
      { line: 3, text: ' Wait Nonp 1 (0) oops' },
    ]);
    expect(o.unknownCount).toBe(2);
  });
});

describe('!poolused', () => {
  it('the newer layout: `Tag Allocs Frees Diff Used` twice and a tab before the description', () => {
    // Synthetic, following formats.md (no real sample of this layout in ../shared).
    const text = [
      '0: kd> !poolused 2',
      '........',
      ' Sorting by NonPaged Pool Consumed',
      '',
      '               NonPaged                                         Paged',
      ' Tag     Allocs     Frees      Diff         Used   Allocs     Frees      Diff         Used',
      '',
      ' ConT        30         0        30     55574528        0         0         0            0\tUNKNOWN pooltag \'ConT\', please update pooltag.txt',
      ' smNp      1913        10      1903     31449088        0         0         0            0\tReadyBoost store node pool allocations , Binary: nt!store or rdyboost.sys',
      ' ohci         1         0         1          136        0         0         0            0\t1394 OHCI host controller driver',
      ' AGP          1         0         1          344        2         0         2          384\tUNKNOWN pooltag \'AGP \', please update pooltag.txt',
      '',
      ' TOTAL     3570214 3570000 214 209120008 38769 0 38769 13066104',
    ].join('\n');
    expect(detectPoolOutput(text).format).toBe('poolused');
    const o = parsePoolused(text);
    expect(o.unknownCount).toBe(0);
    expect(o.rows).toHaveLength(8);
    expect(row(o, 'ConT', 'Nonp')).toMatchObject({ allocs: 30, frees: 0, diff: 30, bytes: 55574528, unknownTag: true, quotedTag: 'ConT' });
    expect(row(o, 'smNp', 'Nonp')).toMatchObject({
      allocs: 1913,
      frees: 10,
      diff: 1903,
      bytes: 31449088,
      description: 'ReadyBoost store node pool allocations',
      mappedDriver: 'nt!store or rdyboost.sys',
    });
    expect(row(o, 'ohci', 'Nonp').description).toBe('1394 OHCI host controller driver');
    expect(row(o, 'AGP ', 'Paged')).toMatchObject({ allocs: 2, frees: 0, diff: 2, bytes: 384 });
    expect(o.totals).toEqual([3570214, 3570000, 214, 209120008, 38769, 0, 38769, 13066104]);
  });
});

describe('!pool and !poolfind', () => {
  it('newer debuggers: 64-bit addresses, `Pooltag X : desc, Binary : x`, large pool, new !poolfind lines', () => {
    // Synthetic lines in the shape of current WinDbg output (no real sample in ../shared).
    const pool = [
      '0: kd> !pool ffffe00b`bd4a5a10',
      'Pool page ffffe00bbd4a5a10 region is Nonpaged pool',
      ' ffffe00b`bd4a5000 size:  150 previous size:    0  (Allocated)  File',
      '*ffffe00b`bd4a5a00 size:   80 previous size:  150  (Allocated) *Ntfx',
      '\t\tPooltag Ntfx : General Allocation, Binary : ntfs.sys',
      ' ffffe00b`bd4a5a80 size:   60 previous size:   80  (Allocated)  Proc (Protected)',
      ' ffffe00b`bd4a5ae0 size:   20 previous size:   60  (Free)       Io',
    ].join('\n');
    const p = detectPoolOutput(pool);
    expect(p).toMatchObject({ format: 'pool', unknownCount: 0 });
    expect(p.rows.map((r) => [r.tag, r.poolType, r.allocation?.marked])).toEqual([
      ['File', 'Nonp', false],
      ['Ntfx', 'Nonp', true],
      ['Proc', 'Nonp', false],
      ['Io  ', 'Nonp', false], // trailing blanks lost in the paste
    ]);
    expect(p.rows[1]).toMatchObject({ description: 'General Allocation', mappedDriver: 'ntfs.sys', allocation: { address: 'ffffe00b`bd4a5a00', size: 0x80 } });
    expect(p.rows[2].allocation?.note).toBe('(Protected)');

    const large = parsePool('*ffffe00b`bd4a5000 : large page allocation, tag is Ntfx, size is 0x1000 bytes\n');
    expect(large.rows[0]).toMatchObject({ tag: 'Ntfx', allocation: { size: 0x1000, state: 'large', marked: true } });

    const find = parsePoolFind('fffffa80`03a43010 : tag Irp , size     0x100, Nonpaged pool\nffffcb8d`f6b81000 : tag Proc, size 0xb50, Paged pool\n');
    expect(find.rows.map((r) => [r.tag, r.poolType, r.allocation?.size])).toEqual([
      ['Irp ', 'Nonp', 0x100],
      ['Proc', 'Paged', 0xb50],
    ]);
  });
});

describe('garbage', () => {
  function randomText(n: number, seed: number): string {
    let x = seed >>> 0 || 1;
    let s = '';
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const c = x & 0xff;
      s += c % 11 === 0 ? '\n' : String.fromCharCode(c);
    }
    return s;
  }

  it('never throws; unknown lines are skipped and counted', () => {
    const parsers = [parsePoolmon, parsePoolused, parsePool, parsePoolFind, detectPoolOutput];
    for (let seed = 1; seed <= 10; seed++) {
      const text = randomText(5000, seed * 104729);
      for (const parse of parsers) {
        const o = parse(text);
        expect(o.unknownCount).toBe(o.unknown.length);
        expect(o.rows.length + o.ignored + o.unknownCount).toBeLessThanOrEqual(text.split(/\r\n|\r|\n/).length);
      }
    }
    for (const parse of parsers) {
      expect(parse('').rows).toEqual([]);
      expect(parse('\x1a\x00\uFFFD').unknownCount).toBe(1);
      expect(parse(undefined as unknown as string).rows).toEqual([]);
      // long hostile lines stay linear
      expect(parse(' '.repeat(100_000) + ', Binary:' + ' '.repeat(100_000)).unknownCount).toBe(1);
    }
    const o = detectPoolOutput('hello\n\nworld');
    expect(o).toMatchObject({ format: 'unknown', rows: [], ignored: 1, unknownCount: 2 });
  });

  it('a poolmon paste with noise in it keeps its rows', () => {
    const text = synthetic('poolmon-synthetic.txt').replace(' ExQn', 'xxxx\u0000garbage line\n ExQn');
    const o = detectPoolOutput(text);
    expect(o.format).toBe('poolmon');
    expect(o.rows).toHaveLength(7);
    expect(o.unknownCount).toBe(1);
  });
});

// ---- the real samples (../shared/samples beside the repository) -----------------------

describeWithShared('real samples', COVERED.map((n) => `samples/${n}`), () => {
  describe('the samples folder', () => {
    it('holds exactly the samples these tests cover, each detected with no unknown line', () => {
      expect(readdirSync(sharedPath('samples')).sort()).toEqual([...COVERED].sort());
      const formats: Record<string, string> = {};
      for (const name of COVERED) {
        const o = detectPoolOutput(sample(name));
        formats[name] = `${o.format}:${o.rows.length}`;
        expect(o.unknown, name).toEqual([]);
      }
      expect(formats).toEqual({
        'msdocs__pool__1.txt': 'pool:7',
        'msdocs__pool__2.txt': 'pool:4',
        'msdocs__poolfind__1.txt': 'poolfind:23',
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
        'msdocs__poolused__1.txt': 'poolused:70', // 35 tag lines x (NonPaged, Paged)
        'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt': 'poolmon:4',
        'msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt': 'poolmon:3',
      });
    });
  });

  describe('poolmon samples', () => {
    it('poolmon-display__1: header block skipped, padded tags, deltas', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-display__1.txt'));
      expect(o).toMatchObject({ format: 'poolmon', ignored: 6, unknownCount: 0, scope: 'System pool information' });
      expect(tags(o)).toEqual(['Wait', 'ObSt', 'Gxlt', 'Ustm', 'Io  ', 'ObSq', 'Key ', 'SePa']);
      expect(o.rows[0]).toMatchObject({ tag: 'Wait', displayTag: 'Wait', poolType: 'Nonp', line: 6, mappedDriver: null, description: null });
      expect(nums(o.rows[0])).toEqual([3971107, 0, 3971077, 0, 30, 8456, 0, 281]);
      expect(row(o, 'Io  ')).toMatchObject({ poolType: 'Nonp', line: 10 });
      expect(nums(row(o, 'Io  '))).toEqual([1021112, 1, 1020985, 1, 127, 91912, 0, 723]);
      expect(nums(row(o, 'Key '))).toEqual([954821, 0, 953979, 0, 842, 87528, 0, 103]);
      expect(row(o, 'Gxlt').poolType).toBe('Paged');
    });

    it('poolmon-examples__1: Mapped_Driver `[ntfs.sys  -  AttrSup.c]`', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-examples__1.txt'));
      expect(o.rows).toHaveLength(13);
      expect(o.rows[0]).toMatchObject({ tag: 'NtFA', poolType: 'Nonp', mappedDriver: 'ntfs.sys', description: 'AttrSup.c', unknownTag: false });
      expect(row(o, 'NtFB')).toMatchObject({ poolType: 'Paged', bytes: 252088, perAlloc: 25208, description: 'BitmpSup.c' });
      expect(nums(row(o, 'NtFs'))).toEqual([48825, 0, 47226, 0, 1599, 64536, 0, 40]);
      expect(row(o, 'NtFs')).toMatchObject({ mappedDriver: 'ntfs.sys', description: 'StrucSup.c', line: 17 });
      // case matters: NtFS and NtFs are different tags
      expect(row(o, 'NtFS')).toMatchObject({ diff: 301, description: 'SecurSup.c' });
    });

    it('poolmon-examples__2: no header block, `Unknown Driver`', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-examples__2.txt'));
      expect(tags(o)).toEqual(['1MEM', '2MEM', '3MEM']);
      expect(o.rows[2]).toMatchObject({ poolType: 'Nonp', mappedDriver: null, description: null, unknownTag: true, line: 5 });
      expect(nums(o.rows[2])).toEqual([3, 0, 0, 0, 3, 248, 0, 82]);
    });

    it('poolmon-examples__3: localtag.txt and pooltag.txt groups `[ipsec][ipsec.sys - event queue]`', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-examples__3.txt'));
      expect(o.rows[0]).toMatchObject({
        tag: 'IpEQ',
        mappedDriver: 'ipsec',
        description: 'event queue',
        mapped: [
          { driver: 'ipsec', description: null, truncated: false },
          { driver: 'ipsec.sys', description: 'event queue', truncated: false },
        ],
      });
      expect(row(o, 'IpHP')).toMatchObject({ mappedDriver: 'ipsec.sys', description: 'IP Security', mapped: [{ driver: 'ipsec.sys' }] });
      expect(row(o, 'IpIO')).toMatchObject({ mappedDriver: 'ipsec', description: null });
      expect(row(o, 'IpSI')).toMatchObject({ allocs: 1027, bytes: 53272, perAlloc: 51, description: 'initial allcoations' });
    });

    it('poolmon-examples__4 and __5: non-zero deltas, no leading blank', () => {
      const a = parsePoolmon(sample('msdocs__poolmon-examples__4.txt'));
      expect(a.rows).toHaveLength(1);
      expect(a.rows[0]).toMatchObject({ tag: 'Drsd', poolType: 'Paged', line: 5 });
      expect(nums(a.rows[0])).toEqual([560, 177, 539, 171, 21, 17472, 4992, 832]);
      const b = parsePoolmon(sample('msdocs__poolmon-examples__5.txt'));
      expect(nums(b.rows[0])).toEqual([737, 0, 710, 0, 27, 22464, 0, 832]);
    });

    it('poolmon-examples__6 and __7: session pool, tags with an inner space (`Dh 1`)', () => {
      const a = parsePoolmon(sample('msdocs__poolmon-examples__6.txt'));
      expect(a.scope).toBe('All sessions pool information');
      expect(a.rows).toHaveLength(16);
      expect(row(a, 'Dh 1')).toMatchObject({ displayTag: 'Dh 1', poolType: 'Paged', allocs: 24, frees: 24, line: 9 });
      expect(row(a, 'Dh 2').allocs).toBe(344);
      expect(nums(row(a, 'Gcac'))).toEqual([3761, 0, 3706, 0, 55, 288968, 0, 5253]);
      expect(a.ignored).toBe(7); // Memory, Commit, scope, header, blank, `...`, final empty line
      const b = parsePoolmon(sample('msdocs__poolmon-examples__7.txt'));
      expect(b.scope).toBe('Session 0 pool information');
      expect(nums(row(b, 'GTmp'))).toEqual([89079, 99, 89079, 99, 0, 0, 0, 0]);
    });

    it('poolmon-examples__8: `/g` descriptions without a driver and `Unknown Driver`', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-examples__8.txt'));
      expect(o.rows).toHaveLength(16);
      expect(o.rows[0]).toMatchObject({ tag: 'Bmfd', line: 8, mappedDriver: null, description: 'Font related stuff', unknownTag: false });
      expect(row(o, 'Dh 1')).toMatchObject({ allocs: 37, frees: 35, diff: 2, bytes: 224, perAlloc: 112, unknownTag: true });
      expect(row(o, 'Gcac')).toMatchObject({ bytes: 305400, description: 'Gdi glyph cache' });
      expect(row(o, 'Dvgr').description).toBe('vga for risc video driver');
    });

    it('poolmon-examples__9: only a header, no rows', () => {
      const o = parsePoolmon(sample('msdocs__poolmon-examples__9.txt'));
      expect(o).toMatchObject({ rows: [], unknownCount: 0, scope: 'All sessions pool information' });
    });

    it('memory-leak__1: `## Tag` header not aligned with its rows', () => {
      const o = parsePoolmon(sample('msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__1.txt'));
      expect(tags(o)).toEqual(['CM  ', 'Strg', 'Fat ', 'MmSt']);
      expect(nums(o.rows[0])).toEqual([1283, 0, 1002, 0, 281, 1377312, 0, 4901]);
      expect(nums(o.rows[1])).toEqual([10385, 10, 6658, 4, 3727, 317952, 512, 85]);
      expect(o.rows[2]).toMatchObject({ tag: 'Fat ', poolType: 'Paged', bytesDelta: 128, line: 8 });
    });

    it('memory-leak__2: a tag in both pools, a Mapped_Driver cut at the screen edge', () => {
      const o = parsePoolmon(sample('msdocs__using-poolmon-to-find-a-kernel-mode-memory-leak__2.txt'));
      expect(o.rows.map((r) => [r.tag, r.poolType])).toEqual([
        ['HidC', 'Paged'],
        ['HidC', 'Nonp'],
        ['HidP', 'Nonp'],
      ]);
      expect(o.rows[1]).toMatchObject({
        allocs: 17375,
        frees: 17256,
        diff: 119,
        bytes: 19808,
        perAlloc: 166,
        mappedDriver: 'hidclass.sys',
        description: 'HID Class d',
        mapped: [{ driver: 'hidclass.sys', description: 'HID Class d', truncated: true }],
      });
      expect(o.rows[2]).toMatchObject({ mappedDriver: 'hidparse.sys', description: 'HID Parser', mapped: [{ truncated: false }] });
    });
  });

  describe('!poolused samples', () => {
    it('poolused__1: the older layout with descriptions glued to the last number', () => {
      const o = parsePoolused(sample('msdocs__poolused__1.txt'));
      expect(o).toMatchObject({ format: 'poolused', unknownCount: 0, totals: [3570214, 209120008, 38769, 13066104] });
      expect(o.rows).toHaveLength(70);
      expect(o.rows.slice(0, 2)).toEqual([
        expect.objectContaining({ tag: '1394', poolType: 'Nonp', allocs: 1, bytes: 520, frees: null, diff: null, perAlloc: null, unknownTag: true, quotedTag: '1394', description: null, mappedDriver: null, line: 7 }),
        expect.objectContaining({ tag: '1394', poolType: 'Paged', allocs: 0, bytes: 0, line: 7 }),
      ]);
      expect(row(o, '8042', 'Nonp')).toMatchObject({ allocs: 4, bytes: 3944, description: 'PS/2 kb and mouse', mappedDriver: 'i8042prt.sys', unknownTag: false });
      // the quote keeps the padding; the first column does not tell
      expect(row(o, 'AGP ', 'Paged')).toMatchObject({ displayTag: 'AGP ', quotedTag: 'AGP ', allocs: 2, bytes: 384, unknownTag: true });
      expect(row(o, 'AcdN', 'Nonp')).toMatchObject({ allocs: 2, bytes: 1072, description: 'TDI AcdObjectInfoG', mappedDriver: null });
      expect(row(o, 'AcpB', 'Paged')).toMatchObject({ allocs: 4, bytes: 576, mappedDriver: 'acpi.sys', description: 'ACPI Pooltags' });
      expect(row(o, 'Wmip', 'Paged')).toMatchObject({ allocs: 182, bytes: 18600, description: 'Wmi General purpose allocation' });
      expect(row(o, 'hSVD', 'Paged')).toMatchObject({ allocs: 1, bytes: 40, description: 'Shared Heap Tag', mappedDriver: 'mrxdav.sys' });
      // `0` + `1394 OHCI ...`: the description starts with a digit
      expect(row(o, 'ohci', 'Nonp')).toMatchObject({ allocs: 1, bytes: 136, description: '1394 OHCI host controller driver' });
      expect(row(o, 'ohci', 'Paged')).toMatchObject({ allocs: 0, bytes: 0 });
      // `rx..` in the first column, `'  rx'` in the quote: a NUL-padded tag (and a row one column off)
      expect(row(o, 'rx  ', 'Nonp')).toMatchObject({ displayTag: 'rx..', quotedTag: '  rx', allocs: 3, bytes: 1248, unknownTag: true, line: 40 });
      expect(row(o, 'vPrt', 'Paged')).toMatchObject({ allocs: 18, bytes: 68160, line: 44 });
    });

  });

  describe('!pool and !poolfind samples', () => {
    it('pool__1: the `*` marked allocation', () => {
      const o = parsePool(sample('msdocs__pool__1.txt'));
      expect(o).toMatchObject({ format: 'pool', ignored: 3, unknownCount: 0 });
      expect(tags(o)).toEqual(['MmDT', 'Mm  ', 'ObDi', 'ObDi', 'Symt', 'ObDm', 'ObDi']);
      expect(o.rows.filter((r) => r.allocation?.marked).map((r) => r.line)).toEqual([4]);
      expect(o.rows[2]).toMatchObject({
        tag: 'ObDi',
        poolType: null,
        allocs: null,
        bytes: null,
        allocation: { address: 'e1001050', size: 0x10, previousSize: 0x10, state: 'Allocated', marked: true, note: null },
      });
      expect(o.rows[1]).toMatchObject({ tag: 'Mm  ', allocation: { address: 'e1001040', size: 0x10, previousSize: 0x40, state: 'Free', marked: false } });
    });

    it('pool__2: hex dump lines are skipped', () => {
      const o = parsePool(sample('msdocs__pool__2.txt'));
      expect(o.rows.map((r) => [r.line, r.tag, r.allocation?.marked])).toEqual([
        [2, 'MmDT', false],
        [6, 'Mm  ', false],
        [10, 'ObDi', true],
        [14, 'ObDi', false],
      ]);
      expect(o.unknownCount).toBe(0);
    });

    it('poolfind__1: the searched tag and the pool of each section', () => {
      const o = parsePoolFind(sample('msdocs__poolfind__1.txt'));
      expect(o).toMatchObject({ format: 'poolfind', searchedTag: 'SeSd', unknownCount: 0 });
      expect(o.rows).toHaveLength(23);
      expect(new Set(tags(o))).toEqual(new Set(['SeSd']));
      expect(o.rows[0]).toMatchObject({ line: 7, poolType: 'Nonp', allocation: { address: '826fa130', size: 0xc0, previousSize: 0x40, state: 'Allocated', marked: false } });
      expect(o.rows[4].allocation).toMatchObject({ address: '82721c00', size: 0x10, state: 'Free' });
      expect(o.rows[11].allocation).toMatchObject({ address: '8278b730', size: 0x100, previousSize: 0x290 });
      expect(o.rows.filter((r) => r.poolType === 'Nonp')).toHaveLength(19);
      expect(o.rows.slice(19).map((r) => [r.poolType, r.allocation?.address])).toEqual([
        ['Paged', 'e10000b0'],
        ['Paged', 'e1000260'],
        ['Paged', 'e1221dc0'],
        ['Paged', 'e1224250'],
      ]);
    });

  });

  describe('garbage in a sample', () => {
    it('a poolmon paste with noise in it keeps its rows', () => {
      const text = sample('msdocs__poolmon-examples__1.txt').replace('NtFI', 'xxxx\u0000garbage line\n NtFI');
      const o = detectPoolOutput(text);
      expect(o.format).toBe('poolmon');
      expect(o.rows).toHaveLength(13);
      expect(o.unknownCount).toBe(1);
    });
  });
});
