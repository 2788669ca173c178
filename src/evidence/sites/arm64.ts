/**
 * ARM64 call-site discovery: a word-level prefilter (bl/b targets, adrp pages, import
 * thunks) and function bounds (`.pdata`, else from returns and padding). The lowering is
 * in `lower/arm64.ts`.
 */
import type { Backend, CodeFunction, References } from './backend.js';
import { ImageView } from './backend.js';
import { slotLoc, type AbiInfo, type Loc, type LoweredFunction, type Value } from '../ir.js';
import { arm64Abi, lowerArm64 } from '../lower/arm64.js';
import { Arm64Decoded, decodeArm64 } from '../decode/arm64.js';
import { resolveJumpTables } from '../jumptables.js';
import { controlFlowGraph } from '../cfg.js';

const WINDOW_BACK = 8192;
/** Decode at least this far past the reference when no return is found. */
const WINDOW_AHEAD = 16;

/** `pageUse`: the adrp's uses name only other cells of the page; or they could not be followed. */
const MISS = -1;
const UNSURE = -2;
const RET = 0xd65f03c0;
/** How far `pageUse` follows an `adrp` register (words). */
const PAGE_LOOKAHEAD = 48;
/** `pageUse`'s decoded word, filled again for every word it reads. */
const PAGE_DECODED = new Arm64Decoded();

function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/**
 * The words of the code that can reference something, in address order: `b`/`bl` with their
 * target, `adrp` with its page. The engine searches the code many times per image (each round
 * of targets, each structure's field users): the code is read word by word once.
 */
interface CodeXrefs {
  count: number;
  /** Index in `ImageView.code` of the word's section, and its byte offset there. */
  section: Int32Array;
  offset: Int32Array;
  /** 1: a branch (`value` is its target); 0: an `adrp` (`value` is the page it names). */
  branch: Uint8Array;
  value: Float64Array;
}

function codeXrefs(view: ImageView): CodeXrefs {
  let n = 0;
  let section = new Int32Array(1024);
  let offset = new Int32Array(1024);
  let branch = new Uint8Array(1024);
  let value = new Float64Array(1024);
  for (let si = 0; si < view.code.length; si++) {
    const s = view.code[si];
    const b = view.sectionBytes(s);
    const va = s.virtualAddress;
    const words = Math.floor(b.length / 4);
    for (let j = 0; j < words; j++) {
      const o = j * 4;
      const w = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      const pc = va + o;
      let v: number;
      let isBranch: number;
      if ((w & 0x7c000000) === 0x14000000) {
        // b / bl imm26
        v = pc + sext(w & 0x3ffffff, 26) * 4;
        isBranch = 1;
      } else if (((w & 0x9f000000) >>> 0) === 0x90000000) {
        // adrp
        const imm = sext((((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3), 21);
        v = pc - (pc % 4096) + imm * 4096;
        isBranch = 0;
      } else continue;
      if (n === section.length) {
        section = grow(section, new Int32Array(2 * n));
        offset = grow(offset, new Int32Array(2 * n));
        branch = grow(branch, new Uint8Array(2 * n));
        value = grow(value, new Float64Array(2 * n));
      }
      section[n] = si;
      offset[n] = o;
      branch[n] = isBranch;
      value[n] = v;
      n++;
    }
  }
  return { count: n, section: section.slice(0, n), offset: offset.slice(0, n), branch: branch.slice(0, n), value: value.slice(0, n) };
}

function grow<T extends Int32Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

export class Arm64Backend implements Backend {
  readonly arch = 'arm64' as const;
  readonly ptrSize = 8 as const;
  readonly abi: AbiInfo;

  constructor(private readonly view: ImageView) {
    this.abi = arm64Abi(view);
  }

  argLoc(n: number, sp: number | null): Loc | null {
    if (n <= 8) return `x${n - 1}`;
    return sp === null ? null : slotLoc(sp + 8 * (n - 9));
  }

  vaToRva(v: number): number | null {
    return v >>> 0;
  }

  readPointerRva(rva: number): number | null {
    return this.view.pointerRva(rva, 8);
  }

  findReferences(targets: ReadonlySet<number>, options: { exact?: boolean } = {}): References {
    const exact = options.exact === true;
    const functions = new Map<number, CodeFunction>();
    const thunks: { rva: number; slot: number }[] = [];
    const refs: { at: number; target: number }[] = [];
    if (targets.size === 0) return { functions: [], thunks, refs };
    const pages = new Set<number>();
    for (const t of targets) pages.add(t - (t % 4096));
    const x = (this.xrefs ??= codeXrefs(this.view));
    const code = this.view.code;
    for (let e = 0; e < x.count; e++) {
      const s = code[x.section[e]];
      const b = this.view.sectionBytes(s);
      const va = s.virtualAddress;
      const o = x.offset[e];
      const pc = va + o;
      const v = x.value[e];
      let hit = false;
      if (x.branch[e] === 1) {
        hit = targets.has(v);
        if (hit) refs.push({ at: pc, target: v });
      } else if (pages.has(v)) hit = this.adrpOnPage(b, o, v, pc, va, targets, exact, thunks, refs);
      if (hit) this.addFunction(functions, pc, b, va);
    }
    return { functions: [...functions.values()], thunks, refs };
  }

  /** Every `b`/`bl` and `adrp` of the code (made on the first search, kept for the image). */
  private xrefs: CodeXrefs | null = null;

  // The loop above stays small (it runs over every word of the code); what it does on a hit,
  // rare, is in these two: V8 then compiles the loop without them inlined, and a late first use
  // of them recompiles them, not the loop.

  /** An `adrp` onto a target's page: a thunk (recorded, no hit), or a use of the target (a hit). */
  private adrpOnPage(b: Uint8Array, o: number, page: number, pc: number, va: number, targets: ReadonlySet<number>, exact: boolean, thunks: { rva: number; slot: number }[], refs: { at: number; target: number }[]): boolean {
    const slot = this.thunkAt(b, o, page);
    if (slot !== null && targets.has(slot) && !this.view.pdataFunction(pc)) {
      thunks.push({ rva: pc, slot });
      return false;
    }
    const use = this.pageUse(b, o, page, targets, va);
    if (use >= 0) refs.push({ at: pc, target: use });
    return exact ? use >= 0 : use !== MISS;
  }

  private addFunction(functions: Map<number, CodeFunction>, pc: number, b: Uint8Array, va: number): void {
    const fn = this.functionAt(pc, b, va);
    const prev = functions.get(fn.start);
    if (prev) prev.end = Math.max(prev.end, fn.end);
    else functions.set(fn.start, fn);
  }

  /**
   * What an `adrp xN, page` at byte `o`, on the page of a target, leads to, read forward in
   * straight-line code (at most `PAGE_LOOKAHEAD` words, never past a branch):
   *   - the target it loads (`ldr xT, [xN, #imm]`) or names (`add xT, xN, #imm`), also
   *     after `add xN, xN, #lo12` moved xN within the page;
   *   - `MISS` when xN dies first, every use before naming another cell of the page:
   *     overwritten (`adrp x8; ldr x8, [x8, #other]; blr x8`: a call of another import; or
   *     any exact write such as `mov w8, #5`), or clobbered by a call when it is one of the
   *     scratch registers x8-x18 (`adrp x8; add x2, x8, #string; bl DbgPrint`);
   *   - else `UNSURE`, and the function is decoded: xN reaches a branch, lives on in a
   *     callee-saved or argument register, or is read by anything but those loads and adds
   *     (a move, a store, a register operand: the page escapes where this scan cannot follow).
   */
  private pageUse(b: Uint8Array, o: number, page: number, targets: ReadonlySet<number>, va: number): number {
    const rd = b[o] & 31;
    const bit = 1 << rd;
    /** What xN holds: the page, then the page plus what `add xN, xN, #imm` added. */
    let base = page;
    for (let k = o + 4; k + 4 <= b.length && k <= o + 4 * PAGE_LOOKAHEAD; k += 4) {
      const w = (b[k] | (b[k + 1] << 8) | (b[k + 2] << 16) | (b[k + 3] << 24)) >>> 0;
      const d = decodeArm64(w, va + k, PAGE_DECODED);
      switch (d.op) {
        case 'ldr':
        case 'add':
          if (d.rn === rd && (d.op === 'add' || d.mode === 'offset')) {
            const cell = base + (d.op === 'ldr' ? d.offset : d.imm);
            if (targets.has(cell)) return cell;
            if (d.op === 'add' && d.rd === rd) {
              base = cell; // `add x8, x8, #lo12`: x8 now names a cell of the page
              continue;
            }
            if (d.op === 'ldr' && d.rt === rd) return MISS;
            continue;
          }
          if (d.op === 'ldr' && d.rn === rd) return UNSURE; // pre/post-index: xN moves
          break;
        case 'bl':
        case 'blr':
          // x8-x18 are not preserved across a call and carry no argument.
          return rd >= 8 && rd <= 18 && !(d.op === 'blr' && d.rn === rd) ? MISS : UNSURE;
        case 'b':
        case 'br':
        case 'ret':
        case 'cbz':
        case 'cbnz':
        case 'tbz':
        case 'tbnz':
        case 'bcond':
          return UNSURE;
        case 'movreg':
          if (d.rm === rd) return UNSURE;
          break;
        case 'str':
          if (d.rt === rd || d.rn === rd) return UNSURE;
          break;
        case 'stp':
        case 'ldp':
          if (d.rt === rd || d.rt2 === rd || d.rn === rd) return UNSURE;
          break;
        case 'csel':
          if (d.rn === rd || d.rm === rd) return UNSURE;
          break;
        case 'logic':
        case 'sub':
          if (d.rn === rd) return UNSURE;
          break;
        case 'movz':
        case 'movn':
        case 'mov':
        case 'adrp':
        case 'adr':
        case 'ldrlit':
          break;
        default:
          // Any other instruction may read xN in any register field (its writes mask may
          // over-approximate, so it is not taken as a kill either).
          if ((w & 31) === rd || ((w >>> 5) & 31) === rd || ((w >>> 10) & 31) === rd || ((w >>> 16) & 31) === rd) return UNSURE;
          continue;
      }
      // Exactly modelled and not reading xN: a write of xN ends its life.
      if ((d.writes & bit) !== 0) return MISS;
    }
    return UNSURE;
  }

  /** `adrp xN, page; ldr xN, [xN, #off]; br xN` at byte `o`: the slot it jumps through. */
  private thunkAt(b: Uint8Array, o: number, page: number): number | null {
    if (o + 12 > b.length) return null;
    const rd = b[o] & 31;
    const ldr = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
    const br = (b[o + 8] | (b[o + 9] << 8) | (b[o + 10] << 16) | (b[o + 11] << 24)) >>> 0;
    // ldr xT, [xN, #imm12*8]
    if (((ldr & 0xffc00000) >>> 0) !== 0xf9400000 || ((ldr >>> 5) & 31) !== rd) return null;
    const rt = ldr & 31;
    if (((br & 0xfffffc1f) >>> 0) !== 0xd61f0000 || ((br >>> 5) & 31) !== rt) return null;
    return page + ((ldr >>> 10) & 0xfff) * 8;
  }

  private functionAt(pc: number, b: Uint8Array, va: number): CodeFunction {
    const p = this.view.pdataFunction(pc);
    if (p) return p;
    const j = (pc - va) >> 2;
    const floor = Math.max(0, j - WINDOW_BACK / 4, (this.view.previousPdataEnd(pc) - va) >> 2);
    let start = floor;
    for (let k = j - 1; k >= floor; k--) {
      const o = k * 4;
      const w = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      // After a return, an indirect tail branch, or zero padding.
      if (w === RET || ((w & 0xfffffc1f) >>> 0) === 0xd61f0000 || w === 0) {
        start = k + 1;
        break;
      }
    }
    // Without .pdata the function ends at its return (the call may sit well after the
    // adrp that the prefilter found).
    const words = Math.floor(b.length / 4);
    let end = Math.min(words, j + WINDOW_AHEAD / 4);
    for (let k = j; k < Math.min(words, j + WINDOW_BACK / 4); k++) {
      const o = k * 4;
      const w = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      if (w === RET || w === 0) {
        end = k + 1;
        break;
      }
    }
    return { start: va + start * 4, end: va + end * 4, knownStart: true };
  }

  functionStartingAt(rva: number): CodeFunction | null {
    const p = this.view.pdataFunction(rva);
    if (p) return p.start === rva ? p : null;
    const s = this.view.map.sectionOf(rva);
    if (!s || !s.executable || s.rawSize === 0 || rva % 4 !== 0) return null;
    const b = this.view.sectionBytes(s);
    const va = s.virtualAddress;
    const words = Math.floor(b.length / 4);
    let end = (rva - va) >> 2;
    while (end < words && end - ((rva - va) >> 2) < WINDOW_BACK / 4) {
      const o = end * 4;
      const w = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      end++;
      if (w === RET) break;
    }
    return { start: rva, end: va + end * 4, knownStart: true };
  }

  lower(fn: CodeFunction): LoweredFunction {
    const l = lowerArm64(this.view, fn);
    // Jump tables (`jumptables.ts`): their cases become edges of the graph.
    resolveJumpTables(l, fn.start, fn.end, this);
    this.importCalls(l);
    return l;
  }

  /**
   * MSVC calls an import as `adrp xM, page; ldr xN, [xM, #off]; blr xN` (`br xN` for a
   * tail call). When the three words lie in one basic block and the cell is an import slot
   * or a writable global, the call goes through that cell: it becomes a call through memory
   * (`{ k: 'mem' }`, what x64's `call [rip+slot]` is), the answer the value analysis would
   * give for xN, without asking it at each of a function's dozens of import calls.
   */
  private importCalls(l: LoweredFunction): void {
    const insns = l.insns;
    let cfg: ReturnType<typeof controlFlowGraph> | null = null;
    for (let i = 2; i < insns.length; i++) {
      const c = insns[i].call;
      if (!c || c.k !== 'value' || c.value.k !== 'copy') continue;
      const ldr = insns[i - 1];
      const adrp = insns[i - 2];
      if (ldr.rva !== insns[i].rva - 4 || adrp.rva !== insns[i].rva - 8 || ldr.writes.length !== 2 || adrp.writes.length !== 2) continue;
      const lv = ldr.writes[1] as Value;
      const av = adrp.writes[1] as Value;
      if (ldr.writes[0] !== c.value.loc || lv.k !== 'deref' || lv.size !== 8 || adrp.writes[0] !== lv.base || av.k !== 'addr') continue;
      const cell = av.rva + lv.disp;
      if (!this.view.importSlots.has(cell) && !this.view.isWritable(cell)) continue;
      cfg ??= controlFlowGraph(l);
      if (cfg.blockOf[i - 2] !== cfg.blockOf[i]) continue;
      insns[i].call = { k: 'mem', rva: cell };
    }
  }
}
