/**
 * Tag extraction on the fixture drivers: every expected call site of every tag at every
 * optimisation level (recall), and no call-site tag the fixture does not pass (precision),
 * against test/fixtures/manifest.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { extractEvidence } from '../src/evidence/extract.js';
import type { AbiInfo, Loc, LoweredFunction } from '../src/evidence/ir.js';
import { valuesAt } from '../src/evidence/values.js';

import { lowerX86, x86Abi, x86ArgLoc } from '../src/evidence/lower/x86.js';
import { readPe } from '../src/pe/read.js';
import { ImageView } from '../src/evidence/sites/backend.js';
import type { FunctionRange, PeImage } from '../src/pe/types.js';
import { KNOWN_GAPS } from './helpers/known-gaps.js';

/** The one value `loc` holds before `fn.insns[i]` (a set of several shows as `{ k: 'set' }`). */
function resolve(fn: LoweredFunction, i: number, loc: Loc, abi: AbiInfo) {
  const v = valuesAt(fn, i, loc, abi);
  return v.length === 1 ? v[0] : { k: 'set', values: v };
}

interface ManifestTag {
  tag: string;
  ulong: string;
  routine: string;
  kind: string;
  callSites: number;
  via: string;
  wrapper: string | null;
  sites: { va: string; fn: string; call: string }[];
}
interface ManifestBinary {
  file: string;
  arch: string;
  compiler: string;
  opt: string;
  imageBase: string;
  tags: ManifestTag[];
  strings: { ascii: string[]; utf16: string[] };
}

const fixtures = join(import.meta.dirname, 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { binaries: ManifestBinary[] };


function key(ulong: string, routine: string, rva: number): string {
  return `${routine} ${ulong.toLowerCase()} @0x${rva.toString(16)}`;
}

describe.each(manifest.binaries.map((b) => [b.file, b] as const))('%s', (_file, bin) => {
  it('finds exactly the call-site tags of the manifest', async () => {
    const buf = readFileSync(join(fixtures, bin.file));
    const image = readPe(buf);
    const r = await extractEvidence(buf, image);
    const base = BigInt(bin.imageBase);
    const expected = new Set<string>();
    for (const t of bin.tags) {
      for (const s of t.sites) expected.add(key(t.ulong, t.routine, Number(BigInt(s.va) - base)));
    }
    const got = new Set(r.evidence.filter((e) => e.recovery !== 'string' && e.recovery !== 'raw-bytes').map((e) => key(e.ulong, e.routine, e.callSiteRva)));
    const gaps = new Set(Object.keys(KNOWN_GAPS).filter((k) => k.startsWith(`${bin.file} `)).map((k) => k.slice(bin.file.length + 1)));
    const missing = [...expected].filter((k) => !got.has(k) && !gaps.has(k));
    const nowFound = [...gaps].filter((k) => got.has(k));
    const extra = [...got].filter((k) => !expected.has(k));
    expect({ missing, extra, nowFound, unresolved: missing.length ? r.unresolved : [] }).toEqual({ missing: [], extra: [], nowFound: [], unresolved: [] });
  });

  it('keeps the classified strings the fixture embeds', async () => {
    const buf = readFileSync(join(fixtures, bin.file));
    const r = await extractEvidence(buf, readPe(buf));
    const texts = new Set(r.strings.map((s) => `${s.encoding}:${s.text}`));
    for (const s of bin.strings.utf16.filter((x) => x.startsWith('\\'))) expect(texts).toContain(`utf16:${s}`);
    for (const s of bin.strings.ascii.filter((x) => x.startsWith('http'))) expect(texts).toContain(`ascii:${s}`);
  });
});

describe('recall and precision over all fixtures', () => {
  it('misses no more than the known gaps and invents nothing', async () => {
    let expected = 0;
    let found = 0;
    for (const bin of manifest.binaries) {
      const buf = readFileSync(join(fixtures, bin.file));
      const r = await extractEvidence(buf, readPe(buf));
      const base = BigInt(bin.imageBase);
      const got = new Set(r.evidence.map((e) => key(e.ulong, e.routine, e.callSiteRva)));
      for (const t of bin.tags) for (const s of t.sites) {
        expected++;
        if (got.has(key(t.ulong, t.routine, Number(BigInt(s.va) - base)))) found++;
      }
    }
    expect(expected - found).toBe(Object.keys(KNOWN_GAPS).length);
  });
});

describe('evidence records', () => {
  it('carries kind, architecture, recovery and confidence', async () => {
    const bin = manifest.binaries.find((b) => b.file === 'bin/x64-clang-O2/core.sys')!;
    const buf = readFileSync(join(fixtures, bin.file));
    const r = await extractEvidence(buf, readPe(buf));
    const ap = r.evidence.find((e) => e.tag === 'FxAp')!;
    expect(ap).toMatchObject({ kind: 'pool', routine: 'ExAllocatePoolWithTag', module: 'ntoskrnl.exe', arch: 'x64', recovery: 'immediate', confidence: 'high', ulong: '0x70417846' });
    expect(ap.functionRva).toBeTypeOf('number');
    const none = r.evidence.find((e) => e.routine === 'ExAllocatePool')!;
    expect(none).toMatchObject({ tag: 'None', shared: true, recovery: 'shared' });
    const wrapped = r.evidence.filter((e) => e.recovery === 'wrapper');
    expect(wrapped.length).toBeGreaterThan(0);
    for (const w of wrapped) expect(w.wrappers!.length).toBeGreaterThan(0);
    const obj = r.evidence.find((e) => e.routine === 'ObfReferenceObjectWithTag')!;
    expect(obj.kind).toBe('object');
  });
});

describe('output hygiene', () => {
  it('gives every call site one outcome and every (site, routine, tag) one record', async () => {
    for (const bin of manifest.binaries) {
      const buf = readFileSync(join(fixtures, bin.file));
      const r = await extractEvidence(buf, readPe(buf));
      const ev = r.evidence.filter((e) => e.recovery !== 'string' && e.recovery !== 'raw-bytes');
      const keys = ev.map((e) => key(e.ulong, e.routine, e.callSiteRva));
      expect(new Set(keys).size, bin.file).toBe(keys.length);
      const resolved = new Set(ev.map((e) => `${e.routine}@${e.callSiteRva}`));
      expect(r.unresolved.filter((u) => resolved.has(`${u.routine}@${u.callSiteRva}`)), bin.file).toEqual([]);
    }
  });

  // ExFreePoolWithTag(p, 0) / ExFreePool2(p, 0, ...) mean "no tag check": the fixtures' free
  // sites, with the tag immediate patched to 0 in the real bytes, give no tag and no miss.
  it.each(['bin/x64-clang-O2/core.sys', 'bin/x86-clang-O2/core.sys', 'bin/x86-mingw-O0/core.sys', 'bin/x64-mingw-O0/core.sys'])('%s: a free with tag 0 is no tag; a nonzero free tag stays', async (file) => {
    const bin = manifest.binaries.find((b) => b.file === file)!;
    const orig = readFileSync(join(fixtures, file));
    const image = readPe(orig);
    const base = BigInt(bin.imageBase);
    const frees = bin.tags.filter((t) => t.routine === 'ExFreePoolWithTag' || t.routine === 'ExFreePool2');
    const buf = Buffer.from(orig);
    const zeroed: { routine: string; rva: number }[] = [];
    for (const t of frees) {
      const imm = Buffer.alloc(4);
      imm.writeUInt32LE(Number(t.ulong) >>> 0);
      for (const s of t.sites) {
        const rva = Number(BigInt(s.va) - base);
        const sec = image.sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + x.rawSize)!;
        const off = rva - sec.virtualAddress + sec.rawOffset;
        // The tag immediate (`mov edx, imm32`, `push imm32`, `mov [esp+4], imm32`) just above the call.
        const at = buf.subarray(off - 48, off).lastIndexOf(imm);
        if (at < 0 || t.tag === 'FxPt') continue; // keep the protected free as the nonzero check
        buf.writeUInt32LE(0, off - 48 + at);
        zeroed.push({ routine: t.routine, rva });
      }
    }
    expect(zeroed.length).toBeGreaterThan(0);
    const r = await extractEvidence(buf, readPe(buf));
    for (const z of zeroed) {
      expect(r.evidence.filter((e) => e.callSiteRva === z.rva && e.routine === z.routine)).toEqual([]);
      expect(r.unresolved.filter((u) => u.callSiteRva === z.rva && u.routine === z.routine)).toEqual([]);
    }
    expect(r.evidence.some((e) => e.routine === 'ExFreePoolWithTag' && e.ulong === '0xf4507846')).toBe(true);
    expect(r.evidence.some((e) => e.ulong === '0x00000000')).toBe(false);
  });
});

describe('x86 function bounds without .pdata', () => {
  // The fixtures' x86 builds have no .pdata: every call site of one C function must get the
  // same function start, different functions different starts, and the start must lie at or
  // above the instruction that sets the tag (MSVC-style 0xCC/0xC3 bytes inside instructions,
  // gcc's functions back to back after `ret`, clang's nop padding).
  it.each(manifest.binaries.filter((b) => b.arch === 'x86').map((b) => [b.file, b] as const))('%s', async (_f, bin) => {
    const buf = readFileSync(join(fixtures, bin.file));
    const r = await extractEvidence(buf, readPe(buf));
    const base = BigInt(bin.imageBase);
    const byName = new Map<string, Set<number | null>>();
    const byStart = new Map<number | null, Set<string>>();
    for (const t of bin.tags) {
      for (const s of t.sites as { va: string; fn: string; tagAt?: string }[]) {
        const rva = Number(BigInt(s.va) - base);
        const e = r.evidence.find((x) => x.callSiteRva === rva && x.routine === t.routine);
        if (!e) continue; // a known gap
        expect(e.functionRva, `${t.tag} in ${s.fn}`).not.toBeNull();
        if (s.tagAt && !t.wrapper) expect(e.functionRva!, `${t.tag} in ${s.fn}`).toBeLessThanOrEqual(Number(BigInt(s.tagAt) - base));
        if (!byName.has(s.fn)) byName.set(s.fn, new Set());
        byName.get(s.fn)!.add(e.functionRva);
        if (!byStart.has(e.functionRva)) byStart.set(e.functionRva, new Set());
        byStart.get(e.functionRva)!.add(s.fn);
      }
    }
    for (const [fn, starts] of byName) expect(starts.size, fn).toBe(1);
    for (const [start, fns] of byStart) expect(fns.size, `0x${start?.toString(16)}`).toBe(1);
  });

  it('keeps the stack pointer across an epilogue in the middle of a function', () => {
    // push ebp; mov ebp,esp; sub esp,10h; push esi (saved, not an argument); push eax;
    // call [imp]; test eax,eax; jae L1; pop esi; mov esp,ebp; pop ebp; ret 0Ch;
    // L1: lea esp,[esp]; push '3PWA'; push 40h; mov [ebp-10h],cx; push 0; call [imp];
    // pop esi; mov esp,ebp; pop ebp; ret 0Ch;            (no jump reaches what follows)
    // push 'ABCD'; push 1; push 0; call [imp]
    const imp = [0x00, 0x20, 0x01, 0x00];
    const code = Uint8Array.from([
      0x55, 0x8b, 0xec, 0x83, 0xec, 0x10, 0x56, 0x50, 0xff, 0x15, ...imp, 0x85, 0xc0, 0x73, 0x07,
      0x5e, 0x8b, 0xe5, 0x5d, 0xc2, 0x0c, 0x00,
      0x8d, 0x24, 0x24, 0x68, 0x41, 0x57, 0x50, 0x33, 0x6a, 0x40, 0x66, 0x89, 0x4d, 0xf0, 0x6a, 0x00, 0xff, 0x15, ...imp,
      0x5e, 0x8b, 0xe5, 0x5d, 0xc2, 0x0c, 0x00,
      0x68, 0x44, 0x43, 0x42, 0x41, 0x6a, 0x01, 0x6a, 0x00, 0xff, 0x15, ...imp,
    ]);
    const l = lowerX86({ bitness: 32, imageBase: 0x10000n, sizeOfImage: 0x3000 }, code, 0x1000, 0x1000, 0x1000 + code.length);
    const abi = x86Abi(32, () => null, () => true, () => false);
    const calls = l.insns.map((x, i) => [x, i] as const).filter(([x]) => x.call);
    expect(calls.length).toBe(3);
    const tags = calls.slice(1).map(([x, i]) => resolve(l, i, x86ArgLoc(3, x.sp)!, abi));
    expect(tags.map((t) => (t.k === 'const' && 'v' in t ? t.v.toString(16) : t.k))).toEqual(['33505741', '41424344']);
  });
});

describe('backward walk across branches', () => {
  // llvm-mc --triple=x86_64 (Intel syntax), at RVA 0x1000:
  //   0x00 mov r8d, 6C416553h ; test ecx, ecx ; jne A ; call [rip+1000h] ; ret
  //   0x11 A: mov ecx, 200h ; call [rip+1000h]           r8 comes from 0x00, not the call at 0x0a
  //   0x1c lea rbx, [rdi+10h] ; jmp C
  //   0x22 B: mov rcx, [rbx] ; call [rip+1000h]          rdx comes from C (a rotated loop)
  //   0x2b C: xor edx, edx ; cmp [rbx], rbx ; jne B ; ret
  const code = Uint8Array.from([
    0x41, 0xb8, 0x53, 0x65, 0x41, 0x6c, 0x85, 0xc9, 0x75, 0x07, 0xff, 0x15, 0x00, 0x10, 0x00, 0x00, 0xc3, 0xb9, 0x00, 0x02, 0x00, 0x00, 0xff, 0x15, 0x00, 0x10,
    0x00, 0x00, 0x48, 0x8d, 0x5f, 0x10, 0xeb, 0x09, 0x48, 0x8b, 0x0b, 0xff, 0x15, 0x00, 0x10, 0x00, 0x00, 0x31, 0xd2, 0x48, 0x39, 0x1b, 0x75, 0xf0, 0xc3,
  ]);
  const l = lowerX86({ bitness: 64, imageBase: 0x140000000n, sizeOfImage: 0x3000 }, code, 0x1000, 0x1000, 0x1000 + code.length);
  const abi = x86Abi(64, () => null, () => true, () => false);
  const at = (rva: number) => l.insns.findIndex((x) => x.rva === rva);

  it('continues at the only branch into code that follows a ret', () => {
    expect(resolve(l, at(0x1016), 'r8', abi)).toMatchObject({ k: 'const', v: 0x6c416553 });
  });
  it("follows a rotated loop's back edge to the loop condition", () => {
    expect(resolve(l, at(0x1025), 'rdx', abi)).toMatchObject({ k: 'const', v: 0 });
  });
});

describe('prefilter: only real operand forms are references', () => {
  // x64 reaches a cell through a RIP-relative operand only, its ModRM (mod 00, r/m 101) right
  // before the displacement; x86 by its absolute address only. Four bytes elsewhere that
  // happen to equal `slot - next` (an immediate, data in code: VBoxUSB's `cmp ecx, 4000000h`,
  // vpn_driver6's `imul ecx, ecx, 644h`) are no reference: no candidate, no "address used but
  // no call followed".
  it.each(['bin/x64-clang-O2/core.sys', 'bin/x86-clang-O2/core.sys'])('%s: an immediate equal to slot - next is no reference', async (file) => {
    const bin = manifest.binaries.find((b) => b.file === file)!;
    const orig = readFileSync(join(fixtures, file));
    const image = readPe(orig);
    const slot = image.imports.flatMap((m) => m.functions).find((f) => f.name === 'ExAllocatePoolWithTag')!.iatRva;
    const before = await extractEvidence(orig, image);
    // The tag immediate of FxAp's call (`mov r8d, imm32` / `push imm32`: an opcode byte before it, no ModRM).
    const ap = bin.tags.find((t) => t.tag === 'FxAp')!;
    const rva = Number(BigInt(ap.sites[0].va) - BigInt(bin.imageBase));
    const sec = image.sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + x.rawSize)!;
    const off = rva - sec.virtualAddress + sec.rawOffset;
    const imm = Buffer.alloc(4);
    imm.writeUInt32LE(Number(ap.ulong) >>> 0);
    const at = off - 48 + orig.subarray(off - 48, off).lastIndexOf(imm);
    expect(at).toBeGreaterThan(off - 48);
    expect(orig[at - 1] & 0xc7).not.toBe(0x05);
    const buf = Buffer.from(orig);
    const immRva = at - sec.rawOffset + sec.virtualAddress;
    buf.writeInt32LE(slot - (immRva + 4), at); // now `next + disp` names the slot
    const r = await extractEvidence(buf, readPe(buf));
    expect(r.stats!.candidates).toBe(before.stats!.candidates);
    expect(r.unresolved.filter((u) => u.reason.includes(`0x${immRva.toString(16)}`))).toEqual([]);
  });
});

describe('a wrapper that no call reaches', () => {
  // shapes-x64.s's ShChain: with the chain flag cleared from its fragment's unwind info, the
  // fragment reads as a function of its own whose third parameter reaches
  // ExAllocatePoolWithTag: a wrapper that nothing calls. Its call site must be reported,
  // not dropped as "forwarded".
  it('gives its call site an unresolved entry with the reason', async () => {
    const file = 'bin/x64-asm/shapes.sys';
    const orig = readFileSync(join(fixtures, file));
    const img = readPe(orig);
    const frag = img.functions.find((f) => f.chainedTo !== undefined)!;
    const pdata = img.sections.find((s) => s.name === '.pdata')!;
    let entry = -1;
    for (let o = pdata.rawOffset; o + 12 <= pdata.rawOffset + pdata.rawSize; o += 12) if (orig.readUInt32LE(o) === frag.begin) entry = o;
    const unwindRva = orig.readUInt32LE(entry + 8);
    const sec = img.sections.find((x) => unwindRva >= x.virtualAddress && unwindRva < x.virtualAddress + x.rawSize)!;
    const buf = Buffer.from(orig);
    buf[unwindRva - sec.virtualAddress + sec.rawOffset] &= ~(0x4 << 3); // UNW_FLAG_CHAININFO off
    const r = await extractEvidence(buf, readPe(buf));
    const site = (await extractEvidence(orig, img)).evidence.find((e) => e.tag === 'ShCh')!.callSiteRva;
    expect(r.evidence.filter((e) => e.callSiteRva === site)).toEqual([]);
    expect(r.unresolved.filter((u) => u.callSiteRva === site)).toEqual([
      { routine: 'ExAllocatePoolWithTag', callSiteRva: site, functionRva: frag.begin, reason: `the tag is parameter 3 of the function at 0x${frag.begin.toString(16)}, and no call the analysis followed reaches that function (called through a pointer?)` },
    ]);
  });
});

describe('a field user that no call reaches', () => {
  // flow.c's CacheAlloc(c) passes c->Tag; its callers' InitCache calls hold the tags. With
  // every `call CacheAlloc` turned into a call of the next instruction, CacheAlloc's own
  // call site must be reported, not dropped.
  it('gives its call site an unresolved entry with the reason', async () => {
    const file = 'bin/x64-clang-O2/flow.sys';
    const orig = readFileSync(join(fixtures, file));
    const img = readPe(orig);
    const before = await extractEvidence(orig, img);
    const cacheAlloc = before.evidence.find((e) => e.tag === 'Cach')!.wrappers![0];
    const text = img.sections.find((s) => s.name === '.text')!;
    const buf = Buffer.from(orig);
    let patched = 0;
    for (let o = text.rawOffset; o + 5 <= text.rawOffset + text.rawSize; o++) {
      if (buf[o] !== 0xe8) continue;
      const next = o - text.rawOffset + text.virtualAddress + 5;
      if (next + buf.readInt32LE(o + 1) !== cacheAlloc) continue;
      buf.writeInt32LE(0, o + 1);
      patched++;
    }
    expect(patched).toBeGreaterThan(0);
    const r = await extractEvidence(buf, readPe(buf));
    expect(r.evidence.filter((e) => e.tag === 'Cach' || e.tag === 'Cah2')).toEqual([]);
    const lost = r.unresolved.filter((u) => u.functionRva === cacheAlloc);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toMatch(new RegExp(`^the tag is field \\+0x[0-9a-f]+ of the structure that parameter 1 of the function at 0x${cacheAlloc.toString(16)} points at, and no call the analysis followed reaches that function`));
  });
});

describe('function bounds with chained fragments', () => {
  // The real fixture (shapes-x64.s ShChain) is checked above; here the odd chains a hostile
  // or broken table can hold, on the .pdata list alone: a fragment that lies before its
  // root, or too far from it, is left out of the root's parts, and a reference in it must
  // get the fragment as its function, not the root (which does not hold it).
  const view = (functions: FunctionRange[]) =>
    new ImageView(Buffer.alloc(0), { sections: [], imports: [], exports: [], functions, headers: { sizeOfHeaders: 0x400, imageBase: 0x140000000n } } as unknown as PeImage);
  const v = view([
    { begin: 0x1000, end: 0x1100, chainedTo: 0x2000 }, // before its root
    { begin: 0x2000, end: 0x2100 },
    { begin: 0x2100, end: 0x2180, chainedTo: 0x2000 }, // a real fragment
    { begin: 0x40000, end: 0x40100, chainedTo: 0x2000 }, // beyond MAX_CHAINED_SPAN
  ]);
  it('takes a root with its fragments', () => {
    const whole = { start: 0x2000, end: 0x2180, knownStart: true, parts: [[0x2000, 0x2100], [0x2100, 0x2180]] };
    expect(v.pdataFunction(0x2050)).toEqual(whole);
    expect(v.pdataFunction(0x2150)).toEqual(whole);
  });
  it('leaves a fragment before its root, or too far after it, a function of its own', () => {
    expect(v.pdataFunction(0x1050)).toEqual({ start: 0x1000, end: 0x1100, knownStart: true });
    expect(v.pdataFunction(0x40050)).toEqual({ start: 0x40000, end: 0x40100, knownStart: true });
  });
});
