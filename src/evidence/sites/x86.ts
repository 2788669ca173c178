/**
 * x86/x64 call-site discovery: the byte prefilter (RIP-relative, absolute and rel32
 * references to the targets), import thunks, and function bounds (`.pdata`, else a linear
 * sweep with the table-driven decoder `decode/x86-fast.ts`). The lowering is in `lower/x86.ts`.
 */
import type { Backend, CodeFunction, References } from './backend.js';
import { ImageView } from './backend.js';
import { lowered, type Insn, type LoweredFunction } from '../ir.js';
import {
  decodeX86,
  F_ADDR_SIZE,
  F_BRANCH,
  F_FLOW,
  F_MEM_BASE,
  F_MEM_DISP,
  F_MEM_DISP_HI,
  F_MEM_INDEX,
  F_MEM_SCALE,
  F_MN,
  F_OP0_KIND,
  F_OP0_REG,
  F_OP0_SIZE,
  F_OP1_KIND,
  F_TARGET,
  FLOW_CALL,
  FLOW_INDIRECT_BRANCH,
  FLOW_RETURN,
  FLOW_UNCONDITIONAL,
  MN_INT3,
  MN_LEA,
  MN_NOP,
  MN_OTHER,
  OK_MEM,
  OK_REG,
  R_NONE,
  x86Out,
} from '../decode/x86-fast.js';
import { lowerX86, x64ArgLoc, x86Abi, x86ArgLoc } from '../lower/x86.js';
import { resolveJumpTables } from '../jumptables.js';

/** How far back a window may start from the reference when there is no `.pdata`. */
const WINDOW_BACK = 8192;

/** The instructions inside one of `parts` (`[lo, hi)` RVAs), in order: a plain loop, no closure or array destructuring per instruction. */
function inParts(insns: Insn[], parts: readonly (readonly [number, number])[]): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < insns.length; i++) {
    const rva = insns[i].rva;
    for (let k = 0; k < parts.length; k++) {
      if (rva >= parts[k][0] && rva < parts[k][1]) {
        out.push(insns[i]);
        break;
      }
    }
  }
  return out;
}

export class X86Backend implements Backend {
  readonly arch;
  readonly ptrSize: 4 | 8;
  readonly abi;
  private readonly bitness: 32 | 64;
  private readonly sweeps = new Map<number, Sweep>();
  /** Function starts in a gap between `.pdata` functions (offsets from the gap start), by the gap's section offset. */
  private readonly gaps = new Map<number, number[]>();

  constructor(private readonly view: ImageView) {
    this.bitness = view.image.headers.arch === 'x64' ? 64 : 32;
    this.arch = view.image.headers.arch;
    this.ptrSize = this.bitness === 64 ? 8 : 4;
    this.abi = x86Abi(this.bitness, (rva, size) => view.read(rva, size), (rva) => view.importSlots.has(rva), (rva) => view.isWritable(rva));
  }

  argLoc(n: number, sp: number | null, wideArgs: readonly number[], convention: 'stdcall' | 'fastcall' = 'stdcall') {
    if (this.bitness === 64) return x64ArgLoc(n, sp);
    if (convention === 'fastcall') {
      if (n <= 2) return n === 1 ? 'rcx' : 'rdx';
      n -= 2;
    }
    let slot = n;
    for (const w of wideArgs) if (w < n) slot++;
    return x86ArgLoc(slot, sp);
  }

  vaToRva(v: number): number | null {
    if (this.bitness === 64) return v >>> 0; // RIP-relative values are already RVAs
    const rva = ((v >>> 0) - this.view.base32) >>> 0;
    return rva < this.view.image.headers.sizeOfImage ? rva : null;
  }

  readPointerRva(rva: number): number | null {
    return this.view.pointerRva(rva, this.ptrSize);
  }

  lower(fn: CodeFunction): LoweredFunction {
    const s = this.view.map.sectionOf(fn.start);
    if (!s) return lowered(fn.start, [], undefined);
    const h = this.view.image.headers;
    const img = { bitness: this.bitness, imageBase: h.imageBase, sizeOfImage: h.sizeOfImage };
    const b = this.view.sectionBytes(s);
    let l = lowerX86(img, b, s.virtualAddress, fn.start, fn.end);
    if (this.view.image.functions.length > 0) return this.withColdParts(l, fn, b, s.virtualAddress, img);
    // Without `.pdata`, a conditional branch past the window's end that lands on no known
    // function start reaches a chunk of this function placed further on (gcc's cold
    // parts, a block after the padding that follows a `ret`): decode up to that chunk's
    // end, a few times at most and never past MAX_FUNCTION.
    // The code between belongs to other functions: it is decoded (so that the stack state
    // reaches the chunk through its branch) but left out of the result.
    const sw = this.sweepOf(s.virtualAddress, b);
    const va = s.virtualAddress;
    const parts: [number, number][] = [[fn.start, fn.end]];
    for (let round = 0; round < 4; round++) {
      const last = parts[parts.length - 1][1];
      const far = (l.exits ?? []).filter((t) => t >= last && t - fn.start < MAX_FUNCTION && !sw.callStarts.has(t - va));
      if (far.length === 0) break;
      const t = Math.min(...far);
      const k = upperBound(sw.starts, t - va);
      const end = va + Math.min(b.length, k < sw.starts.length ? sw.starts[k] : b.length, fn.start - va + MAX_FUNCTION);
      if (end <= t) break;
      parts.push([t, end]);
      l = lowerX86(img, b, va, fn.start, end);
    }
    if (parts.length > 1) l = lowered(l.start, inParts(l.insns, parts), l.exits);
    return this.withTables(l, fn.start, parts[parts.length - 1][1]);
  }

  /**
   * x64 with `.pdata`: MSVC's fragments with chained unwind info come as `fn.parts` and are
   * kept with the function (the code between them is other functions').
   * gcc's cold parts (`FlowSwitch.cold`) have unwind entries of their own,
   * but they are pieces of the function: entered by a conditional branch out of it, and
   * jumping back into it. Such a part, placed after the function and within `MAX_FUNCTION`,
   * is decoded with it (the stretch between is decoded, for the stack state the branch
   * carries, and left out), so that what it sets reaches the join it jumps back to.
   */
  private withColdParts(l: LoweredFunction, fn: CodeFunction, b: Uint8Array, va: number, img: { bitness: 32 | 64; imageBase: bigint; sizeOfImage: number }): LoweredFunction {
    // The function's chained fragments (`CodeFunction.parts`), then its cold parts.
    const parts: [number, number][] = fn.parts ? fn.parts.map(([lo, hi]) => [lo, hi]) : [[fn.start, fn.end]];
    const chained = parts.length;
    for (const t of l.exits ?? []) {
      if (parts.length > chained + 3) break;
      const p = this.view.pdataFunction(t);
      if (!p || p.start !== t || t < fn.end || p.end - fn.start > MAX_FUNCTION || parts.some(([lo]) => lo === t)) continue;
      const part = lowerX86(img, b, va, p.start, p.end);
      const back = part.insns.some((x) => x.tail && x.call?.k === 'direct' && x.call.rva >= fn.start && x.call.rva < fn.end);
      if (back) parts.push([p.start, p.end]);
    }
    if (parts.length === 1) return this.withTables(l, fn.start, fn.end);
    const end = Math.max(...parts.map(([, hi]) => hi));
    const whole = end > fn.end ? lowerX86(img, b, va, fn.start, end) : l;
    const kept = lowered(whole.start, inParts(whole.insns, parts), whole.exits);
    return this.withTables(kept, fn.start, fn.end);
  }

  /** The function's jump tables read (`jumptables.ts`): their cases become edges of the graph. */
  private withTables(l: LoweredFunction, start: number, end: number): LoweredFunction {
    resolveJumpTables(l, start, end, this);
    return l;
  }

  /**
   * The prefilter: one pass over the executable bytes. At every offset the 4 bytes are
   * read as a displacement: `next + disp` (RIP-relative operands after their ModRM on x64;
   * `call/jmp rel32` to code targets) or, for cells on x86, the value itself as a VA
   * (absolute operands) is checked against the targets.
   * Only the functions with a hit are decoded later.
   */
  findReferences(targets: ReadonlySet<number>, options: { direct?: boolean; exact?: boolean } = {}): References {
    const functions = new Map<number, CodeFunction>();
    const thunks: { rva: number; slot: number }[] = [];
    const refs: { at: number; target: number }[] = [];
    if (targets.size === 0) return { functions: [], thunks, refs };
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of targets) {
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    const direct = options.direct === true;
    const mode = direct ? SCAN_REL32 : this.bitness === 32 ? SCAN_ABS32 : SCAN_RIP;
    const hits = hitScratch;
    for (const s of this.view.code) {
      const b = this.view.sectionBytes(s);
      const va = s.virtualAddress;
      // One tight loop per operand form, into a reused buffer of (offset, target) pairs.
      const n = scanOperands(mode, b, va, this.view.base32, lo, hi, targets, hits);
      for (let h = 0; h < n; h += 2) {
        const i = hits.buf[h];
        const hit = hits.buf[h + 1] >>> 0;
        const at = va + i;
        // `jmp [slot]` (FF 25) outside any function body that starts a piece of code: an
        // import thunk. The same jump at the end of a leaf (which has no `.pdata` either) is
        // a tail call of the routine, and its function is analysed like any other.
        if (i >= 2 && b[i - 2] === 0xff && b[i - 1] === 0x25 && !this.view.pdataFunction(at)) {
          const start = i - (i >= 3 && (b[i - 3] & 0xf0) === 0x40 ? 3 : 2);
          if (startsCode(b, start)) {
            thunks.push({ rva: va + start, slot: hit });
            continue;
          }
        }
        refs.push({ at, target: hit });
        const fn = this.functionAt(at, b, va);
        if (fn && !functions.has(fn.start)) functions.set(fn.start, fn);
        else if (fn) {
          const f = functions.get(fn.start)!;
          f.end = Math.max(f.end, fn.end);
        }
      }
    }
    return { functions: [...functions.values()], thunks, refs };
  }

  functionStartingAt(rva: number): CodeFunction | null {
    const p = this.view.pdataFunction(rva);
    if (p) return p.start === rva ? p : null;
    const s = this.view.map.sectionOf(rva);
    if (!s || !s.executable || s.rawSize === 0) return null;
    const b = this.view.sectionBytes(s);
    const va = s.virtualAddress;
    if (rva - va >= b.length) return null;
    if (this.view.image.functions.length > 0) {
      const g = this.gapFunction(rva, b, va);
      return { ...g, start: rva };
    }
    const sw = this.sweepOf(va, b);
    const k = upperBound(sw.starts, rva - va);
    const end = Math.min(k < sw.starts.length ? sw.starts[k] : b.length, rva - va + MAX_FUNCTION);
    return { start: rva, end: va + end, knownStart: true };
  }

  /** The function that holds the reference at `rva`: `.pdata`, or bounds from a linear sweep. */
  private functionAt(rva: number, b: Uint8Array, va: number): CodeFunction | null {
    const p = this.view.pdataFunction(rva);
    if (p) return p;
    if (this.view.image.functions.length > 0) return this.gapFunction(rva, b, va);
    const sw = this.sweepOf(va, b);
    const i = rva - va;
    // The instruction holding the reference (the operand is at most 11 bytes into it).
    let insn = i;
    while (insn > 0 && i - insn < 12 && !sw.boundary[insn]) insn--;
    if (!sw.boundary[insn]) insn = i;
    const pdataFloor = this.view.previousPdataEnd(rva) - va;
    const floor = Math.max(0, i - WINDOW_BACK, pdataFloor);
    // The nearest function start at or before the instruction, and the next one after it.
    const k = upperBound(sw.starts, insn) - 1;
    let start = k >= 0 ? sw.starts[k] : -1;
    let knownStart = start >= 0 && start >= pdataFloor && i - start <= MAX_FUNCTION;
    if (!knownStart) {
      // No start in reach: begin at the first instruction boundary after the floor.
      start = floor;
      while (start < insn && !sw.boundary[start]) start++;
      knownStart = start === 0;
    }
    const next = k + 1 < sw.starts.length ? sw.starts[k + 1] : b.length;
    // The window ends where the next function starts (a pointer loaded from the IAT may be
    // called much later in the function: gcc and clang at -O2 hoist it).
    const end = Math.max(Math.min(b.length, next, i + MAX_FUNCTION), Math.min(b.length, i + 4));
    return { start: va + start, end: va + end, knownStart };
  }

  /**
   * A reference between two `.pdata` functions (x64 leaves need no unwind entry): the gap
   * alone is swept, and the function is the stretch from the start at or before the
   * reference (the gap's first instruction, a call target, code after a `ret`/`jmp` and
   * padding) to the next one.
   */
  private gapFunction(rva: number, b: Uint8Array, va: number): CodeFunction {
    const hi = Math.min(b.length, this.view.nextPdataStart(rva) - va);
    let lo = Math.max(0, this.view.previousPdataEnd(rva) - va);
    while (lo < rva - va && (b[lo] === 0xcc || b[lo] === 0x90)) lo++; // the padding after the previous function
    let g = this.gaps.get(lo);
    if (!g) {
      // Between `.pdata` functions are leaves only: a tail `jmp` then alignment is a function's end too.
      const sw = sweepSection(this.bitness, b.subarray(lo, hi), va + lo, new Set([0]), true);
      const starts = new Set<number>([0, ...sw.afterTerminator]);
      for (const [t] of sw.callTargets) if (sw.boundary[t]) starts.add(t);
      g = [...starts].sort((x, y) => x - y);
      this.gaps.set(lo, g);
    }
    const k = upperBound(g, rva - va - lo) - 1;
    const start = lo + g[Math.max(0, k)];
    const end = k + 1 < g.length ? lo + g[k + 1] : hi;
    return { start: va + start, end: va + Math.max(end, rva - va + 4), knownStart: true };
  }

  /**
   * Function starts and instruction boundaries of one code section, from a linear sweep
   * (x86 has no `.pdata`). A start is the entry point or an export; the target
   * of a decoded `call rel32` that the sweep reaches as an instruction (or that two calls
   * name); or, after an unconditional `ret`/`jmp`, the next instruction when int3 padding
   * lies between (MSVC), when nops pad up to a 16-byte boundary after a `ret` (gcc), or when
   * it is a frame prologue (`push ebp; mov ebp, esp`, `mov edi, edi` first). A single
   * 0xC3/0xCC byte inside an instruction (a ModRM, a displacement, an immediate) is never a
   * boundary. A second sweep resynchronises at the starts the first found, so code that
   * follows data in the section (jump tables) is decoded from its real first instruction.
   */
  private sweepOf(va: number, b: Uint8Array): Sweep {
    let sw = this.sweeps.get(va);
    if (sw) return sw;
    const known = new Set<number>();
    for (const r of this.view.knownStarts()) if (r >= va && r < va + b.length) known.add(r - va);
    const first = sweepSection(this.bitness, b, va, known);
    const anchors = new Set<number>(known);
    for (const [t, n] of first.callTargets) if (first.boundary[t] || n >= 2) anchors.add(t);
    for (const t of first.afterTerminator) anchors.add(t);
    // The second sweep differs only where an anchor fell inside an instruction of the first.
    const second = [...anchors].every((a) => first.boundary[a] === 1) ? first : sweepSection(this.bitness, b, va, anchors);
    const callStarts = new Set<number>(known);
    for (const [t, n] of second.callTargets) if (second.boundary[t] || n >= 2) callStarts.add(t);
    const starts = new Set<number>(callStarts);
    for (const t of second.afterTerminator) starts.add(t);
    sw = { boundary: second.boundary, starts: [...starts].sort((x, y) => x - y), callStarts };
    this.sweeps.set(va, sw);
    return sw;
  }
}

interface Sweep {
  /** 1 where an instruction starts (section offsets). */
  boundary: Uint8Array;
  /** Function starts (section offsets), ascending. */
  starts: number[];
  /** The starts that are entry points, exports or call targets (not merely code after a `ret`). */
  callStarts: Set<number>;
}

/**
 * Code starts at byte `o`: the section starts there, or padding (int3, nop), a `ret` (`ret n`), or
 * the previous import thunk (`jmp [slot]`, 6 bytes, optionally REX-prefixed) ends right
 * before it.
 */
function startsCode(b: Uint8Array, o: number): boolean {
  if (o === 0) return true;
  const p = b[o - 1];
  if (p === 0xcc || p === 0x90 || p === 0xc3 || (o >= 3 && b[o - 3] === 0xc2)) return true; // int3, nop, ret, ret imm16
  return (o >= 6 && b[o - 6] === 0xff && b[o - 5] === 0x25) || (o >= 7 && b[o - 7] === 0x48 && b[o - 6] === 0xff && b[o - 5] === 0x25);
}

/** The operand forms the prefilter looks for: `call/jmp rel32` to code; x64 RIP-relative; x86 absolute. */
const SCAN_REL32 = 0;
const SCAN_RIP = 1;
const SCAN_ABS32 = 2;

/** The prefilter's hits, (section offset, target) pairs, in one buffer reused for every section and image. */
const hitScratch = { buf: new Int32Array(1024) };

/**
 * The prefilter's byte loop over one code section: at every offset the 4 bytes are read as a
 * displacement, and a reference is recorded when what they name is a target:
 *   - SCAN_REL32: after an E8/E9 opcode (`call/jmp rel32`), `next + disp` (code targets: thunks, wrappers);
 *   - SCAN_RIP: after a RIP-relative ModRM (mod 00, r/m 101), `next + disp`: x64 reaches a cell
 *     through such an operand only, so four bytes that merely point at a slot are no reference;
 *   - SCAN_ABS32: the value itself as a VA (x86 has no RIP-relative operands: `next + disp`
 *     there would be a coincidence, such as an `imul` immediate).
 * Each form is a loop of its own, so that each stays small and its compiled code settles.
 * Returns the number of entries written to `hits.buf` (two per reference).
 */
function scanOperands(mode: number, b: Uint8Array, va: number, base32: number, lo: number, hi: number, targets: ReadonlySet<number>, hits: { buf: Int32Array }): number {
  if (mode === SCAN_REL32) return scanRel32(b, va, lo, hi, targets, hits);
  if (mode === SCAN_RIP) return scanRip(b, va, lo, hi, targets, hits);
  return scanAbs32(b, base32, lo, hi, targets, hits);
}

function pushHit(hits: { buf: Int32Array }, n: number, i: number, target: number): number {
  if (n + 2 > hits.buf.length) {
    const grown = new Int32Array(hits.buf.length * 2);
    grown.set(hits.buf);
    hits.buf = grown;
  }
  hits.buf[n] = i;
  hits.buf[n + 1] = target | 0;
  return n + 2;
}

function scanRel32(b: Uint8Array, va: number, lo: number, hi: number, targets: ReadonlySet<number>, hits: { buf: Int32Array }): number {
  let n = 0;
  const end = b.length - 3;
  for (let i = 1; i < end; i++) {
    if ((b[i - 1] & 0xfe) !== 0xe8) continue;
    const rel = (va + i + 4 + (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24))) >>> 0;
    if (rel >= lo && rel <= hi && targets.has(rel)) n = pushHit(hits, n, i, rel);
  }
  return n;
}

function scanRip(b: Uint8Array, va: number, lo: number, hi: number, targets: ReadonlySet<number>, hits: { buf: Int32Array }): number {
  let n = 0;
  const end = b.length - 3;
  for (let i = 1; i < end; i++) {
    if ((b[i - 1] & 0xc7) !== 0x05) continue;
    const rel = (va + i + 4 + (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24))) >>> 0;
    if (rel >= lo && rel <= hi && targets.has(rel)) n = pushHit(hits, n, i, rel);
  }
  return n;
}

function scanAbs32(b: Uint8Array, base32: number, lo: number, hi: number, targets: ReadonlySet<number>, hits: { buf: Int32Array }): number {
  let n = 0;
  const end = b.length - 3;
  for (let i = 0; i < end; i++) {
    const abs = (((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0) - base32) >>> 0;
    if (abs >= lo && abs <= hi && targets.has(abs)) n = pushHit(hits, n, i, abs);
  }
  return n;
}

/** A window never reaches further than this from the reference. */
const MAX_FUNCTION = 65536;

function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `push ebp; mov ebp, esp` (MSVC `8b ec`, gcc `89 e5`), optionally after `mov edi, edi`. */
function isPrologue(b: Uint8Array, j: number): boolean {
  if (b[j] === 0x8b && b[j + 1] === 0xff) j += 2;
  return b[j] === 0x55 && ((b[j + 1] === 0x8b && b[j + 2] === 0xec) || (b[j + 1] === 0x89 && b[j + 2] === 0xe5));
}

/**
 * One linear sweep over a section: instruction boundaries, `call rel32` targets (with the
 * number of calls), and the function starts that follow an unconditional `ret`/`jmp`.
 * Decoding restarts at every anchor the previous instruction would straddle. `leaves`: the
 * stretch holds leaf functions only (between x64 `.pdata` entries), where a tail `jmp` followed
 * by nops up to a 16-byte boundary also ends a function (inside a function it may be a loop's
 * alignment, so elsewhere it does not count).
 */
function sweepSection(bitness: 32 | 64, b: Uint8Array, va: number, anchors: ReadonlySet<number>, leaves = false): { boundary: Uint8Array; callTargets: Map<number, number>; afterTerminator: number[] } {
  const boundary = new Uint8Array(b.length + 1);
  const callTargets = new Map<number, number>();
  const afterTerminator: number[] = [];
  const sorted = [...anchors].sort((p, q) => p - q);
  let nextAnchor = 0;
  const out = sweepOut;
  // After a ret or jmp: 'ret'/'jmp', and whether int3 or nops were skipped since.
  let term: 'ret' | 'jmp' | null = null;
  let int3 = false;
  let nops = false;
  let pos = 0;
  while (pos < b.length) {
    while (nextAnchor < sorted.length && sorted[nextAnchor] <= pos) nextAnchor++;
    const insLen = decodeX86(b, pos, b.length, bitness, va + pos, out, true);
    // An invalid instruction is one byte: the sweep moves on by one.
    const len = insLen || 1;
    // Resynchronise at an anchor this instruction would straddle.
    if (nextAnchor < sorted.length && pos + len > sorted[nextAnchor]) {
      pos = sorted[nextAnchor];
      term = null;
      continue;
    }
    boundary[pos] = 1;
    // Invalid bytes, int3 and ud2 are the `Exception` flow.
    const invalid = insLen === 0;
    const fc = out[F_FLOW];
    if (term) {
      // After a `ret`/`jmp`: padding (int3, nops) or the next function's first instruction.
      const mn = invalid ? MN_OTHER : out[F_MN];
      const isInt3 = mn === MN_INT3;
      const isNop = mn === MN_NOP || (mn === MN_LEA && isSelfLea(out));
      if (isInt3 || isNop) {
        if (isInt3) int3 = true;
        else nops = true;
      } else {
        if (!invalid && (int3 || ((term === 'ret' || (leaves && term === 'jmp')) && nops && ((va + pos) & 15) === 0) || isPrologue(b, pos))) afterTerminator.push(pos);
        term = null;
      }
    }
    if (!term) {
      if (fc === FLOW_RETURN) term = 'ret';
      else if (fc === FLOW_UNCONDITIONAL || fc === FLOW_INDIRECT_BRANCH) term = 'jmp';
      if (term) {
        int3 = false;
        nops = false;
      }
      if (fc === FLOW_CALL && (out[F_BRANCH] === 32 || out[F_BRANCH] === 64)) {
        const t = (out[F_TARGET] >>> 0) - va;
        if (t >= 0 && t < b.length) callTargets.set(t, (callTargets.get(t) ?? 0) + 1);
      }
    }
    pos += len;
  }
  return { boundary, callTargets, afterTerminator };
}

/** The sweep's decoded instruction (reused). */
const sweepOut = x86Out();

/** gcc's multi-byte nops: `lea esi, [esi+0]`, `lea edi, [edi*1+0]` (the register as wide as the address). */
function isSelfLea(out: Int32Array): boolean {
  const r = out[F_OP0_REG];
  if (out[F_OP0_KIND] !== OK_REG || out[F_OP1_KIND] !== OK_MEM || out[F_MEM_DISP] !== 0 || out[F_MEM_DISP_HI] !== 0) return false;
  if (out[F_OP0_SIZE] * 8 !== out[F_ADDR_SIZE]) return false;
  return (out[F_MEM_BASE] === r && out[F_MEM_INDEX] === R_NONE) || (out[F_MEM_BASE] === R_NONE && out[F_MEM_INDEX] === r && out[F_MEM_SCALE] === 1);
}
