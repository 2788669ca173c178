import { createHash } from 'node:crypto';
import { Format } from 'pe-library';

import { AddressMap } from './address.js';
import { readAuthenticode } from './authenticode.js';
import { ByteReader } from './bytes.js';
import { NotPeError, PeFormatError } from './errors.js';
import type {
  Arch,
  CodeViewInfo,
  ExportedFunction,
  FunctionRange,
  ImportedFunction,
  ImportedModule,
  PeHeaders,
  PeImage,
  PeIssue,
  Relocation,
  Section,
} from './types.js';
import { readVersionInfo } from './version.js';

/**
 * Reading a PE image into the `PeImage` model.
 *
 * pe-library parses the fixed headers (DOS, COFF, optional header, section table) as
 * views over our Buffer. We deliberately do NOT go through `NtExecutable.from()`, which
 * is where pe-library's traps are:
 *  - it refuses any image whose COFF header has a symbol table (mingw, lld and Wine
 *    binaries do) and any signed image unless `ignoreCert` is passed;
 *  - its section-table offset assumes 16 data directories and ignores
 *    SizeOfOptionalHeader;
 *  - it copies every section;
 *  - its resource reader (and resedit's) refuses a resource section followed by any
 *    section other than `.reloc`.
 * This module is the one place that knows this: headers come from pe-library's
 * format classes after our own bounds checks, the section table is located by
 * SizeOfOptionalHeader, and every directory is read by our bounded readers
 * (`resources.ts`/`version.ts`, `authenticode.ts`, and the ones below).
 */

export interface ReadPeOptions {
  /** Compute the SHA-256 of the file (default true). */
  hash?: boolean;
  /** Parse the version resource (default true). */
  version?: boolean;
  /** Parse the Authenticode signature (default true). */
  signature?: boolean;
}

export const MACHINES: Record<number, Arch> = {
  0x014c: 'x86',
  0x8664: 'x64',
  0xaa64: 'arm64',
  0x01c4: 'arm', // ARMNT (Thumb-2): metadata only
  0x01c0: 'arm',
  0x0200: 'ia64', // metadata only
};

const DIR = {
  export: 0,
  import: 1,
  resource: 2,
  exception: 3,
  certificate: 4,
  basereloc: 5,
  debug: 6,
  delayImport: 13,
} as const;

/** Limits that keep hostile images from making us loop or allocate without end. */
const LIMITS = {
  sections: 96 * 4, // the loader caps at 96; tolerate more but not 65535
  importModules: 4096,
  importsPerModule: 65536,
  exports: 65536,
  pdataEntries: 1 << 20,
  relocations: 1 << 22,
  debugEntries: 64,
};

interface DataDirectory {
  rva: number;
  size: number;
}

/** Everything the directory readers share. */
interface Ctx {
  buf: Buffer;
  r: ByteReader;
  map: AddressMap;
  headers: PeHeaders;
  is64: boolean;
  dirs: DataDirectory[];
}

/**
 * Read a PE image. Throws `PeFormatError` only when the headers themselves are not
 * readable (not a PE); a broken directory becomes an entry in `image.issues` and the
 * rest of the image is still read.
 */
export function readPe(buf: Buffer, options: ReadPeOptions = {}): PeImage {
  const { headers, sections, dirs, is64, rawEnd } = readHeaders(buf);
  const map = new AddressMap(sections, headers.sizeOfHeaders, buf.length);
  const ctx: Ctx = { buf, r: new ByteReader(buf, 'image'), map, headers, is64, dirs };
  const issues: PeIssue[] = [];

  function guard<T>(part: string, fallback: T, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PeFormatError) {
        issues.push({ part: err.part === 'image' ? part : err.part, message: err.message, offset: err.offset, ...(err.rva ? { rva: true } : {}) });
      } else if (err instanceof RangeError) {
        issues.push({ part, message: `${part}: ${err.message}`, offset: null });
      } else {
        throw err;
      }
      return fallback;
    }
  }

  const imports = [
    ...guard('imports', [] as ImportedModule[], () => readImports(ctx, issues)),
    ...guard('delay-imports', [] as ImportedModule[], () => readDelayImports(ctx, issues)),
  ];
  const exports = guard('exports', [] as ExportedFunction[], () => readExports(ctx));
  const functions = guard('exception', [] as FunctionRange[], () => readExceptionDirectory(ctx, issues));
  const relocations = guard('relocations', [] as Relocation[], () => readRelocations(ctx));
  const codeView = guard('debug', null as CodeViewInfo | null, () => readCodeView(ctx));
  const rsrc = dirs[DIR.resource];
  const version =
    options.version === false || !rsrc || rsrc.rva === 0
      ? null
      : guard('resources', null, () => readVersionInfo(buf, map, rsrc.rva, rsrc.size, issues));
  const cert = dirs[DIR.certificate];
  const signature =
    options.signature === false || !cert || cert.size === 0
      ? null
      : guard('certificate', null, () => readAuthenticode(buf, cert.rva, cert.size));
  const sha256 = options.hash === false ? null : createHash('sha256').update(buf).digest('hex');

  // A file cut short (an interrupted copy, a carved sample) still reads, but callers that
  // must not trust a partial image (the scanner) need to know.
  if (rawEnd > buf.length) {
    issues.push({ part: 'file', message: `file is truncated: the section table describes raw data up to offset ${hex(rawEnd)}, the file has ${buf.length} bytes`, offset: buf.length });
  }

  return { size: buf.length, rawEnd, sha256, headers, sections, imports, exports, functions, relocations, codeView, version, signature, issues };
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function readHeaders(buf: Buffer): { headers: PeHeaders; sections: Section[]; dirs: DataDirectory[]; is64: boolean; rawEnd: number } {
  const part = 'headers';
  if (buf.length < 64) throw new NotPeError(part, `file of ${buf.length} bytes is too small for a DOS header`, 0);
  const dos = Format.ImageDosHeader.from(buf);
  if (!dos.isValid()) throw new NotPeError(part, 'no MZ signature: not a PE image', 0);
  const peOff = dos.newHeaderAddress >>> 0;
  if (peOff + 24 > buf.length) throw new PeFormatError(part, `e_lfanew ${hex(peOff)} points past the end of the file`, 0x3c);
  if (buf.readUInt32LE(peOff) !== 0x4550) throw new NotPeError(part, 'no PE\\0\\0 signature at e_lfanew (a DOS or NE/LE image?)', peOff);
  const optOff = peOff + 24;
  if (optOff + 2 > buf.length) throw new PeFormatError(part, 'optional header is truncated', optOff);
  const magic = buf.readUInt16LE(optOff);
  if (magic !== 0x10b && magic !== 0x20b) throw new PeFormatError(part, `unknown optional header magic ${hex(magic)}`, optOff);
  const is64 = magic === 0x20b;
  const fixedOptSize = is64 ? 112 : 96;
  // pe-library's NT headers view always spans 16 data directories; check it fits.
  if (optOff + fixedOptSize + 128 > buf.length) {
    throw new PeFormatError(part, 'optional header is truncated', optOff);
  }
  const nt = Format.ImageNtHeaders.from(buf, peOff);
  const fh = nt.fileHeader;
  const oh = nt.optionalHeader;
  const sizeOfOptionalHeader = fh.sizeOfOptionalHeader;
  if (sizeOfOptionalHeader < fixedOptSize) {
    throw new PeFormatError(part, `SizeOfOptionalHeader ${sizeOfOptionalHeader} is smaller than the ${fixedOptSize} bytes a ${is64 ? 'PE32+' : 'PE32'} header needs`, peOff + 20);
  }
  const numberOfRvaAndSizes = Math.min(oh.numberOfRvaAndSizes, 16, Math.floor((sizeOfOptionalHeader - fixedOptSize) / 8));
  const dirOff = optOff + fixedOptSize;
  const dirs: DataDirectory[] = [];
  for (let i = 0; i < numberOfRvaAndSizes; i++) {
    dirs.push({ rva: buf.readUInt32LE(dirOff + i * 8), size: buf.readUInt32LE(dirOff + i * 8 + 4) });
  }

  const machine = fh.machine;
  const imageBase = is64 ? (oh as Format.ImageOptionalHeader64).imageBaseBigInt : BigInt(oh.imageBase >>> 0);
  const headers: PeHeaders = {
    format: is64 ? 'PE32+' : 'PE32',
    machine,
    arch: MACHINES[machine] ?? 'unknown',
    imageBase,
    subsystem: oh.subsystem,
    timestamp: fh.timeDateStamp >>> 0,
    characteristics: fh.characteristics,
    dllCharacteristics: oh.dllCharacteristics,
    checksum: oh.checkSum >>> 0,
    entryPointRva: oh.addressOfEntryPoint >>> 0,
    sizeOfImage: oh.sizeOfImage >>> 0,
    sizeOfHeaders: oh.sizeOfHeaders >>> 0,
    pointerToSymbolTable: fh.pointerToSymbolTable >>> 0,
    numberOfSymbols: fh.numberOfSymbols >>> 0,
    linkerVersion: `${oh.majorLinkerVersion}.${oh.minorLinkerVersion}`,
    osVersion: `${oh.majorOperatingSystemVersion}.${oh.minorOperatingSystemVersion}`,
    subsystemVersion: `${oh.majorSubsystemVersion}.${oh.minorSubsystemVersion}`,
  };

  // Section table: located by SizeOfOptionalHeader (not by pe-library's fixed offset).
  const count = fh.numberOfSections;
  const secOff = optOff + sizeOfOptionalHeader;
  if (count > LIMITS.sections) throw new PeFormatError(part, `${count} sections is more than any loader accepts`, peOff + 6);
  if (secOff + count * 40 > buf.length) throw new PeFormatError(part, `section table of ${count} entries runs past the end of the file`, secOff);
  const table = Format.ImageSectionHeaderArray.from(buf.buffer as ArrayBuffer, count, buf.byteOffset + secOff);
  const sections: Section[] = [];
  let rawEnd = headers.sizeOfHeaders;
  for (let i = 0; i < count; i++) {
    const s = table.get(i);
    if (s.sizeOfRawData) rawEnd = Math.max(rawEnd, (s.pointerToRawData >>> 0) + (s.sizeOfRawData >>> 0));
    const raw = buf.subarray(secOff + i * 40, secOff + i * 40 + 8);
    sections.push({
      name: sectionName(buf, raw, headers),
      virtualAddress: s.virtualAddress >>> 0,
      virtualSize: s.virtualSize >>> 0,
      // Raw data that runs past the end of the file is cut at the end of the file.
      rawOffset: s.sizeOfRawData ? s.pointerToRawData >>> 0 : 0,
      rawSize: s.sizeOfRawData ? Math.max(0, Math.min(s.sizeOfRawData >>> 0, buf.length - (s.pointerToRawData >>> 0))) : 0,
      characteristics: s.characteristics >>> 0,
      executable: ((s.characteristics >>> 0) & (0x20000000 | 0x00000020)) !== 0,
    });
  }
  return { headers, sections, dirs, is64, rawEnd };
}

/** Section names longer than 8 bytes (mingw's `/4`) live in the COFF string table. */
function sectionName(buf: Buffer, raw: Buffer, headers: PeHeaders): string {
  let end = raw.indexOf(0);
  if (end < 0) end = 8;
  const short = raw.toString('latin1', 0, end);
  if (short[0] === '/' && /^\/\d+$/.test(short) && headers.pointerToSymbolTable) {
    const strtab = headers.pointerToSymbolTable + headers.numberOfSymbols * 18;
    const at = strtab + Number(short.slice(1));
    if (strtab + 4 <= buf.length && at < buf.length) {
      const stop = buf.indexOf(0, at);
      const e = stop < 0 ? Math.min(buf.length, at + 256) : Math.min(stop, at + 256);
      return buf.toString('latin1', at, e);
    }
  }
  return short;
}

function dir(ctx: Ctx, index: number): DataDirectory | null {
  const d = ctx.dirs[index];
  return d && d.rva !== 0 && d.size !== 0 ? d : null;
}

/** File offset of `rva`, or a PeFormatError naming the part and the RVA. */
function at(ctx: Ctx, part: string, rva: number, size: number, what: string): number {
  const off = ctx.map.rvaToOffset(rva, size);
  if (off === null) throw new PeFormatError(part, `${what} (${size} bytes) is not in the file`, rva, true);
  return off;
}

function readThunks(
  ctx: Ctx,
  part: string,
  module: string,
  lookupRva: number,
  iatRva: number,
  issues: PeIssue[],
): ImportedFunction[] {
  const { r, is64 } = ctx;
  const ptr = is64 ? 8 : 4;
  const out: ImportedFunction[] = [];
  for (let i = 0; i < LIMITS.importsPerModule; i++) {
    const off = ctx.map.rvaToOffset(lookupRva + i * ptr, ptr);
    if (off === null) {
      issues.push({ part, message: `${part}: ${module}: thunk table leaves the file after ${i} entries`, offset: lookupRva + i * ptr, rva: true });
      break;
    }
    let ordinalFlag: boolean;
    let value: number;
    if (is64) {
      const v = r.u64(off);
      if (v === 0n) break;
      ordinalFlag = (v & 0x8000000000000000n) !== 0n;
      value = Number(v & (ordinalFlag ? 0xffffn : 0x7fffffffn));
    } else {
      const v = r.u32(off);
      if (v === 0) break;
      ordinalFlag = (v & 0x80000000) !== 0;
      value = ordinalFlag ? v & 0xffff : v & 0x7fffffff;
    }
    const slot = iatRva + i * ptr;
    if (ordinalFlag) {
      out.push({ name: null, ordinal: value, hint: null, iatRva: slot });
      continue;
    }
    const nameOff = ctx.map.rvaToOffset(value, 3);
    if (nameOff === null) {
      issues.push({ part, message: `${part}: ${module}: hint/name entry ${i} is not in the file`, offset: value, rva: true });
      out.push({ name: null, ordinal: null, hint: null, iatRva: slot });
      continue;
    }
    out.push({ name: r.cstring(nameOff + 2, 1024), ordinal: null, hint: r.u16(nameOff), iatRva: slot });
  }
  return out;
}

function readImports(ctx: Ctx, issues: PeIssue[]): ImportedModule[] {
  const d = dir(ctx, DIR.import);
  if (!d) return [];
  const part = 'imports';
  const { r } = ctx;
  const modules: ImportedModule[] = [];
  for (let i = 0; i < LIMITS.importModules; i++) {
    const off = at(ctx, part, d.rva + i * 20, 20, `import descriptor ${i}`);
    const ilt = r.u32(off);
    const nameRva = r.u32(off + 12);
    const iat = r.u32(off + 16);
    if (ilt === 0 && nameRva === 0 && iat === 0) break;
    const module = r.cstring(at(ctx, part, nameRva, 1, `name of import descriptor ${i}`), 512);
    // Some linkers leave OriginalFirstThunk zero: the IAT then holds the names.
    const functions = readThunks(ctx, part, module, ilt !== 0 ? ilt : iat, iat, issues);
    modules.push({ module, delayLoad: false, functions });
  }
  return modules;
}

function readDelayImports(ctx: Ctx, issues: PeIssue[]): ImportedModule[] {
  const d = dir(ctx, DIR.delayImport);
  if (!d) return [];
  const part = 'delay-imports';
  const { r } = ctx;
  const modules: ImportedModule[] = [];
  for (let i = 0; i < LIMITS.importModules; i++) {
    const off = at(ctx, part, d.rva + i * 32, 32, `delay-load descriptor ${i}`);
    const attrs = r.u32(off);
    let nameRva = r.u32(off + 4);
    let iat = r.u32(off + 12);
    let int = r.u32(off + 16);
    if (nameRva === 0 && iat === 0 && int === 0) break;
    // Version 1 descriptors (attribute bit 0) hold RVAs; old VC6 ones hold VAs.
    if ((attrs & 1) === 0) {
      const base = Number(ctx.headers.imageBase & 0xffffffffn);
      nameRva = (nameRva - base) >>> 0;
      iat = (iat - base) >>> 0;
      int = (int - base) >>> 0;
    }
    const module = r.cstring(at(ctx, part, nameRva, 1, `name of delay-load descriptor ${i}`), 512);
    const functions = readThunks(ctx, part, module, int !== 0 ? int : iat, iat, issues);
    modules.push({ module, delayLoad: true, functions });
  }
  return modules;
}

function readExports(ctx: Ctx): ExportedFunction[] {
  const d = dir(ctx, DIR.export);
  if (!d) return [];
  const part = 'exports';
  const { r } = ctx;
  const off = at(ctx, part, d.rva, 40, 'export directory');
  const base = r.u32(off + 16);
  const nFuncs = r.u32(off + 20);
  const nNames = r.u32(off + 24);
  const funcsRva = r.u32(off + 28);
  const namesRva = r.u32(off + 32);
  const ordsRva = r.u32(off + 36);
  if (nFuncs > LIMITS.exports || nNames > LIMITS.exports) {
    throw new PeFormatError(part, `export directory claims ${nFuncs} functions and ${nNames} names`, off + 20);
  }
  const funcsOff = nFuncs ? at(ctx, part, funcsRva, nFuncs * 4, 'export address table') : 0;
  const names = new Map<number, string>();
  if (nNames) {
    const namesOff = at(ctx, part, namesRva, nNames * 4, 'export name table');
    const ordsOff = at(ctx, part, ordsRva, nNames * 2, 'export ordinal table');
    for (let i = 0; i < nNames; i++) {
      const nameOff = ctx.map.rvaToOffset(r.u32(namesOff + i * 4), 1);
      if (nameOff !== null) names.set(r.u16(ordsOff + i * 2), r.cstring(nameOff, 1024));
    }
  }
  const out: ExportedFunction[] = [];
  for (let i = 0; i < nFuncs; i++) {
    const rva = r.u32(funcsOff + i * 4);
    if (rva === 0) continue;
    // An address inside the export directory is a forwarder string.
    let forwarder: string | null = null;
    if (rva >= d.rva && rva < d.rva + d.size) {
      const fo = ctx.map.rvaToOffset(rva, 1);
      forwarder = fo === null ? null : r.cstring(fo, 1024);
    }
    out.push({ name: names.get(i) ?? null, ordinal: base + i, rva, forwarder });
  }
  return out;
}

/**
 * `.pdata` as sorted function ranges. x64: RUNTIME_FUNCTION {Begin, End, Unwind}.
 * ARM64: {Begin, UnwindData}; packed entries (Flag != 0) hold the length in bits
 * 2..12 (in 4-byte units), unpacked ones point at .xdata whose first word holds it in
 * bits 0..17.
 */
function readExceptionDirectory(ctx: Ctx, issues: PeIssue[]): FunctionRange[] {
  const d = dir(ctx, DIR.exception);
  if (!d) return [];
  const arch = ctx.headers.arch;
  if (arch !== 'x64' && arch !== 'arm64') return [];
  const part = 'exception';
  const { r } = ctx;
  const entry = arch === 'x64' ? 12 : 8;
  const n = Math.min(Math.floor(d.size / entry), LIMITS.pdataEntries);
  const off = at(ctx, part, d.rva, n * entry, '.pdata');
  const out: FunctionRange[] = [];
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const e = off + i * entry;
    const begin = r.u32(e);
    let end: number;
    let parent: number | undefined;
    if (arch === 'x64') {
      end = r.u32(e + 4);
      parent = chainedParent(ctx, r.u32(e + 8));
    } else {
      const unwind = r.u32(e + 4);
      const flag = unwind & 3;
      if (flag !== 0) {
        end = begin + ((unwind >>> 2) & 0x7ff) * 4;
      } else {
        const x = ctx.map.rvaToOffset(unwind, 4);
        if (x === null) {
          bad++;
          continue;
        }
        end = begin + (r.u32(x) & 0x3ffff) * 4;
      }
    }
    if (end === begin) continue; // zero-length entries (padding, or an empty stub) are harmless
    if (begin === 0 || end < begin) {
      bad++;
      continue;
    }
    out.push(parent !== undefined && parent !== begin ? { begin, end, chainedTo: parent } : { begin, end });
  }
  if (bad) issues.push({ part, message: `${part}: ${bad} .pdata entries with an empty or unreadable range were skipped`, offset: d.rva, rva: true });
  out.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // Chained entries can repeat a begin; keep one range per start.
  const dedup: FunctionRange[] = [];
  for (const f of out) {
    const last = dedup[dedup.length - 1];
    if (last && last.begin === f.begin) {
      last.end = Math.max(last.end, f.end);
      if (f.chainedTo === undefined) delete last.chainedTo; // a primary entry for this start wins
    } else dedup.push(f);
  }
  resolveChains(dedup);
  return dedup;
}

/** UNW_FLAG_CHAININFO: the unwind info ends with the RUNTIME_FUNCTION of the entry it continues. */
const UNW_FLAG_CHAININFO = 0x4;

/**
 * x64 unwind info at `rva`: when it is chained, the begin of the entry it continues (read
 * after the unwind codes, which are padded to an even count); else, or when it does not
 * read, undefined.
 */
function chainedParent(ctx: Ctx, rva: number): number | undefined {
  const off = ctx.map.rvaToOffset(rva, 4);
  if (off === null) return undefined;
  const flags = ctx.r.u8(off) >>> 3;
  if ((flags & UNW_FLAG_CHAININFO) === 0) return undefined;
  const codes = ctx.r.u8(off + 2);
  const chained = ctx.map.rvaToOffset(rva + 4 + 2 * ((codes + 1) & ~1), 12);
  return chained === null ? undefined : ctx.r.u32(chained);
}

/**
 * Each chained entry points at the root of its chain (a chain may continue a fragment): the
 * primary function. A parent that is no entry of the table, or a loop, leaves the entry a
 * function of its own.
 */
function resolveChains(fns: FunctionRange[]): void {
  const byBegin = new Map<number, FunctionRange>();
  for (const f of fns) byBegin.set(f.begin, f);
  for (const f of fns) {
    let root = f.chainedTo;
    for (let hops = 0; root !== undefined && hops < 32; hops++) {
      const p = byBegin.get(root);
      if (!p) {
        root = undefined;
        break;
      }
      if (p.chainedTo === undefined) break;
      root = p.chainedTo;
    }
    const rootEntry = root === undefined ? undefined : byBegin.get(root);
    if (!rootEntry || rootEntry.chainedTo !== undefined || root === f.begin) delete f.chainedTo;
    else f.chainedTo = root;
  }
}

function readRelocations(ctx: Ctx): Relocation[] {
  const d = dir(ctx, DIR.basereloc);
  if (!d) return [];
  const part = 'relocations';
  const { r } = ctx;
  const out: Relocation[] = [];
  let pos = 0;
  while (pos + 8 <= d.size) {
    const off = at(ctx, part, d.rva + pos, 8, 'relocation block header');
    const page = r.u32(off);
    const blockSize = r.u32(off + 4);
    if (blockSize < 8 || pos + blockSize > d.size) {
      if (blockSize === 0 && page === 0) break; // zero padding at the end
      throw new PeFormatError(part, `relocation block of ${blockSize} bytes does not fit the directory`, off + 4);
    }
    const entries = (blockSize - 8) >> 1;
    const eoff = at(ctx, part, d.rva + pos + 8, entries * 2, 'relocation entries');
    for (let i = 0; i < entries; i++) {
      const v = r.u16(eoff + i * 2);
      const type = v >>> 12;
      if (type === 0) continue; // IMAGE_REL_BASED_ABSOLUTE: padding
      out.push({ rva: page + (v & 0xfff), type });
    }
    if (out.length > LIMITS.relocations) throw new PeFormatError(part, `more than ${LIMITS.relocations} relocations`, off);
    pos += blockSize;
  }
  return out;
}

function formatGuid(b: Buffer): string {
  const h = (s: number, e: number, rev: boolean) => {
    const bytes = [...b.subarray(s, e)];
    if (rev) bytes.reverse();
    return bytes.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return [h(0, 4, true), h(4, 6, true), h(6, 8, true), h(8, 10, false), h(10, 16, false)].join('-').toUpperCase();
}

/** The CodeView record (RSDS, or the older NB10) of the debug directory. */
function readCodeView(ctx: Ctx): CodeViewInfo | null {
  const d = dir(ctx, DIR.debug);
  if (!d) return null;
  const part = 'debug';
  const { r, buf } = ctx;
  const n = Math.min(Math.floor(d.size / 28), LIMITS.debugEntries);
  const off = at(ctx, part, d.rva, n * 28, 'debug directory');
  for (let i = 0; i < n; i++) {
    const e = off + i * 28;
    if (r.u32(e + 12) !== 2) continue; // IMAGE_DEBUG_TYPE_CODEVIEW
    const size = r.u32(e + 16);
    const rva = r.u32(e + 20);
    let p = r.u32(e + 24);
    if (p === 0 && rva !== 0) p = ctx.map.rvaToOffset(rva, size) ?? 0;
    if (p === 0 || size < 16) continue;
    const rec = new ByteReader(r.slice(p, Math.min(size, buf.length - p), 'CodeView record'), part);
    const sig = rec.buf.toString('latin1', 0, 4);
    if (sig === 'RSDS' && rec.length >= 24) {
      const path = rec.buf.subarray(24);
      const z = path.indexOf(0);
      return { pdbPath: path.toString('utf8', 0, z < 0 ? path.length : z), guid: formatGuid(rec.buf.subarray(4, 20)), age: rec.u32(20) };
    }
    if (sig === 'NB10' && rec.length >= 16) {
      const path = rec.buf.subarray(16);
      const z = path.indexOf(0);
      const stamp = rec.u32(8).toString(16).toUpperCase().padStart(8, '0');
      return { pdbPath: path.toString('latin1', 0, z < 0 ? path.length : z), guid: stamp, age: rec.u32(12) };
    }
    throw new PeFormatError(part, `CodeView record with unknown signature ${JSON.stringify(sig)}`, p);
  }
  return null;
}
