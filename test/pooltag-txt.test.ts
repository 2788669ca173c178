/**
 * pooltag.txt reader/writer, tested on synthetic copies written for this repository
 * (test/data/pooltag-synthetic-*.txt: every quirk the real files have), on the two real
 * copies in ../shared/pooltag/ when they are there (read in place, never copied into the
 * repository; skipped with one reason otherwise), and on synthetic edge cases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  type PooltagEntry,
  type PooltagFile,
  decodeText,
  encodePooltagTxt,
  formatEntry,
  matchTag,
  parsePooltagLine,
  parsePooltagTxt,
  POOLMON_TAG_FILE_LIMIT,
  writeLocalTagTxt,
  writePooltagTxt,
} from '../src/knowledge/pooltag-txt.js';
import { describeWithShared, repoRoot, sharedFile } from './helpers/shared.js';


const at = (f: PooltagFile, line: number): PooltagEntry => {
  const e = f.lines[line - 1].entry;
  if (!e) throw new Error(`line ${line} of ${f.source} is not an entry: ${JSON.stringify(f.lines[line - 1])}`);
  return e;
};
const byTag = (f: PooltagFile, tag: string): PooltagEntry[] => f.entries.filter((e) => e.tag === tag);
const kinds = (f: PooltagFile): Record<string, number> => {
  const k: Record<string, number> = {};
  for (const l of f.lines) k[l.kind] = (k[l.kind] ?? 0) + 1;
  return k;
};
function counts(f: PooltagFile) {
  const seen = new Map<string, number>();
  for (const e of f.entries) seen.set(e.tag, (seen.get(e.tag) ?? 0) + 1);
  const lower = new Set([...seen.keys()].map((t) => t.toLowerCase()));
  return {
    entries: f.entries.length,
    distinctTags: seen.size,
    wildcards: f.entries.filter((e) => e.pattern.kind === 'wildcard').length,
    listedTwice: [...seen.values()].filter((n) => n > 1).length,
    listedThreeTimes: [...seen.values()].filter((n) => n > 2).length,
    unknown: f.entries.filter((e) => e.binaryRaw === '<unknown>').length,
    moduleBang: f.entries.filter((e) => e.binaryRaw?.includes('!')).length,
    noBinaryColumn: f.entries.filter((e) => e.binaryRaw === null).length,
    // tags that differ from another tag only by case (distinct tags minus distinct lower-cased)
    caseOnly: seen.size - lower.size,
  };
}

// ---------------------------------------------------------------------------------------

// ---- the real copies (../shared/pooltag beside the repository) -------------------------

describeWithShared('real pooltag.txt copies', ['pooltag/pooltag-2003.txt', 'pooltag/pooltag-modern.txt'], () => {
  const bytes2003 = sharedFile('pooltag/pooltag-2003.txt');
  const bytesModern = sharedFile('pooltag/pooltag-modern.txt');
  const old = parsePooltagTxt(bytes2003, 'pooltag-2003.txt');
  const modern = parsePooltagTxt(bytesModern, 'pooltag-modern.txt');

  describe('real copies: counts', () => {
    it('2003 copy', () => {
      expect(old.encoding).toBe('ascii');
      expect(old.eol).toBe('\n');
      expect(old.trailingEof).toBe(false);
      expect(old.lines).toHaveLength(1933);
      expect(kinds(old)).toEqual({ rem: 13, blank: 165, entry: 1754, other: 1 });
      expect(counts(old)).toEqual({
        entries: 1754,
        distinctTags: 1743,
        wildcards: 66,
        listedTwice: 11,
        listedThreeTimes: 0,
        unknown: 987,
        moduleBang: 301,
        noBinaryColumn: 0,
        caseOnly: 131,
      });
    });

    it('modern copy', () => {
      expect(modern.encoding).toBe('ascii'); // pure ASCII: neither UTF-8 nor Windows-1252 is needed
      expect(modern.eol).toBe('\n');
      expect(modern.trailingEof).toBe(true);
      expect(modern.lines).toHaveLength(4967); // the 0x1A after the last newline is not a line
      expect(kinds(modern)).toEqual({ comment: 3, rem: 19, blank: 372, entry: 4571, other: 2 });
      expect(counts(modern)).toEqual({
        entries: 4571,
        distinctTags: 4514,
        wildcards: 101,
        listedTwice: 57,
        listedThreeTimes: 0,
        unknown: 831,
        moduleBang: 1078,
        noBinaryColumn: 8,
        caseOnly: 331,
      });
      const binaryKinds: Record<string, number> = {};
      for (const e of modern.entries) binaryKinds[e.binaryKind] = (binaryKinds[e.binaryKind] ?? 0) + 1;
      expect(binaryKinds).toEqual({
        file: 2639,
        unknown: 831,
        module: 772,
        method: 292,
        prose: 14,
        name: 9,
        files: 5,
        none: 8,
        multiple: 1,
      });
    });

    it('every line is kept with its number, and every entry line is in entries', () => {
      for (const f of [old, modern]) {
        expect(f.lines.filter((l, i) => l.number !== i + 1)).toEqual([]);
        expect(f.entries.map((e) => e.line)).toEqual(f.lines.filter((l) => l.kind === 'entry').map((l) => l.number));
        expect(f.entries.filter((e) => e.tag.length !== 4 || e.raw !== f.lines[e.line - 1].raw)).toEqual([]);
      }
    });
  });

  describe('real copies: specific lines from formats.md', () => {
    it('header, rem block and REM section comments', () => {
      expect(modern.lines.slice(0, 4).map((l) => l.kind)).toEqual(['comment', 'comment', 'comment', 'rem']);
      expect(modern.lines[690]).toMatchObject({ number: 691, kind: 'rem' });
      expect(modern.lines[690].raw).toMatch(/^REM FsLib allocations/);
      // `ReMo` is a tag, not a REM comment
      expect(at(modern, 2873)).toMatchObject({ tag: 'ReMo', binaries: ['refs.sys'], description: 'Mount.c' });
      expect(old.lines[0]).toMatchObject({ kind: 'rem', raw: 'rem' });
    });

    it('space-padded, inner-space, leading non-letter and lower-case tags', () => {
      expect(at(modern, 902)).toMatchObject({ tag: 'G???' });
      expect(byTag(old, 'G   ')[0]).toMatchObject({ binaryKind: 'unknown', description: 'Gdi Generic allocations' });
      expect(byTag(modern, 'Io  ')[0]).toMatchObject({ line: 1120, binaries: ['nt!io'], binaryKind: 'module' });
      expect(at(modern, 500)).toMatchObject({
        tag: 'Dh 0',
        binaryRaw: '<unknown>',
        binaries: [],
        description: 'DirectDraw/3D default object',
        quirks: ['inner-space'],
      });
      expect(at(modern, 18)).toMatchObject({ tag: '@GMM', description: '(Intel video driver) Memory manager' });
      expect(at(modern, 20)).toMatchObject({ tag: '@MP ' });
      expect(at(modern, 23)).toMatchObject({ tag: '_ATI' });
      expect(at(modern, 27)).toMatchObject({ tag: '8042', binaries: ['i8042prt.sys'] });
      expect(at(modern, 1276)).toMatchObject({ tag: 'krpc', binaryRaw: 'nt', binaryKind: 'name' });
    });

    it('misaligned tags (`I4e -  tcpip.sys`, `PX1 - `, `Mmpv  - `)', () => {
      expect(at(modern, 1098)).toEqual({
        line: 1098,
        tag: 'I4e ',
        pattern: { kind: 'exact', prefix: 'I4e ', chars: ['I', '4', 'e', ' '], literalCount: 4, star: false },
        binaries: ['tcpip.sys'],
        binaryRaw: 'tcpip.sys',
        binaryKind: 'file',
        description: 'IPv4 Echo data',
        raw: 'I4e -  tcpip.sys    - IPv4 Echo data',
        quirks: ['misaligned'],
      });
      expect(at(modern, 800)).toMatchObject({ tag: 'Fsb ', binaries: ['netio.sys'], description: 'Fixed-Size Block pool' });
      expect(at(modern, 2593)).toMatchObject({ tag: 'PX1 ', binaries: ['ndproxy.sys'], description: 'PX_EVENT_TAG' });
      expect(at(modern, 2613)).toMatchObject({ tag: 'PXl ', description: 'PX_LINETABLE_TAG' });
      expect(at(old, 803)).toMatchObject({ tag: 'Mmpv', binaries: ['nt!mm'], description: 'Physical view VAD info', quirks: ['misaligned'] });
      expect(at(modern, 1611)).toMatchObject({ tag: 'Mmpv', quirks: [] }); // fixed in the modern copy
      expect(at(modern, 3609)).toMatchObject({ tag: 'Tun4', binaryKind: 'unknown', quirks: ['misaligned'] });
    });

    it('wildcards: `?`, `*`, a literal after a wildcard, and `*` followed by a space', () => {
      expect(at(modern, 57).pattern).toEqual({ kind: 'wildcard', prefix: 'Afd', chars: ['A', 'f', 'd', null], literalCount: 3, star: false });
      expect(at(modern, 367)).toMatchObject({ tag: 'CM??', pattern: { prefix: 'CM', literalCount: 2 } });
      expect(at(modern, 147).pattern).toEqual({ kind: 'wildcard', prefix: 'Aml', chars: ['A', 'm', 'l', null], literalCount: 3, star: true });
      expect(at(modern, 228).pattern).toEqual({ kind: 'wildcard', prefix: 'Bu', chars: ['B', 'u', null, null], literalCount: 2, star: true });
      expect(at(modern, 4373).pattern).toEqual({ kind: 'wildcard', prefix: 'Gh', chars: ['G', 'h', null, '5'], literalCount: 3, star: false });
      expect(at(old, 384)).toMatchObject({ tag: 'Gh ?', pattern: { prefix: 'Gh ', literalCount: 3 } });
    });

    it('binary column forms', () => {
      expect(at(modern, 57)).toMatchObject({ binaries: ['afd.sys'], binaryKind: 'file', description: 'AFD objects' });
      expect(byTag(modern, 'VNC ')[0]).toMatchObject({
        binaryRaw: 'netvsc50.sys/netvsc60.sys',
        binaries: ['netvsc50.sys', 'netvsc60.sys'],
        binaryKind: 'files',
      });
      expect(at(modern, 4825)).toMatchObject({
        tag: 'DClc',
        binaries: ['win32kbase!DirectComposition::CVisualMarshaler::_allocate'],
        binaryKind: 'method',
        description: 'DCOMPOSITIONTAG_LAYOUTCONSTRAINTINFO',
      });
      // a C++ name with a space in it
      expect(byTag(modern, 'FCwr')[0]).toMatchObject({
        binaries: ['dxgkrnl!CFlipWaitedConsumerReturn::operator new'],
        binaryKind: 'method',
        description: 'FLIPCONTENT_WAITEDCONSUMERRETURN',
      });
      expect(at(modern, 3286)).toMatchObject({
        tag: 'sm??',
        binaryRaw: 'nt!store or rdyboost.sys',
        binaries: ['nt!store', 'rdyboost.sys'],
        binaryKind: 'prose',
        description: 'ReadyBoost allocations',
      });
      expect(at(modern, 314)).toMatchObject({ tag: 'CKRT', binaryRaw: '<multiple>', binaries: [], binaryKind: 'multiple' });
      expect(byTag(modern, 'NvLA')[0]).toMatchObject({
        binaryRaw: '<nvlddmkm.sys>',
        binaries: ['nvlddmkm.sys'],
        binaryKind: 'file',
        quirks: ['angle-bracketed-binary'],
      });
      expect(at(modern, 171)).toMatchObject({ tag: 'AtvE', binaries: ['cea_km.lib'], binaryKind: 'file' });
      expect(byTag(modern, 'FsIT')[0]).toMatchObject({ binaries: ['FsLib'], binaryKind: 'name' });
      expect(byTag(old, 'TC??')[0]).toMatchObject({ binaries: ['TCP'], binaryKind: 'name', description: 'TCP/IP network protocol' });
    });

    it('lines without a binary column', () => {
      expect(at(modern, 138)).toEqual(
        expect.objectContaining({
          tag: 'ATmp',
          binaryRaw: null,
          binaries: [],
          binaryKind: 'none',
          description: 'AppTag mount point',
          quirks: ['no-binary-column'],
        }),
      );
      expect(modern.entries.filter((e) => e.binaryKind === 'none').map((e) => e.tag)).toEqual([
        'ATmp', 'ATon', 'ATub', 'ATgb', 'ATac', 'ATdi', 'ATdt', 'ATFb',
      ]);
    });

    it('a separator without spaces and descriptions that contain " - "', () => {
      expect(at(old, 185)).toMatchObject({
        tag: 'CMAl',
        binaries: ['nt!cm'],
        description: 'internal registry memory allocator pool tag',
        quirks: ['separator-without-space'],
      });
      expect(at(modern, 358)).toMatchObject({ tag: 'CMAl', description: 'internal registry memory allocator pool tag', quirks: [] });
      expect(byTag(modern, 'NDcw')[0]).toMatchObject({ binaries: ['ndis.sys'], description: 'NDIS_TAG_PCW - NDIS Performance Counters' });
      expect(byTag(modern, 'LXMK')[0]).toMatchObject({
        binaryKind: 'unknown',
        description: 'kernel mixer line driver (KMXL - looks like they got their tag backwards)',
      });
      expect(modern.entries.filter((e) => e.description.includes(' - '))).toHaveLength(55);
      expect(old.entries.filter((e) => e.description.includes(' - '))).toHaveLength(40);
    });

    it('stray lines: indented `<unknown>`, prose, and the DOS EOF byte', () => {
      expect(old.lines[348]).toMatchObject({ number: 349, kind: 'other', raw: '       <unknown>' });
      expect(modern.lines[873]).toMatchObject({ number: 874, kind: 'other', raw: '       <unknown>' });
      expect(modern.lines[873].reason).toMatch(/without a tag/);
      expect(modern.lines[2633]).toMatchObject({ kind: 'other', raw: 'QUIC Allocation tags are Qc00 through QcFF' });
      expect(modern.lines[2633].reason).toMatch(/separator/);
      expect(modern.lines.at(-1)).toMatchObject({ number: 4967, kind: 'entry', eol: '\n' });
      expect(modern.lines.at(-1)!.raw).toMatch(/^FCwr /);
    });

    it('tags listed twice keep both owners, in file order', () => {
      expect(byTag(modern, 'Adbe').map((e) => [e.line, e.binaryRaw])).toEqual([
        [54, '<unknown>'],
        [4317, 'win32k.sys'],
      ]);
      expect(byTag(old, 'Irps').map((e) => e.binaryRaw)).toEqual(['nt!vf', 'nt!io']);
      expect(byTag(old, 'Lr??')).toHaveLength(2); // even a wildcard is listed twice
    });

    it('case-only differences are different tags', () => {
      expect(byTag(modern, 'Acpi')[0].description).toBe('ACPI generic data');
      expect(byTag(modern, 'AcpI')[0].description).toBe('ACPI irp data');
      expect(matchTag(modern, 'Acpi').map((e) => e.line)).toEqual([42]);
      expect(matchTag(modern, 'AcpI').map((e) => e.line)).toEqual([43]);
      expect(matchTag(modern, 'IO  ')).toEqual([]);
    });
  });

  describe('matchTag (poolmon rule: exact first, then longest literal prefix)', () => {
    const tags = (f: PooltagFile, t: string) => matchTag(f, t).map((e) => e.tag);

    it('orders exact, then wildcards by prefix length, then literal count', () => {
      expect(tags(modern, 'AfdB')).toEqual(['AfdB', 'Afd?']);
      expect(tags(modern, 'AfdZ')).toEqual(['Afd?']);
      expect(tags(modern, 'smRg')).toEqual(['smRg', 'smR?', 'sm??']);
      expect(tags(modern, 'smNp')).toEqual(['smNp', 'sm??']);
      expect(tags(modern, 'Gh05')).toEqual(['Gh?5', 'Gh??', 'G???']); // same prefix: more literals first
      expect(tags(modern, 'Bu  ')).toEqual(['Bu* ']);
      expect(tags(modern, 'Buzz')).toEqual(['Bu* ']);
      expect(tags(old, 'Gh x')).toEqual(['Gh ?', 'G???']);
      expect(tags(old, 'Acpi')).toEqual(['Acp*']);
      expect(tags(modern, 'zzzz')).toEqual([]);
    });

    it('returns every entry of a tag listed twice', () => {
      expect(matchTag(modern, 'Adbe').map((e) => e.line)).toEqual([54, 4317]);
    });

    it('normalises the query: padding, trailing NULs, PROTECTED_POOL bit', () => {
      expect(tags(modern, 'Io')).toEqual(['Io  ']);
      expect(tags(modern, 'Io\0\0')).toEqual(['Io  ']);
      expect(tags(modern, 'Pro' + String.fromCharCode('c'.charCodeAt(0) | 0x80))).toEqual(['Proc']);
    });
  });
  describe('round trip', () => {
    it('writes both real copies back byte for byte', () => {
      expect(writePooltagTxt(old)).toBe(bytes2003.toString('latin1'));
      expect(writePooltagTxt(modern)).toBe(bytesModern.toString('latin1'));
      expect(encodePooltagTxt(old).equals(bytes2003)).toBe(true);
      expect(encodePooltagTxt(modern).equals(bytesModern)).toBe(true);
    });

    it('keeps CRLF, mixed line ends, a missing final newline and tabs', () => {
      const crlf = Buffer.from(bytesModern.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      const f = parsePooltagTxt(crlf);
      expect(f.eol).toBe('\r\n');
      expect(f.entries).toHaveLength(4571);
      expect(f.trailingEof).toBe(true);
      expect(encodePooltagTxt(f).equals(crlf)).toBe(true);
      expect(at(f, 1098).description).toBe('IPv4 Echo data');

      const mixed = 'Abcd - a.sys - one\r\nAbce - b.sys - two\nIo\t- io.sys\t- tabbed\nLast - c.sys - no newline';
      const m = parsePooltagTxt(mixed);
      expect(m.lines.map((l) => l.eol)).toEqual(['\r\n', '\n', '\n', '']);
      expect(m.lines[2].entry).toMatchObject({ tag: 'Io  ', binaries: ['io.sys'], description: 'tabbed', quirks: ['short-tag', 'misaligned', 'tab'] });
      expect(writePooltagTxt(m)).toBe(mixed);
    });

  });
});

// ---- synthetic copies (test/data, written for this repository) -------------------------
// Every quirk the real copies have, in our own words: a `//` header, `rem` block and `REM`
// section comment, odd tags, misaligned lines, wildcards, every binary-column form, stray
// lines, tags listed twice and case-only differences; the modern one ends with 0x1A.

const synthModernBytes = readFileSync(join(repoRoot, 'test/data/pooltag-synthetic-modern.txt'));
const synthOldBytes = readFileSync(join(repoRoot, 'test/data/pooltag-synthetic-old.txt'));
const sm = parsePooltagTxt(synthModernBytes, 'pooltag-synthetic-modern.txt');
const so = parsePooltagTxt(synthOldBytes, 'pooltag-synthetic-old.txt');

describe('synthetic copies: counts and lines', () => {
  it('counts what each copy holds', () => {
    expect(sm).toMatchObject({ encoding: 'ascii', eol: '\n', trailingEof: true });
    expect(sm.lines).toHaveLength(63); // the 0x1A after the last newline is not a line
    expect(kinds(sm)).toEqual({ comment: 3, rem: 7, blank: 11, entry: 40, other: 2 });
    expect(counts(sm)).toMatchObject({ entries: 40, distinctTags: 39, listedTwice: 1, wildcards: 8, unknown: 6, noBinaryColumn: 2, caseOnly: 3 });
    expect(so).toMatchObject({ encoding: 'ascii', trailingEof: false });
    expect(kinds(so)).toEqual({ rem: 3, blank: 1, entry: 11 });
    expect(counts(so)).toMatchObject({ entries: 11, distinctTags: 9, listedTwice: 2, wildcards: 5 });
    for (const f of [sm, so]) {
      expect(f.lines.filter((l, i) => l.number !== i + 1)).toEqual([]);
      expect(f.entries.map((e) => e.line)).toEqual(f.lines.filter((l) => l.kind === 'entry').map((l) => l.number));
      expect(f.entries.filter((e) => e.tag.length !== 4 || e.raw !== f.lines[e.line - 1].raw)).toEqual([]);
    }
  });

  it('header, rem block, REM section comment, and a tag that starts like REM', () => {
    expect(sm.lines.slice(0, 4).map((l) => l.kind)).toEqual(['comment', 'comment', 'comment', 'rem']);
    expect(sm.lines[57]).toMatchObject({ number: 58, kind: 'rem', raw: 'REM Example library allocations' });
    expect(at(sm, 59)).toMatchObject({ tag: 'ReMx', binaries: ['refs.sys'] });
    expect(so.lines[0]).toMatchObject({ kind: 'rem', raw: 'rem' });
  });

  it('padded, inner-space, leading non-letter and lower-case tags', () => {
    expect(at(sm, 11)).toMatchObject({ tag: '@Vid', binaryKind: 'unknown', binaryRaw: '<unknown>' });
    expect(at(sm, 12)).toMatchObject({ tag: '@Vd ' });
    expect(at(sm, 13)).toMatchObject({ tag: '_Exm' });
    expect(at(sm, 14)).toMatchObject({ tag: '4711', binaries: ['numb3r.sys'] });
    expect(at(sm, 41)).toMatchObject({ tag: 'G   ', binaryKind: 'unknown' });
    expect(at(sm, 35)).toMatchObject({ tag: 'Dx 1', binaries: [], quirks: ['inner-space'] });
    expect(at(sm, 49)).toMatchObject({ tag: 'krpx', binaryRaw: 'nt', binaryKind: 'name' });
    expect(at(sm, 47)).toMatchObject({ tag: 'Io  ', binaries: ['nt!io'], binaryKind: 'module' });
  });

  it('misaligned lines: a 3-letter tag with the dash at column 4, a 4-letter tag then two spaces', () => {
    expect(at(sm, 46)).toEqual({
      line: 46,
      tag: 'I4x ',
      pattern: { kind: 'exact', prefix: 'I4x ', chars: ['I', '4', 'x', ' '], literalCount: 4, star: false },
      binaries: ['tcpip.sys'],
      binaryRaw: 'tcpip.sys',
      binaryKind: 'file',
      description: 'Example misaligned three-letter tag',
      raw: 'I4x -  tcpip.sys    - Example misaligned three-letter tag',
      quirks: ['misaligned'],
    });
    expect(at(sm, 55)).toMatchObject({ tag: 'PX9 ', binaries: ['ndproxy.sys'], description: 'Example proxy event', quirks: ['misaligned'] });
    expect(at(so, 12)).toMatchObject({ tag: 'Mmxv', binaries: ['nt!mm'], quirks: ['misaligned'] });
    expect(at(sm, 50)).toMatchObject({ tag: 'Mmxv', quirks: [] });
  });

  it('wildcards: `?`, `*`, a literal after a wildcard, `*` then a space, an inner-space wildcard', () => {
    expect(at(sm, 23).pattern).toEqual({ kind: 'wildcard', prefix: 'Afd', chars: ['A', 'f', 'd', null], literalCount: 3, star: false });
    expect(at(sm, 31)).toMatchObject({ tag: 'CM??', pattern: { prefix: 'CM', literalCount: 2 } });
    expect(at(sm, 24).pattern).toEqual({ kind: 'wildcard', prefix: 'Aml', chars: ['A', 'm', 'l', null], literalCount: 3, star: true });
    expect(at(sm, 29).pattern).toEqual({ kind: 'wildcard', prefix: 'Bu', chars: ['B', 'u', null, null], literalCount: 2, star: true });
    expect(at(sm, 42).pattern).toEqual({ kind: 'wildcard', prefix: 'Gx', chars: ['G', 'x', null, '5'], literalCount: 3, star: false });
    expect(at(so, 6)).toMatchObject({ tag: 'Gh ?', pattern: { prefix: 'Gh ', literalCount: 3 } });
  });

  it('binary column forms', () => {
    expect(at(sm, 19)).toMatchObject({ binaries: ['afd.sys'], binaryKind: 'file' });
    expect(at(sm, 62)).toMatchObject({ binaryRaw: 'netvsc50.sys/netvsc60.sys', binaries: ['netvsc50.sys', 'netvsc60.sys'], binaryKind: 'files' });
    expect(at(sm, 34)).toMatchObject({ binaries: ['win32kbase!DirectComposition::CExample::_allocate'], binaryKind: 'method', description: 'Example method owner' });
    expect(at(sm, 38)).toMatchObject({ binaries: ['dxgkrnl!CExampleConsumer::operator new'], binaryKind: 'method' });
    expect(at(sm, 60)).toMatchObject({ tag: 'sm??', binaries: ['nt!store', 'rdyboost.sys'], binaryKind: 'prose' });
    expect(at(sm, 30)).toMatchObject({ binaryRaw: '<multiple>', binaries: [], binaryKind: 'multiple' });
    expect(at(sm, 53)).toMatchObject({ binaryRaw: '<nvexample.sys>', binaries: ['nvexample.sys'], binaryKind: 'file', quirks: ['angle-bracketed-binary'] });
    expect(at(sm, 25)).toMatchObject({ binaries: ['cea_km.lib'], binaryKind: 'file' });
    expect(at(sm, 39)).toMatchObject({ binaries: ['FsLib'], binaryKind: 'name' });
    expect(at(so, 15)).toMatchObject({ tag: 'TC??', binaries: ['TCP'], binaryKind: 'name' });
  });

  it('lines without a binary column, a separator without a space, descriptions with " - "', () => {
    expect(sm.entries.filter((e) => e.binaryKind === 'none').map((e) => [e.tag, e.description, e.quirks])).toEqual([
      ['ATxx', 'AppTag example without a binary column', ['no-binary-column']],
      ['ATyy', 'Another AppTag example without a binary column', ['no-binary-column']],
    ]);
    for (const f of [sm, so]) {
      expect(byTag(f, 'CMRg')[0]).toMatchObject({ binaries: ['nt!cm'], description: 'registry allocator, no space after the dash', quirks: ['separator-without-space'] });
    }
    expect(at(sm, 52)).toMatchObject({ binaries: ['ndis.sys'], description: 'NDIS_TAG_X - example counters with a dash inside' });
  });

  it('stray lines: an indented `<unknown>`, prose; the DOS EOF byte is not a line', () => {
    expect(sm.lines[35]).toMatchObject({ number: 36, kind: 'other', raw: '       <unknown>' });
    expect(sm.lines[35].reason).toMatch(/without a tag/);
    expect(sm.lines[55]).toMatchObject({ kind: 'other', raw: 'QUIC example tags are Qx00 through QxFF' });
    expect(sm.lines[55].reason).toMatch(/separator/);
    expect(sm.lines.at(-1)).toMatchObject({ number: 63, kind: 'entry', eol: '\n' });
  });

  it('tags listed twice keep both owners in file order; case-only differences are different tags', () => {
    expect(byTag(sm, 'Adbe').map((e) => [e.line, e.binaryRaw])).toEqual([
      [18, '<unknown>'],
      [63, 'win32k.sys'],
    ]);
    expect(byTag(so, 'Irpx').map((e) => e.binaryRaw)).toEqual(['nt!vf', 'nt!io']);
    expect(byTag(so, 'Lr??')).toHaveLength(2);
    expect(matchTag(sm, 'Acpi').map((e) => e.line)).toEqual([16]);
    expect(matchTag(sm, 'AcpI').map((e) => e.line)).toEqual([17]);
    expect(matchTag(sm, 'IO  ')).toEqual([]);
  });
});

describe('matchTag on the synthetic copies (poolmon rule: exact first, then longest literal prefix)', () => {
  const tags = (f: PooltagFile, t: string) => matchTag(f, t).map((e) => e.tag);
  it('orders exact, then wildcards by prefix length, then literal count', () => {
    expect(tags(sm, 'AfdC')).toEqual(['AfdC', 'Afd?']);
    expect(tags(sm, 'AfdZ')).toEqual(['Afd?']);
    expect(tags(sm, 'smRx')).toEqual(['smRx', 'sm??']);
    expect(tags(sm, 'Gx05')).toEqual(['Gx?5', 'Gx??', 'G???']); // same prefix: more literals first
    expect(tags(sm, 'Bu  ')).toEqual(['Bu* ']);
    expect(tags(sm, 'Buzz')).toEqual(['Bu* ']);
    expect(tags(so, 'Gh x')).toEqual(['Gh ?']);
    expect(tags(so, 'Acpi')).toEqual(['Acp*']);
    expect(tags(sm, 'zzzz')).toEqual([]);
    expect(matchTag(sm, 'Adbe').map((e) => e.line)).toEqual([18, 63]);
  });
  it('normalises the query: padding, trailing NULs, PROTECTED_POOL bit', () => {
    expect(tags(sm, 'Io')).toEqual(['Io  ']);
    expect(tags(sm, 'Io\0\0')).toEqual(['Io  ']);
    expect(tags(sm, 'krp' + String.fromCharCode('x'.charCodeAt(0) | 0x80))).toEqual(['krpx']);
  });
});

describe('round trip of the synthetic copies', () => {
  it('writes both back byte for byte, also as CRLF, UTF-16LE with BOM (PowerShell) and UTF-8 with BOM', () => {
    for (const [f, b] of [[sm, synthModernBytes], [so, synthOldBytes]] as const) {
      expect(writePooltagTxt(f)).toBe(b.toString('latin1'));
      expect(encodePooltagTxt(f).equals(b)).toBe(true);
    }
    const crlf = Buffer.from(synthModernBytes.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    const c = parsePooltagTxt(crlf);
    expect(c).toMatchObject({ eol: '\r\n', trailingEof: true });
    expect(c.entries).toHaveLength(40);
    expect(encodePooltagTxt(c).equals(crlf)).toBe(true);
    expect(at(c, 46).description).toBe('Example misaligned three-letter tag');
    const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf.toString('latin1'), 'utf16le')]);
    const w = parsePooltagTxt(u16);
    expect(w).toMatchObject({ encoding: 'utf-16le', bom: true, eol: '\r\n' });
    expect(w.entries.map((e) => [e.tag, e.binaryRaw, e.description])).toEqual(sm.entries.map((e) => [e.tag, e.binaryRaw, e.description]));
    expect(encodePooltagTxt(w).equals(u16)).toBe(true);
  });
});

describe('round trip', () => {
  it('round-trips Windows-1252, UTF-8 (with BOM) and UTF-16LE input', () => {
    // 0x92 is a right single quote in Windows-1252; 0x81 is undefined there
    const cp = Buffer.from([...Buffer.from('Abcd - a.sys - Vendor'), 0x92, 0x81, ...Buffer.from('s driver\r\n')]);
    const f = parsePooltagTxt(cp);
    expect(f.encoding).toBe('windows-1252');
    expect(f.entries[0].description).toBe('Vendor\u2019\u0081s driver');
    expect(encodePooltagTxt(f).equals(cp)).toBe(true);

    const u8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Abcd - a.sys - caf\u00e9\n', 'utf8')]);
    const g = parsePooltagTxt(u8);
    expect(g).toMatchObject({ encoding: 'utf-8', bom: true });
    expect(g.entries[0]).toMatchObject({ tag: 'Abcd', description: 'caf\u00e9' });
    expect(encodePooltagTxt(g).equals(u8)).toBe(true);

    const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Abcd - a.sys - wide\r\n', 'utf16le')]);
    const h = parsePooltagTxt(u16);
    expect(h).toMatchObject({ encoding: 'utf-16le', bom: true, eol: '\r\n' });
    expect(h.entries[0].tag).toBe('Abcd');
    expect(encodePooltagTxt(h).equals(u16)).toBe(true);
    expect(decodeText(Buffer.from('plain')).encoding).toBe('ascii');
  });
});

describe('garbage input never throws', () => {
  // A small deterministic PRNG (xorshift32) so failures are reproducible.
  function randomBytes(n: number, seed: number): Buffer {
    const b = Buffer.alloc(n);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  }

  it('random bytes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const b = randomBytes(20_000, seed * 7919);
      const f = parsePooltagTxt(b, `random-${seed}`);
      expect(encodePooltagTxt(f).equals(b)).toBe(true);
      for (const l of f.lines) expect(['entry', 'comment', 'rem', 'blank', 'other']).toContain(l.kind);
      for (const l of f.lines.filter((x) => x.kind === 'other')) expect(l.reason).toBeTruthy();
      matchTag(f, 'Abcd');
    }
  });

  it('a 0-byte file, a file of only 0x1A, and other oddities', () => {
    const empty = parsePooltagTxt(Buffer.alloc(0));
    expect(empty).toMatchObject({ lines: [], entries: [], trailingEof: false, eol: '\n' });
    expect(encodePooltagTxt(empty).length).toBe(0);

    const eof = parsePooltagTxt(Buffer.from([0x1a]));
    expect(eof).toMatchObject({ lines: [], entries: [], trailingEof: true });
    expect(encodePooltagTxt(eof).equals(Buffer.from([0x1a]))).toBe(true);

    const eofs = Buffer.from('\x1a\n\x1a\x1a', 'latin1');
    const e2 = parsePooltagTxt(eofs);
    expect(e2.lines.map((l) => [l.kind, l.raw])).toEqual([
      ['other', '\x1a'],
      ['other', '\x1a'],
    ]);
    expect(e2.trailingEof).toBe(true);
    expect(encodePooltagTxt(e2).equals(eofs)).toBe(true);

    const weird = ['ABCDE - x.sys - too long', '   ', '\t', '-', ' - x', 'Ab\x01c - x.sys - ctl', 'AB - - empty binary'].join('\n');
    const w = parsePooltagTxt(weird);
    expect(w.lines.map((l) => l.kind)).toEqual(['other', 'blank', 'blank', 'other', 'other', 'other', 'entry']);
    expect(w.lines[0].reason).toMatch(/longer than 4/);
    expect(w.lines[6].entry).toMatchObject({ tag: 'AB  ', binaryRaw: null, description: 'empty binary' });
    expect(writePooltagTxt(w)).toBe(weird);
    // a very long line is linear, not quadratic
    const long = 'Abcd - ' + ' '.repeat(200_000) + 'x';
    expect(parsePooltagTxt(long).entries[0].description).toBe('x');
  });
});

describe('formatEntry', () => {
  it('writes canonical lines that read back as the same entry', () => {
    expect(formatEntry({ tag: 'ShAp', binary: 'shap.sys', description: 'Vendor cache' })).toBe('ShAp - shap.sys - Vendor cache');
    expect(formatEntry({ tag: 'Io', binary: ['a.sys', 'b.sys'], description: 'x - y' })).toBe('Io   - a.sys/b.sys - x - y');
    expect(formatEntry({ tag: 'Ab\0\0', binary: null, description: '' })).toBe('Ab   - <unknown> -');
    for (const line of [
      formatEntry({ tag: 'ShAp', binary: 'shap.sys', description: 'Vendor - cache' }),
      formatEntry({ tag: 'Dh 0', binary: 'win32kbase!A::operator new', description: 'd' }),
      formatEntry({ tag: 'G', binary: 'nt!mm', description: '  padded  ' }),
    ]) {
      const r = parsePooltagLine(line, 1);
      expect(r.kind).toBe('entry');
    }
    expect(parsePooltagLine(formatEntry({ tag: 'G', binary: 'nt!mm', description: 'd - e' })).entry).toMatchObject({
      tag: 'G   ',
      binaries: ['nt!mm'],
      description: 'd - e',
      quirks: [],
    });
  });

  it('refuses what could not be read back', () => {
    expect(() => formatEntry({ tag: 'TooLong', binary: 'a.sys' })).toThrow(/1 to 4/);
    expect(() => formatEntry({ tag: '', binary: 'a.sys' })).toThrow(/1 to 4/);
    expect(() => formatEntry({ tag: ' ab', binary: 'a.sys' })).toThrow(/blank/);
    expect(() => formatEntry({ tag: 'Ab\ncd' })).toThrow();
    expect(() => formatEntry({ tag: 'Abcd', binary: 'a.sys', description: 'two\nlines' })).toThrow(/line break/);
    expect(() => formatEntry({ tag: 'Abcd', binary: 'x -y.sys' })).toThrow(/" -"/);
    expect(() => formatEntry({ tag: 'Abcd', binary: 'some words here' })).toThrow(/description/);
  });
});

describe('writeLocalTagTxt (poolmon localtag.txt)', () => {
  it('writes tag, three spaces, dash, spaces, driver without .sys', () => {
    expect(
      writeLocalTagTxt([
        { tag: 'ShAp', driver: 'shap.sys' },
        { tag: 'Io', driver: 'C_Driver.SYS' },
        { tag: 'Ab\0\0', driver: 'ab' },
      ]),
    ).toBe('ShAp   -  shap\r\nIo     -  C_Driver\r\nAb     -  ab\r\n');
    expect(writeLocalTagTxt([{ tag: 'ShAp', driver: 'shap.sys' }], { eol: '\n' })).toBe('ShAp   -  shap\n');
    expect(writeLocalTagTxt([])).toBe('');
  });

  it('refuses bad entries and files over 1,000,000 bytes', () => {
    expect(() => writeLocalTagTxt([{ tag: 'Abcde', driver: 'x' }])).toThrow(/invalid pool tag/);
    expect(() => writeLocalTagTxt([{ tag: 'Ab\ncd', driver: 'x' }])).toThrow(/invalid pool tag/);
    expect(() => writeLocalTagTxt([{ tag: 'Abcd', driver: '.sys' }])).toThrow(/invalid driver/);
    // each line is 20 bytes: 50,000 lines are exactly at the limit, one more is over
    const entries = Array.from({ length: 50_000 }, (_, i) => ({ tag: 'T' + String(i % 1000).padStart(3, '0'), driver: 'drv12345.sys' }));
    expect(POOLMON_TAG_FILE_LIMIT).toBe(1_000_000);
    expect(writeLocalTagTxt(entries)).toHaveLength(1_000_000);
    expect(() => writeLocalTagTxt([...entries, { tag: 'Last', driver: 'drv12345' }])).toThrow(/1,000,000-byte limit/);
  });
});
