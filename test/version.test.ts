/**
 * Resource directory walker and VS_VERSIONINFO parser, on real PE bytes:
 *  - drivers built here and now with the installed toolchains (mingw-w64 windres + gcc,
 *    llvm-rc + lld-link), from a version script with hostile values (skipped when a
 *    toolchain is missing);
 *  - the committed fixture drivers listed in test/fixtures/manifest.json (skipped only
 *    while that file does not exist);
 *  - Wine's PE files under $HOME/.cache/pooltag-dev/wine/ when present, checked against
 *    resedit's independent parser where resedit can read the file;
 *  - the same real bytes mutated in memory (sections reordered, loops, truncation,
 *    wLength 0xFFFF), which must give a PeFormatError with an offset or a partial
 *    result, never a hang.
 * The PE header walk is a small helper below so these tests do not depend on readPe().
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NtExecutable, NtExecutableResource } from 'pe-library';
import * as ResEdit from 'resedit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithTools, hasTool } from './helpers/shared.js';
import { AddressMap } from '../src/pe/address.js';
import { PeFormatError } from '../src/pe/errors.js';
import { RT_VERSION, listResources } from '../src/pe/resources.js';
import type { PeIssue, Section, VersionInfo } from '../src/pe/types.js';
import { parseVersionInfo, readVersionInfo } from '../src/pe/version.js';

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------
// Minimal PE header walk (e_lfanew, section table, data directory 2)
// ---------------------------------------------------------------------------------

interface MiniPe {
  sections: Section[];
  map: AddressMap;
  rsrc: { rva: number; size: number };
  /** File offset of data directory 2 (resource) and 5 (base relocation) entries. */
  rsrcDirAt: number;
  relocDirAt: number;
  /** File offset of the first section header. */
  sectionTableAt: number;
}

function miniPe(buf: Buffer): MiniPe {
  const lfanew = buf.readUInt32LE(0x3c);
  if (buf.readUInt16LE(0) !== 0x5a4d || buf.readUInt32LE(lfanew) !== 0x00004550) throw new Error('not a PE');
  const coff = lfanew + 4;
  const nsec = buf.readUInt16LE(coff + 2);
  const optSize = buf.readUInt16LE(coff + 16);
  const opt = coff + 20;
  const magic = buf.readUInt16LE(opt);
  const pe32plus = magic === 0x20b;
  const sizeOfHeaders = buf.readUInt32LE(opt + 60);
  const dirs = opt + (pe32plus ? 112 : 96);
  const sectionTableAt = opt + optSize;
  const sections: Section[] = [];
  for (let i = 0; i < nsec; i++) {
    const h = sectionTableAt + i * 40;
    const raw = buf.subarray(h, h + 8);
    const nul = raw.indexOf(0);
    const characteristics = buf.readUInt32LE(h + 36);
    sections.push({
      name: raw.toString('latin1', 0, nul < 0 ? 8 : nul),
      virtualSize: buf.readUInt32LE(h + 8),
      virtualAddress: buf.readUInt32LE(h + 12),
      rawSize: buf.readUInt32LE(h + 16),
      rawOffset: buf.readUInt32LE(h + 20),
      characteristics,
      executable: (characteristics & 0x20000020) !== 0,
    });
  }
  const rsrcDirAt = dirs + 2 * 8;
  return {
    sections,
    map: new AddressMap(sections, sizeOfHeaders, buf.length),
    rsrc: { rva: buf.readUInt32LE(rsrcDirAt), size: buf.readUInt32LE(rsrcDirAt + 4) },
    rsrcDirAt,
    relocDirAt: dirs + 5 * 8,
    sectionTableAt,
  };
}

/** Subdirectory reference (high bit set) as an unsigned 32-bit value. */
function subdir(rel: number): number {
  return (0x80000000 | rel) >>> 0;
}

/**
 * pe-library's resource reader (the one resedit uses) on a copy whose COFF symbol
 * pointer is cleared: `NtExecutable.from()` refuses mingw/lld/Wine binaries that have
 * one. With `trim`, sections placed after both .rsrc and .reloc (Wine's debug sections
 * /4, /19, ...) are dropped from the copy's section count, since pe-library refuses
 * those too; that is what lets it serve as an oracle below.
 */
function peLibraryResources(buf: Buffer, trim = false): NtExecutableResource {
  const copy = Buffer.from(buf);
  const coff = copy.readUInt32LE(0x3c) + 4;
  copy.fill(0, coff + 8, coff + 16); // PointerToSymbolTable, NumberOfSymbols
  if (trim) {
    const { sections } = miniPe(copy);
    const last = Math.max(...sections.filter((s) => s.name === '.rsrc' || s.name === '.reloc').map((s) => s.virtualAddress));
    copy.writeUInt16LE(sections.filter((s) => s.virtualAddress <= last).length, coff + 2);
  }
  return NtExecutableResource.from(NtExecutable.from(copy, { ignoreCert: true }));
}

function version(buf: Buffer, issues: PeIssue[] = []): VersionInfo | null {
  const pe = miniPe(buf);
  return readVersionInfo(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues);
}

/** File offset and size of the (first) RT_VERSION data. */
function versionBlock(buf: Buffer): { offset: number; size: number } {
  const pe = miniPe(buf);
  const e = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size).find((r) => r.type === RT_VERSION);
  if (!e || e.offset === null) throw new Error('no RT_VERSION');
  return { offset: e.offset, size: e.size };
}

/** File offset of the first VS_VERSIONINFO block whose key is `key` (UTF-16 search). */
function blockOffset(buf: Buffer, key: string): number {
  const { offset, size } = versionBlock(buf);
  const at = buf.subarray(offset, offset + size).indexOf(Buffer.from(`${key}\0`, 'utf16le'));
  if (at < 0) throw new Error(`no block ${key}`);
  return offset + at - 6;
}

/** Run `fn`; a PeFormatError must carry a file offset. Returns the result or the error. */
function resultOrFormatError<T>(fn: () => T): T | PeFormatError {
  try {
    return fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PeFormatError);
    expect((err as PeFormatError).offset).toEqual(expect.any(Number));
    return err as PeFormatError;
  }
}

// ---------------------------------------------------------------------------------
// Drivers built now with the installed toolchains
// ---------------------------------------------------------------------------------

const hasMingw = hasTool('x86_64-w64-mingw32-gcc') && hasTool('x86_64-w64-mingw32-windres');
const hasMingw32 = hasTool('i686-w64-mingw32-gcc') && hasTool('i686-w64-mingw32-windres');
const hasLlvm = hasTool('llvm-rc', ['/?']) && hasTool('lld-link', ['--version']) && hasTool('clang');

const LONG = '0123456789'.repeat(200); // 2000 characters

/** What the version script below must read back as. Key order is the script's. */
const EXPECTED_TABLES: VersionInfo['tables'] = [
  {
    langCodepage: '040704E4',
    strings: { CompanyName: 'Beispiel GmbH', FileDescription: 'Gerätetreiber für Prüfung' },
  },
  {
    langCodepage: '040904B0',
    strings: {
      CompanyName: 'Example <script>alert(1)</script> Corp',
      FileDescription: 'Line one\nLine two',
      FileVersion: '1.2.3.4',
      Comments: '',
      InternalName: 'pvdrv.sys',
      LegalCopyright: LONG,
      ProductName: 'Ünïcödé ✓ 驱动',
    },
  },
  { langCodepage: '041103A4', strings: { ProductName: 'ドライバ' } },
];

const RC = `#pragma code_page(65001)
1 VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 10,0,19041,1
FILEFLAGSMASK 0x3fL
FILEFLAGS 0x0L
FILEOS 0x40004L
FILETYPE 0x3L
FILESUBTYPE 0x7L
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040704E4"
    BEGIN
      VALUE "CompanyName", "Beispiel GmbH"
      VALUE "FileDescription", "Gerätetreiber für Prüfung"
    END
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "Example <script>alert(1)</script> Corp"
      VALUE "FileDescription", "Line one\\nLine two"
      VALUE "FileVersion", "1.2.3.4"
      VALUE "Comments", ""
      VALUE "InternalName", "pvdrv.sys"
      VALUE "LegalCopyright", "${LONG}"
      VALUE "ProductName", "Ünïcödé ✓ 驱动"
    END
    BLOCK "041103A4"
    BEGIN
      VALUE "ProductName", "ドライバ"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x407, 1252, 0x409, 1200, 0x411, 932
  END
END
HELLO MYDATA { "named type, named id" }
7 RCDATA { "numbered" }
`;

const DRIVER_C = `
typedef long NTSTATUS;
int counter = 5;
int *volatile counter_ptr = &counter; /* an absolute address: gives the image a .reloc */
NTSTATUS DriverEntry(void *d, void *r) { (void)d; (void)r; return *counter_ptr; }
`;

/** A discardable section: lld-link places it after .rsrc (a real "something after .rsrc"). */
const LATE_S = `
  .section .zdata,"dwD"
  .globl late_data
late_data:
  .long 0x12345678
`;

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
}

describeWithTools(
  'drivers built with the installed toolchains',
  [['x86_64-w64-mingw32-gcc'], ['x86_64-w64-mingw32-windres'], ['i686-w64-mingw32-gcc'], ['i686-w64-mingw32-windres'], ['llvm-rc', '/?'], ['lld-link'], ['clang']],
  () => {
  let dir = '';
  const built = new Map<string, Buffer>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pooltag-version-'));
    writeFileSync(join(dir, 'ver.rc'), RC);
    writeFileSync(join(dir, 'drv.c'), DRIVER_C);
    writeFileSync(join(dir, 'late.s'), LATE_S);
    const ld = ['-O2', '-nostdlib', '-shared', '-Wl,--subsystem,native', '-Wl,--dynamicbase'];
    if (hasMingw) {
      run('x86_64-w64-mingw32-windres', ['ver.rc', '-O', 'coff', '-o', 'ver64.o'], dir);
      run('x86_64-w64-mingw32-gcc', [...ld, '-Wl,--entry,DriverEntry', '-o', 'mingw64.sys', 'drv.c', 'ver64.o'], dir);
      built.set('mingw64', readFileSync(join(dir, 'mingw64.sys')));
    }
    if (hasMingw32) {
      run('i686-w64-mingw32-windres', ['ver.rc', '-O', 'coff', '-o', 'ver32.o'], dir);
      run('i686-w64-mingw32-gcc', [...ld, '-Wl,--entry,_DriverEntry@8', '-o', 'mingw32.sys', 'drv.c', 'ver32.o'], dir);
      built.set('mingw32', readFileSync(join(dir, 'mingw32.sys')));
    }
    if (hasLlvm) {
      run('llvm-rc', ['-C', '65001', '/FO', 'ver.res', 'ver.rc'], dir);
      run('clang', ['--target=x86_64-pc-windows-msvc', '-O2', '-c', 'drv.c', '-o', 'drv.obj'], dir);
      run('clang', ['--target=x86_64-pc-windows-msvc', '-c', 'late.s', '-o', 'late.obj'], dir);
      const lld = ['/nologo', '/driver', '/subsystem:native', '/entry:DriverEntry', '/nodefaultlib'];
      run('lld-link', [...lld, '/out:lld.sys', 'drv.obj', 'ver.res'], dir);
      run('lld-link', [...lld, '/out:lld-late.sys', 'drv.obj', 'late.obj', 'ver.res'], dir);
      built.set('lld', readFileSync(join(dir, 'lld.sys')));
      built.set('lld-late', readFileSync(join(dir, 'lld-late.sys')));
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads every table and every string verbatim from each build', () => {
    expect(built.size).toBeGreaterThan(0);
    for (const [name, buf] of built) {
      const issues: PeIssue[] = [];
      const v = version(buf, issues);
      expect(issues, name).toEqual([]);
      expect(v, name).toEqual({
        fileVersion: '1.2.3.4',
        productVersion: '10.0.19041.1',
        tables: EXPECTED_TABLES,
        strings: EXPECTED_TABLES[1].strings, // 0409 preferred over the first table (0407)
      });
      // Key order is file order; the table key "040904b0" is normalised to upper case.
      expect(Object.keys(v!.tables[1].strings)).toEqual(Object.keys(EXPECTED_TABLES[1].strings));
      expect(v!.strings.LegalCopyright).toHaveLength(2000);
    }
  });

  it('lists every resource with type/name/lang, named ones included', () => {
    for (const [name, buf] of built) {
      const pe = miniPe(buf);
      const issues: PeIssue[] = [];
      const list = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues);
      expect(issues, name).toEqual([]);
      const brief = list.map((e) => [e.type, e.name, e.lang]);
      expect(brief, name).toEqual(expect.arrayContaining([[16, 1, 0x409], [10, 7, 0x409], ['MYDATA', 'HELLO', 0x409]]));
      expect(list, name).toHaveLength(3);
      for (const e of list) {
        expect(e.offset, name).toBe(pe.map.rvaToOffset(e.dataRva, e.size));
        expect(e.offset).not.toBeNull();
      }
      const named = list.find((e) => e.type === 'MYDATA')!;
      expect(buf.toString('latin1', named.offset!, named.offset! + named.size)).toContain('named type, named id');
    }
  });

  it.skipIf(!hasLlvm)('reads a resource section that a real linker placed before a non-.reloc section', () => {
    const buf = built.get('lld-late')!;
    const names = miniPe(buf).sections.map((s) => s.name);
    expect(names.indexOf('.zdata')).toBeGreaterThan(names.indexOf('.rsrc')); // .rsrc .reloc .zdata
    expect(() => peLibraryResources(buf)).toThrow(/After Resource section/);
    expect(version(buf)!.tables).toEqual(EXPECTED_TABLES);
  });

  // ---- mutations of these real bytes ----

  /** A build to mutate: mingw64 (.rsrc then .reloc) preferred. */
  function subject(): Buffer {
    const buf = built.get('mingw64') ?? built.get('mingw32') ?? built.get('lld');
    if (!buf) throw new Error('nothing built');
    return Buffer.from(buf);
  }

  it('a resource section followed by .data instead of .reloc parses (pe-library refuses it)', () => {
    const buf = subject();
    const pe = miniPe(buf);
    expect(peLibraryResources(buf).entries.length).toBe(3); // before the mutation pe-library reads it
    const order = [...pe.sections].sort((a, b) => a.virtualAddress - b.virtualAddress);
    const r = order.findIndex((s) => s.name === '.rsrc');
    const next = order[r + 1];
    expect(next?.name).toBe('.reloc'); // every build above has one, right after .rsrc
    // Rename the section after .rsrc to .data and drop the base-relocation directory.
    const h = pe.sectionTableAt + pe.sections.indexOf(next) * 40;
    buf.write('.data\0\0\0', h, 'latin1');
    buf.fill(0, pe.relocDirAt, pe.relocDirAt + 8);
    expect(() => peLibraryResources(buf)).toThrow(/After Resource section/);
    const mutated = miniPe(buf);
    expect(mutated.sections.map((s) => s.name)).toContain('.data');
    expect(version(buf)!.tables).toEqual(EXPECTED_TABLES);
  });

  it('a subdirectory pointing back at the root is reported, not followed', () => {
    const buf = subject();
    const pe = miniPe(buf);
    const root = pe.map.rvaToOffset(pe.rsrc.rva)!;
    // Root entry 0 (named MYDATA, or the first id entry) -> subdirectory at +0 (the root).
    const firstEntry = root + 16;
    buf.writeUInt32LE(0x80000000, firstEntry + 4); // subdirectory at +0
    const issues: PeIssue[] = [];
    const t0 = performance.now();
    const list = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(issues.some((i) => /already walked/.test(i.message) && i.offset === root)).toBe(true);
    expect(list.length).toBe(2); // the other two types are still listed
    // The same loop one level down: a name directory pointing at itself.
    const buf2 = subject();
    const list2 = listResources(buf2, pe.map, pe.rsrc.rva, pe.rsrc.size);
    const typeDir = buf2.readUInt32LE(firstEntry + 4) & 0x7fffffff;
    buf2.writeUInt32LE(subdir(typeDir), root + typeDir + 16 + 4);
    const issues2: PeIssue[] = [];
    const list3 = listResources(buf2, pe.map, pe.rsrc.rva, pe.rsrc.size, issues2);
    expect(list3.length).toBe(list2.length - 1);
    expect(issues2.map((i) => i.offset)).toContain(root + typeDir);
  });

  it('depth > 3, entry counts beyond the directory and data outside the file are reported', () => {
    const pe = miniPe(subject());
    const root = pe.map.rvaToOffset(pe.rsrc.rva)!;
    const versionEntryAt = (buf: Buffer): number => {
      // Root entries: named ones first, then ids ascending; RT_VERSION = 16 is the last.
      const n = buf.readUInt16LE(root + 12) + buf.readUInt16LE(root + 14);
      return root + 16 + (n - 1) * 8;
    };
    // (a) the language level points to a subdirectory (depth 4).
    {
      const buf = subject();
      // typeDir lists the names of RT_VERSION; nameDir lists the languages of name 1.
      const typeDir = buf.readUInt32LE(versionEntryAt(buf) + 4) & 0x7fffffff;
      const nameDir = buf.readUInt32LE(root + typeDir + 16 + 4) & 0x7fffffff;
      buf.writeUInt32LE(subdir(typeDir), root + nameDir + 16 + 4); // lang -> a directory
      const issues: PeIssue[] = [];
      const list = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues);
      expect(list.some((e) => e.type === RT_VERSION)).toBe(false);
      expect(issues.some((i) => /depth > 3/.test(i.message) && i.offset === root + nameDir + 16)).toBe(true);
      expect(version(buf)).toBeNull();
    }
    // (b) the root claims 0xFFFF + 0xFFFF entries.
    {
      const buf = subject();
      buf.writeUInt16LE(0xffff, root + 12);
      buf.writeUInt16LE(0xffff, root + 14);
      const issues: PeIssue[] = [];
      const r = resultOrFormatError(() => listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues));
      expect(Array.isArray(r)).toBe(true);
      expect(issues[0].message).toMatch(/claims 131070 entries/);
      expect(issues[0].offset).toBe(root);
    }
    // (c) the RT_VERSION data entry points past the end of the file.
    {
      const buf = subject();
      const list = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size);
      const v = list.find((e) => e.type === RT_VERSION)!;
      // Find its IMAGE_RESOURCE_DATA_ENTRY by its (RVA, size) pair and move the RVA away.
      const needle = Buffer.alloc(8);
      needle.writeUInt32LE(v.dataRva, 0);
      needle.writeUInt32LE(v.size, 4);
      const at = buf.indexOf(needle, root);
      buf.writeUInt32LE(0x7ff00000, at);
      const issues: PeIssue[] = [];
      const list2 = listResources(buf, pe.map, pe.rsrc.rva, pe.rsrc.size, issues);
      const bad = list2.find((e) => e.type === RT_VERSION)!;
      expect(bad.offset).toBeNull();
      expect(bad.problem).toMatch(/not in the file/);
      expect(issues.map((i) => i.offset)).toContain(at);
      expect(list2.filter((e) => e.offset !== null)).toHaveLength(2);
      const err = resultOrFormatError(() => version(buf));
      expect(err).toBeInstanceOf(PeFormatError);
    }
    // (d) the directory size overshoots the file: read what is there.
    {
      const buf = subject();
      const issues: PeIssue[] = [];
      const list = listResources(buf, pe.map, pe.rsrc.rva, 0x7fffffff, issues);
      expect(list).toHaveLength(3);
      expect(issues[0].message).toMatch(/only \d+ are in the file/);
    }
  });

  it('a truncated VS_VERSIONINFO gives a partial result or a PeFormatError at every cut', () => {
    const buf = subject();
    const { offset, size } = versionBlock(buf);
    let partial = 0;
    let errors = 0;
    for (let cut = 0; cut <= size; cut++) {
      const issues: PeIssue[] = [];
      const r = resultOrFormatError(() => parseVersionInfo(buf, offset, cut, issues));
      if (r instanceof PeFormatError) {
        errors++;
        expect(r.offset).toBe(offset);
        continue;
      }
      partial++;
      // What was read is a prefix of the real thing: every value read is a prefix of its real value.
      for (const t of r.tables) {
        const real = EXPECTED_TABLES.find((x) => x.langCodepage.startsWith(t.langCodepage.slice(0, 4)));
        if (!real || t.langCodepage.length !== 8) continue;
        for (const [k, val] of Object.entries(t.strings)) {
          const full = Object.entries(real.strings).find(([rk]) => rk.startsWith(k));
          expect(full, `cut ${cut} key ${k}`).toBeDefined();
          expect(full![1].startsWith(val), `cut ${cut} key ${k}`).toBe(true);
        }
      }
      if (cut < size) expect(issues.length, `cut ${cut}`).toBeGreaterThan(0);
    }
    expect(errors).toBeGreaterThan(0); // too short for the root header / key
    expect(partial).toBeGreaterThan(size / 2);
    // Cut in the middle of the long value: it is kept as far as it goes.
    const longAt = blockOffset(buf, 'LegalCopyright');
    const cutAt = longAt + 6 + 30 + 1000; // header + key, then 500 characters of value
    const issues: PeIssue[] = [];
    const v = parseVersionInfo(buf, offset, cutAt - offset, issues);
    expect(v.strings.LegalCopyright).toBe(LONG.slice(0, 500));
    expect(v.strings.FileVersion).toBe('1.2.3.4');
    expect(v.fileVersion).toBe('1.2.3.4');
    expect(issues.some((i) => /cut by the end of its block/.test(i.message))).toBe(true);
  });

  it('wLength 0xFFFF is bounded by the parent at every level', () => {
    const keys = ['VS_VERSION_INFO', 'StringFileInfo', '040904b0', 'CompanyName', 'ProductName', 'VarFileInfo'];
    for (const key of keys) {
      const buf = subject();
      const at = blockOffset(buf, key);
      buf.writeUInt16LE(0xffff, at);
      const issues: PeIssue[] = [];
      const r = resultOrFormatError(() => version(buf, issues));
      expect(r, key).not.toBeInstanceOf(PeFormatError);
      const v = r as VersionInfo;
      expect(v.fileVersion, key).toBe('1.2.3.4');
      expect(issues.find((i) => /runs \d+ bytes past its parent/.test(i.message))?.offset, key).toBe(at);
      if (key === 'VS_VERSION_INFO' || key === 'VarFileInfo') expect(v.tables, key).toEqual(EXPECTED_TABLES);
      if (key === 'CompanyName') {
        // The first CompanyName (table 0407) swallows the rest of its table; its value
        // is still read up to its own NUL, and the other tables are intact.
        expect(v.tables[0].strings).toEqual({ CompanyName: 'Beispiel GmbH' });
        expect(v.tables.slice(1)).toEqual(EXPECTED_TABLES.slice(1));
      }
      if (key === 'ProductName') {
        // The last string of 0409: nothing after it to swallow.
        expect(v.tables).toEqual(EXPECTED_TABLES);
      }
    }
  });

  it('garbage gives a PeFormatError with the offset; damaged children give partial results', () => {
    // Root key is not VS_VERSION_INFO.
    {
      const buf = subject();
      const at = blockOffset(buf, 'VS_VERSION_INFO');
      buf.write('X', at + 6, 'utf16le');
      const err = resultOrFormatError(() => version(buf));
      expect(err).toBeInstanceOf(PeFormatError);
      expect((err as PeFormatError).offset).toBe(at);
      expect((err as PeFormatError).part).toBe('version');
    }
    // Root wLength 3.
    {
      const buf = subject();
      const at = blockOffset(buf, 'VS_VERSION_INFO');
      buf.writeUInt16LE(3, at);
      const err = resultOrFormatError(() => version(buf));
      expect((err as PeFormatError).offset).toBe(at);
    }
    // A String with wLength 3: the table keeps the strings before it.
    {
      const buf = subject();
      const at = blockOffset(buf, 'InternalName');
      buf.writeUInt16LE(3, at);
      const issues: PeIssue[] = [];
      const v = version(buf, issues)!;
      expect(Object.keys(v.strings)).toEqual(['CompanyName', 'FileDescription', 'FileVersion', 'Comments']);
      expect(v.tables[2]).toEqual(EXPECTED_TABLES[2]);
      expect(issues.some((i) => i.offset === at && /wLength 3/.test(i.message))).toBe(true);
    }
    // A bad VS_FIXEDFILEINFO signature: versions null, strings still read.
    {
      const buf = subject();
      const at = blockOffset(buf, 'VS_VERSION_INFO');
      buf.writeUInt32LE(0xdeadbeef, at + 40);
      const issues: PeIssue[] = [];
      const v = version(buf, issues)!;
      expect(v.fileVersion).toBeNull();
      expect(v.productVersion).toBeNull();
      expect(v.tables).toEqual(EXPECTED_TABLES);
      expect(issues[0].offset).toBe(at + 40);
    }
    // A value without its terminator (wLength/wValueLength cut by 2 bytes).
    {
      const buf = subject();
      const at = blockOffset(buf, 'ProductName'); // last string of 0409
      buf.writeUInt16LE(buf.readUInt16LE(at) - 2, at);
      buf.writeUInt16LE(buf.readUInt16LE(at + 2) - 1, at + 2);
      buf.writeUInt16LE(0x41, at + buf.readUInt16LE(at)); // the old NUL becomes 'A' (now padding)
      const issues: PeIssue[] = [];
      const v = version(buf, issues)!;
      expect(v.strings.ProductName).toBe(EXPECTED_TABLES[1].strings.ProductName);
      expect(v.tables).toEqual(EXPECTED_TABLES);
    }
    // A key of "__proto__" is kept as data. "Comments" (empty value) is 8 chars + NUL
    // then its one-WORD value (a NUL) at +24; "__proto__" is 9 chars, so the old value
    // NUL becomes the key's terminator and the value is empty either way.
    {
      const buf = subject();
      const at = blockOffset(buf, 'Comments');
      buf.write('__proto__', at + 6, 'utf16le');
      expect(buf.readUInt16LE(at + 24)).toBe(0);
      const v = version(buf)!;
      expect(Object.getPrototypeOf(v.strings)).toBe(Object.prototype);
      expect(Object.keys(v.strings)).toContain('__proto__');
      expect(Object.getOwnPropertyDescriptor(v.strings, '__proto__')?.value).toBe('');
    }
  });
  },
  'apt-get install mingw-w64 llvm lld clang',
);

// ---------------------------------------------------------------------------------
// Committed fixture drivers (test/fixtures/manifest.json)
// ---------------------------------------------------------------------------------

const fixturesDir = resolve(here, 'fixtures');
const manifestPath = join(fixturesDir, 'manifest.json');

interface ManifestEntry {
  file: string;
  version: { fileVersion: string | null; strings: Record<string, string> } | null;
}

/** The fixture manifest (`{ binaries: [...] }`), entries that say what their version resource holds. */
function manifestEntries(): ManifestEntry[] {
  const raw = JSON.parse(readFileSync(manifestPath, 'utf8')) as { binaries: Record<string, unknown>[] };
  return raw.binaries.filter((e) => 'version' in e).map((e) => ({ file: String(e.file), version: e.version as ManifestEntry['version'] }));
}

function fixturePath(file: string): string {
  for (const p of [resolve(fixturesDir, 'bin', file), resolve(fixturesDir, file), resolve(here, '..', file)]) {
    if (existsSync(p)) return p;
  }
  return resolve(fixturesDir, 'bin', file);
}

describe('fixture drivers (test/fixtures/manifest.json)', () => {
  it('every fixture reads as its manifest says', () => {
    const entries = manifestEntries();
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      const path = fixturePath(entry.file);
      expect(existsSync(path), path).toBe(true);
      const buf = readFileSync(path);
      if (entry.version === null && !isPe(buf)) continue; // e.g. a deliberately broken header
      const r = resultOrFormatError(() => version(buf));
      if (entry.version === null) {
        // No version resource, or a deliberately broken one (PeFormatError with an offset).
        if (!(r instanceof PeFormatError)) expect(r, entry.file).toBeNull();
        continue;
      }
      expect(r, entry.file).not.toBeInstanceOf(PeFormatError);
      const v = r as VersionInfo | null;
      expect(v, entry.file).not.toBeNull();
      expect(v!.fileVersion, entry.file).toBe(entry.version.fileVersion);
      // Every string the manifest names, verbatim (the manifest may list a subset).
      expect(v!.strings, entry.file).toMatchObject(entry.version.strings);
    }
  });

  it('every fixture with a version resource survives truncation at every byte of it', () => {
    for (const entry of manifestEntries().filter((e) => e.version)) {
      const buf = readFileSync(fixturePath(entry.file));
      const { offset, size } = versionBlock(buf);
      for (let cut = 0; cut <= size; cut++) resultOrFormatError(() => parseVersionInfo(buf, offset, cut));
    }
  });
});

// ---------------------------------------------------------------------------------
// Wine's PE files, checked against resedit (an independent VS_VERSIONINFO parser)
// ---------------------------------------------------------------------------------

const wineDir = join(homedir(), '.cache', 'pooltag-dev', 'wine');

/** PE files under the Wine cache (all of them: reading ~750 files takes about a second). */
function wineFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile() && /\.(sys|dll|exe|drv|ocx|cpl)$/i.test(ent.name)) out.push(p);
    }
  };
  walk(wineDir);
  return out.sort();
}

function isPe(buf: Buffer): boolean {
  if (buf.length < 0x40 || buf.readUInt16LE(0) !== 0x5a4d) return false;
  const lfanew = buf.readUInt32LE(0x3c);
  return lfanew + 24 <= buf.length && buf.readUInt32LE(lfanew) === 0x00004550;
}

describe.skipIf(!existsSync(wineDir))('Wine PE files', () => {
  it('parse without error and agree with resedit where resedit can read them', () => {
    const files = wineFiles();
    let versions = 0;
    let compared = 0;
    for (const path of files) {
      const buf = readFileSync(path);
      if (!isPe(buf)) continue;
      const issues: PeIssue[] = [];
      const v = version(buf, issues);
      expect(issues, path).toEqual([]);
      if (!v) continue;
      versions++;
      expect(v.fileVersion ?? '', path).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(v.tables.length, path).toBeGreaterThan(0);
      // Oracle: resedit (via pe-library) when it accepts the file.
      let theirs: ReturnType<typeof ResEdit.Resource.VersionInfo.fromEntries>;
      try {
        theirs = ResEdit.Resource.VersionInfo.fromEntries(peLibraryResources(buf, true).entries);
      } catch {
        continue; // e.g. a section other than .reloc after .rsrc
      }
      if (theirs.length === 0) continue;
      compared++;
      const t = theirs[0];
      const fv = t.fixedInfo;
      expect(v.fileVersion, path).toBe(`${fv.fileVersionMS >>> 16}.${fv.fileVersionMS & 0xffff}.${fv.fileVersionLS >>> 16}.${fv.fileVersionLS & 0xffff}`);
      for (const lang of t.getAllLanguagesForStringValues()) {
        const key = `${lang.lang.toString(16).padStart(4, '0')}${lang.codepage.toString(16).padStart(4, '0')}`.toUpperCase();
        const mine = v.tables.find((x) => x.langCodepage === key);
        expect(mine, `${path} ${key}`).toBeDefined();
        expect(mine!.strings, `${path} ${key}`).toEqual(t.getStringValues(lang));
      }
      expect(v.tables.length, path).toBe(t.getAllLanguagesForStringValues().length);
    }
    if (files.length > 0) expect(versions).toBeGreaterThan(0);
    if (versions > 0) expect(compared).toBeGreaterThan(0);
    // eslint-disable-next-line no-console
    console.log(`wine: ${files.length} files, ${versions} with a version resource, ${compared} compared with resedit`);
  });
});
