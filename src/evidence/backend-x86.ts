/**
 * x86/x64 backend: the byte prefilter, function bounds, and lowering through iced-x86.
 */
import type { Backend, CodeFunction, References } from './backend.js';
import { ImageView } from './backend.js';
import type { LoweredFunction } from './ir.js';
import { lowerX86, x64ArgLoc, x86Abi, x86ArgLoc } from './x86.js';

/** How far back a window may start from the reference when there is no `.pdata`. */
const WINDOW_BACK = 8192;
/** How far past the reference a window decodes (the call, a tail jump). */
const WINDOW_AHEAD = 32;

export class X86Backend implements Backend {
  readonly arch;
  readonly ptrSize: 4 | 8;
  readonly abi;
  private readonly bitness: 32 | 64;
  private callTargets: Set<number> | null = null;

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
    if (!s) return { start: fn.start, insns: [] };
    const h = this.view.image.headers;
    return lowerX86({ bitness: this.bitness, imageBase: h.imageBase, sizeOfImage: h.sizeOfImage }, this.view.sectionBytes(s), s.virtualAddress, fn.start, fn.end);
  }

  /**
   * The prefilter: one pass over the executable bytes. At every offset the 4 bytes are
   * read as a displacement; `next + disp` (RIP-relative operands, `call/jmp rel32`) and,
   * on x86, the value itself as a VA (absolute operands) are checked against the targets.
   * Only the functions with a hit are decoded later.
   */
  findReferences(targets: ReadonlySet<number>): References {
    const functions = new Map<number, CodeFunction>();
    const thunks: { rva: number; slot: number }[] = [];
    if (targets.size === 0) return { functions: [], thunks };
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of targets) {
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    const base = this.view.base32;
    const is32 = this.bitness === 32;
    for (const s of this.view.code) {
      const b = this.view.sectionBytes(s);
      const n = b.length - 3;
      const va = s.virtualAddress;
      for (let i = 0; i < n; i++) {
        const d = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
        const rel = (va + i + 4 + d) >>> 0;
        let hit = -1;
        if (rel >= lo && rel <= hi && targets.has(rel)) hit = rel;
        else if (is32) {
          const abs = ((d >>> 0) - base) >>> 0;
          if (abs >= lo && abs <= hi && targets.has(abs)) hit = abs;
        }
        if (hit < 0) continue;
        const at = va + i;
        // `jmp [slot]` (FF 25) outside any function body: an import thunk.
        if (i >= 2 && b[i - 2] === 0xff && b[i - 1] === 0x25 && !this.view.pdataFunction(at)) {
          thunks.push({ rva: at - (i >= 3 && (b[i - 3] & 0xf0) === 0x40 ? 3 : 2), slot: hit });
          continue;
        }
        const fn = this.functionAt(at, b, va);
        if (fn && !functions.has(fn.start)) functions.set(fn.start, fn);
        else if (fn) {
          const f = functions.get(fn.start)!;
          f.end = Math.max(f.end, fn.end);
        }
      }
    }
    return { functions: [...functions.values()], thunks };
  }

  /** The function that holds the reference at `rva`: `.pdata`, or a heuristic window. */
  private functionAt(rva: number, b: Uint8Array, va: number): CodeFunction | null {
    const p = this.view.pdataFunction(rva);
    if (p) return p;
    const i = rva - va;
    const floor = Math.max(0, i - WINDOW_BACK, this.view.previousPdataEnd(rva) - va);
    // The nearest known start (a call target, the entry point, an export) or padding boundary.
    const starts = this.knownCallTargets();
    let start = -1;
    for (let j = i - 1; j >= floor; j--) {
      if (starts.has(va + j)) {
        start = j;
        break;
      }
      if (isPaddingBoundary(b, j)) {
        start = j;
        break;
      }
    }
    if (start < 0) start = floor;
    // The window ends at the next padding boundary: a pointer loaded from the IAT may be
    // called much later in the function (gcc and clang at -O2 hoist it).
    let end = Math.min(b.length, i + WINDOW_AHEAD);
    for (let j = i + 4; j < Math.min(b.length, i + WINDOW_BACK); j++) {
      if (isPaddingBoundary(b, j)) {
        end = j;
        break;
      }
    }
    return { start: va + start, end: va + end, knownStart: start !== floor || floor === 0 };
  }

  /** Targets of every `E8 rel32` that lands in code, plus the entry point and exports (x86). */
  private knownCallTargets(): Set<number> {
    if (this.callTargets) return this.callTargets;
    const set = new Set<number>(this.view.knownStarts());
    for (const s of this.view.code) {
      const b = this.view.sectionBytes(s);
      const lo = s.virtualAddress;
      const hi = s.virtualAddress + b.length;
      for (let i = 0; i + 5 <= b.length; i++) {
        if (b[i] !== 0xe8) continue;
        const d = b[i + 1] | (b[i + 2] << 8) | (b[i + 3] << 16) | (b[i + 4] << 24);
        const t = (lo + i + 5 + d) >>> 0;
        if (t >= lo && t < hi) set.add(t);
      }
    }
    this.callTargets = set;
    return set;
  }
}

/**
 * `j` starts a function after inter-function padding: MSVC pads with int3 (CC), gcc with
 * nops after a `ret`. Loop heads (aligned with nops, not after a ret) are not taken.
 */
function isPaddingBoundary(b: Uint8Array, j: number): boolean {
  if (j < 1) return false;
  const prev = b[j - 1];
  if (prev === 0xcc) return b[j] !== 0xcc;
  if (prev === 0xc3) return true;
  if ((j & 15) === 0 && prev === 0x90) {
    let k = j - 1;
    while (k > 0 && b[k] === 0x90) k--;
    return b[k] === 0xc3 || b[k] === 0xcc;
  }
  return false;
}
