/**
 * What the call-site engine needs from an architecture (capa-style backends: x86/x64 in
 * `sites/x86.ts`, ARM64 in `sites/arm64.ts`), plus the image access both share.
 */
import { AddressMap } from '../../pe/address.js';
import type { Arch, FunctionRange, PeImage, Section } from '../../pe/types.js';
import type { AbiInfo, Loc, LoweredFunction } from '../ir.js';

/** A stretch of code to decode: a `.pdata` function, or a window found by heuristics. */
export interface CodeFunction {
  start: number;
  end: number;
  /** The start is a real function start (from `.pdata`, a call target, an export). */
  knownStart: boolean;
  /**
   * The ranges that belong to the function when it is not one stretch (x64 fragments whose
   * unwind info is chained to it): it is decoded from `start` to `end` and the code between
   * the parts, other functions', is left out.
   */
  parts?: readonly (readonly [number, number])[];
}

/** A function and its chained fragments are taken together only within this span of its start. */
const MAX_CHAINED_SPAN = 65536;

export interface References {
  /** Functions holding a reference to one of the targets. */
  functions: CodeFunction[];
  /** Import thunks (`jmp [slot]`, ARM64 `adrp/ldr/br x16`) found among the references. */
  thunks: { rva: number; slot: number }[];
  /** Every reference found: `at` is the RVA of the referencing bytes (x86: the displacement; ARM64: the word), `target` what it names. */
  refs: { at: number; target: number }[];
}

export interface Backend {
  arch: Arch;
  ptrSize: 4 | 8;
  abi: AbiInfo;
  /** Functions and thunks that reference any of `targets` (RVAs of cells or code); `direct`: code targets, reached by direct calls and jumps only. */
  /**
   * `exact`: only references that name a target itself (ARM64: an `adrp` of its page counts only
   * when the code read forward loads or adds exactly the target, not when the page escapes).
   */
  findReferences(targets: ReadonlySet<number>, options?: { direct?: boolean; exact?: boolean }): References;
  lower(fn: CodeFunction): LoweredFunction;
  /** The function that starts at `rva` (a direct call's target): `.pdata`, else bounds found as for a reference. */
  functionStartingAt(rva: number): CodeFunction | null;
  /**
   * Location of argument `n` (1-based) at a call where the stack pointer is `sp`.
   * `wideArgs` and `convention` only matter on x86 (64-bit arguments take two stack
   * slots; fastcall passes arguments 1 and 2 in ecx and edx).
   */
  argLoc(n: number, sp: number | null, wideArgs: readonly number[], convention?: 'stdcall' | 'fastcall'): Loc | null;
  /** A constant that may be a VA (x86 absolute addresses): its RVA, or null. */
  vaToRva(v: number): number | null;
  /** Read a pointer stored in the image at `rva` and return what it points at as an RVA. */
  readPointerRva(rva: number): number | null;
}

/** Image access shared by the backends: bytes by RVA, sections, import slots, `.pdata`. */
export class ImageView {
  readonly map: AddressMap;
  readonly code: Section[];
  readonly importSlots: Set<number>;
  readonly base32: number;
  /** The upper 32 bits of the image base (`pointerRva` compares two halves: no bigint per cell). */
  private readonly baseHi: number;

  constructor(
    readonly buf: Buffer,
    readonly image: PeImage,
  ) {
    this.map = new AddressMap(image.sections, image.headers.sizeOfHeaders, buf.length);
    this.code = image.sections.filter((s) => s.executable && s.rawSize > 0);
    this.importSlots = new Set();
    for (const m of image.imports) for (const f of m.functions) this.importSlots.add(f.iatRva);
    this.base32 = Number(image.headers.imageBase & 0xffffffffn);
    this.baseHi = Number((image.headers.imageBase >> 32n) & 0xffffffffn);
  }

  /** Section bytes already cut (a view per lowered function was a steady trickle of garbage). */
  private readonly bytesOf = new Map<Section, Uint8Array>();

  /** The bytes of an executable section, and its RVA. */
  sectionBytes(s: Section): Uint8Array {
    let b = this.bytesOf.get(s);
    if (b === undefined) this.bytesOf.set(s, (b = this.buf.subarray(s.rawOffset, s.rawOffset + s.rawSize)));
    return b;
  }

  /** An unsigned 1-, 2- or 4-byte value at `rva`, or null (8-byte cells are read as two halves). */
  read(rva: number, size: number): number | null {
    const off = this.map.rvaToOffset(rva, size);
    if (off === null) return null;
    if (size === 4) return this.buf.readUInt32LE(off);
    if (size === 2) return this.buf.readUInt16LE(off);
    if (size === 1) return this.buf[off];
    return null;
  }

  isWritable(rva: number): boolean {
    const s = this.map.sectionOf(rva);
    return s !== null && (s.characteristics & 0x80000000) !== 0; // IMAGE_SCN_MEM_WRITE
  }

  /**
   * The `.pdata` function holding `rva`, by binary search. A fragment chained to another
   * entry (`FunctionRange.chainedTo`) is part of that function: the answer is the whole
   * function, its fragments as `parts`.
   */
  pdataFunction(rva: number): CodeFunction | null {
    const fns = this.image.functions;
    let lo = 0;
    let hi = fns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = fns[mid];
      if (rva < f.begin) hi = mid - 1;
      else if (rva >= f.end) lo = mid + 1;
      else return this.withFragments(f);
    }
    return null;
  }

  /** Functions with chained fragments, by start: the parts and where the last one ends (made on first use). */
  private fragments: Map<number, { parts: [number, number][]; end: number }> | null = null;

  /**
   * The function of the `.pdata` entry `f`: its root's, with every fragment, when `f` is a
   * root with fragments or a fragment taken with its root (within `MAX_CHAINED_SPAN`, after
   * it); else `f` alone.
   */
  private withFragments(f: FunctionRange): CodeFunction {
    if (!this.fragments) {
      this.fragments = new Map();
      const byBegin = new Map<number, FunctionRange>();
      for (const g of this.image.functions) byBegin.set(g.begin, g);
      for (const g of this.image.functions) {
        if (g.chainedTo === undefined) continue;
        const root = byBegin.get(g.chainedTo);
        if (!root || g.begin < root.begin || g.begin - root.begin >= MAX_CHAINED_SPAN) continue;
        let e = this.fragments.get(root.begin);
        if (!e) this.fragments.set(root.begin, (e = { parts: [[root.begin, root.end]], end: root.end }));
        const end = Math.min(g.end, root.begin + MAX_CHAINED_SPAN);
        e.parts.push([g.begin, end]);
        e.end = Math.max(e.end, end);
      }
    }
    const start = f.chainedTo ?? f.begin;
    const e = this.fragments.get(start);
    // A fragment left out of its root's parts (too far, or before it) stays a function of its own.
    if (!e || (f.chainedTo !== undefined && !e.parts.some(([lo]) => lo === f.begin))) return { start: f.begin, end: f.end, knownStart: true };
    return { start, end: e.end, knownStart: true, parts: e.parts };
  }

  /** The end of the last `.pdata` function that ends at or before `rva` (0 if none). */
  previousPdataEnd(rva: number): number {
    const fns = this.image.functions;
    let lo = 0;
    let hi = fns.length - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fns[mid].end <= rva) {
        best = Math.max(best, fns[mid].end);
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /** The start of the first `.pdata` function that begins after `rva` (the image size if none). */
  nextPdataStart(rva: number): number {
    const fns = this.image.functions;
    let lo = 0;
    let hi = fns.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (fns[mid].begin <= rva) lo = mid + 1;
      else hi = mid;
    }
    return lo < fns.length ? fns[lo].begin : this.image.headers.sizeOfImage;
  }

  /** The pointer stored at `rva` (a relocated VA in the file) as an RVA in this image, or null. */
  pointerRva(rva: number, size: 4 | 8): number | null {
    const off = this.map.rvaToOffset(rva, size);
    if (off === null) return null;
    // In halves: the structs' scan of the data sections reads every pointer-sized cell, and a
    // bigint per cell was 5% of what the engine allocated. The delta is in range only when the
    // upper halves differ by 0 or 1 (sizeOfImage < 2^32), and then it is exact as a number.
    const hi = (size === 8 ? this.buf.readUInt32LE(off + 4) : 0) - this.baseHi;
    if (hi !== 0 && hi !== 1) return null;
    const delta = hi * 0x100000000 + (this.buf.readUInt32LE(off) - this.base32);
    return delta >= 0 && delta < this.image.headers.sizeOfImage ? delta : null;
  }

  /** Known function starts without `.pdata`: entry point and exports. */
  knownStarts(): number[] {
    const out = [this.image.headers.entryPointRva];
    for (const e of this.image.exports) if (!e.forwarder) out.push(e.rva);
    return out;
  }
}
