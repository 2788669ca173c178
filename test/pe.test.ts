/**
 * The PE reader on the fixture drivers (real bytes built by scripts/build-fixtures.sh) and
 * on damaged copies of them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { PeFormatError } from '../src/pe/errors.js';
import { readPe } from '../src/pe/read.js';

interface ManifestBinary {
  file: string;
  arch: 'x86' | 'x64' | 'arm64';
  compiler: string;
  imports: Record<string, string[]>;
  hasPdata: boolean;
  pdbPath: string | null;
  imageBase: string;
  timeDateStamp: string;
  sha256: string;
  tags: { routine: string; sites: { va: string; call: string }[] }[];
}

const fixtures = join(import.meta.dirname, 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { binaries: ManifestBinary[] };
const load = (b: ManifestBinary) => readFileSync(join(fixtures, b.file));

describe.each(manifest.binaries.map((b) => [b.file, b] as const))('%s', (_f, bin) => {
  const buf = load(bin);
  const img = readPe(buf);

  it('headers, hash and PDB path', () => {
    expect(img.headers.arch).toBe(bin.arch);
    expect(img.headers.format).toBe(bin.arch === 'x86' ? 'PE32' : 'PE32+');
    expect(img.headers.imageBase).toBe(BigInt(bin.imageBase));
    expect(img.headers.timestamp).toBe(Number(bin.timeDateStamp));
    expect(img.headers.subsystem).toBe(1); // native
    expect(img.sha256).toBe(bin.sha256);
    expect(img.sha256).toBe(createHash('sha256').update(buf).digest('hex'));
    expect(img.codeView?.pdbPath ?? null).toBe(bin.pdbPath);
    expect(img.issues).toEqual([]);
  });

  it('imports by module, every function', () => {
    const got: Record<string, string[]> = {};
    for (const m of img.imports) got[m.module] = m.functions.map((f) => f.name ?? `#${f.ordinal}`).sort();
    const want = Object.fromEntries(Object.entries(bin.imports).map(([k, v]) => [k, [...v].sort()]));
    expect(got).toEqual(want);
  });

  it('.pdata function ranges', () => {
    expect(img.functions.length > 0).toBe(bin.hasPdata);
    for (let i = 1; i < img.functions.length; i++) expect(img.functions[i].begin).toBeGreaterThanOrEqual(img.functions[i - 1].end);
  });

  it('IAT slots: every `call [slot]` site of the manifest references the slot readPe gives', () => {
    if (bin.arch === 'arm64') return; // ARM64 calls go through adrp/ldr, checked by the evidence tests
    const base = BigInt(bin.imageBase);
    const slots = new Map<string, number>();
    for (const m of img.imports) for (const f of m.functions) if (f.name) slots.set(f.name, f.iatRva);
    let checked = 0;
    for (const t of bin.tags) {
      for (const s of t.sites) {
        if (s.call !== 'iat') continue;
        const rva = Number(BigInt(s.va) - base);
        const sec = img.sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + x.rawSize)!;
        const off = sec.rawOffset + rva - sec.virtualAddress;
        // FF 15 disp32 (with an optional REX prefix)
        const at = buf[off] === 0xff && buf[off + 1] === 0x15 ? off : buf[off + 1] === 0xff && buf[off + 2] === 0x15 ? off + 1 : -1;
        expect(at, `call [slot] at ${s.va}`).toBeGreaterThanOrEqual(0);
        const disp = buf.readInt32LE(at + 2);
        const target = bin.arch === 'x64' ? rva + (at - off) + 6 + disp : Number(BigInt(disp >>> 0) - base);
        expect(target).toBe(slots.get(t.routine));
        checked++;
      }
    }
    if (bin.compiler === 'clang' && bin.file.includes('/core.sys')) expect(checked).toBeGreaterThan(0);
  });
});

describe('damaged images', () => {
  const good = load(manifest.binaries.find((b) => b.file.includes('x64-clang-O2/core.sys'))!);
  const peOff = good.readUInt32LE(0x3c);

  it('not a PE: clear errors with offsets', () => {
    expect(() => readPe(Buffer.alloc(0))).toThrow(PeFormatError);
    expect(() => readPe(Buffer.from('hello, world'))).toThrow(/too small/);
    const noMz = Buffer.from(good);
    noMz[0] = 0;
    expect(() => readPe(noMz)).toThrow(/no MZ signature/);
    const farLfanew = Buffer.from(good);
    farLfanew.writeUInt32LE(0x7fffffff, 0x3c);
    expect(() => readPe(farLfanew)).toThrow(/e_lfanew .* points past the end/);
    const noPe = Buffer.from(good);
    noPe.write('NE', peOff);
    try {
      readPe(noPe);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PeFormatError);
      expect((e as PeFormatError).offset).toBe(peOff);
    }
  });

  it('every truncation either reads or fails with a PeFormatError, never anything else', () => {
    for (let n = 0; n < good.length; n += 7) {
      try {
        const img = readPe(good.subarray(0, n));
        expect(img.size).toBe(n);
      } catch (e) {
        expect(e).toBeInstanceOf(PeFormatError);
      }
    }
  });

  it('a broken import directory is an issue; version, PDB and sections are still read', () => {
    const bad = Buffer.from(good);
    const optOff = peOff + 24;
    const dirOff = optOff + 112 + 8; // data directory 1 (imports) of a PE32+
    bad.writeUInt32LE(0x7ffffff0, dirOff);
    const img = readPe(bad);
    expect(img.imports).toEqual([]);
    expect(img.issues.some((i) => i.part === 'imports' && /not in the file/.test(i.message))).toBe(true);
    expect(img.version?.strings.CompanyName).toBe('Pooltag Fixtures');
    expect(img.codeView?.pdbPath).toMatch(/core\.pdb$/);
  });

  it('a section count beyond any loader, and a section table past the end, are errors', () => {
    const bad = Buffer.from(good);
    bad.writeUInt16LE(0xffff, peOff + 6);
    expect(() => readPe(bad)).toThrow(/sections is more than/);
  });

  it('random bytes after a valid MZ/PE header never crash', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 0xff;
    for (let k = 0; k < 200; k++) {
      const bad = Buffer.from(good);
      for (let j = 0; j < 16; j++) bad[0x80 + ((rnd() << 8) | rnd()) % (bad.length - 0x80)] = rnd();
      try {
        readPe(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(PeFormatError);
      }
    }
  });
});

describe('COFF symbol tables (mingw) do not stop the reader', () => {
  it('reads mingw binaries that carry a symbol table', () => {
    const mingw = manifest.binaries.filter((b) => b.compiler === 'mingw');
    expect(mingw.length).toBeGreaterThan(0);
    const withSymbols = mingw.map((b) => readPe(load(b))).filter((i) => i.headers.numberOfSymbols > 0 || i.headers.pointerToSymbolTable > 0);
    for (const i of withSymbols) expect(i.imports.length).toBeGreaterThan(0);
  });
});

describe('x64 chained unwind info', () => {
  // shapes-x64.s: ShChain's fragment has a .pdata entry whose unwind info carries
  // UNW_FLAG_CHAININFO and ShChain's RUNTIME_FUNCTION.
  const file = join(__dirname, 'fixtures', 'bin', 'x64-asm', 'shapes.sys');
  it('marks the fragment as chained to the root of its chain', () => {
    const img = readPe(readFileSync(file));
    const chained = img.functions.filter((f) => f.chainedTo !== undefined);
    expect(chained).toHaveLength(1);
    const [frag] = chained;
    const root = img.functions.find((f) => f.begin === frag.chainedTo)!;
    expect(root.end).toBe(frag.begin); // the primary part ends where its fragment starts
    expect(root.chainedTo).toBeUndefined();
  });

  it('leaves a chain that points at itself, or at no entry, as a function of its own', () => {
    const orig = readFileSync(file);
    const img = readPe(orig);
    const frag = img.functions.find((f) => f.chainedTo !== undefined)!;
    // The fragment's .pdata entry (12 bytes: begin, end, unwind) and its unwind info.
    const pdata = img.sections.find((s) => s.name === '.pdata')!;
    const at = (rva: number) => {
      const s = img.sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + x.rawSize)!;
      return rva - s.virtualAddress + s.rawOffset;
    };
    let entry = -1;
    for (let o = pdata.rawOffset; o + 12 <= pdata.rawOffset + pdata.rawSize; o += 12) if (orig.readUInt32LE(o) === frag.begin) entry = o;
    expect(entry).toBeGreaterThan(0);
    const unwind = at(orig.readUInt32LE(entry + 8));
    const chainedBegin = unwind + 4 + 2 * ((orig[unwind + 2] + 1) & ~1);
    for (const target of [frag.begin, 0x7ffff000]) {
      const buf = Buffer.from(orig);
      buf.writeUInt32LE(target, chainedBegin);
      const r = readPe(buf);
      expect(r.functions.find((f) => f.begin === frag.begin)!.chainedTo).toBeUndefined();
      expect(r.issues.filter((i) => i.part === 'exception')).toEqual([]);
    }
  });
});
