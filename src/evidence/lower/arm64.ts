/**
 * ARM64 lowering: the instructions `decode/arm64.ts` decodes, as IR (`ir.ts`).
 *
 * Registers are named `x0`..`x30` whether written as w or x (a w write zero-extends),
 * vector registers `vN` (low 8 bytes) and `vNh` (high 8 bytes); stack slots are keyed by
 * their offset from SP at function entry, like on x86/x64. `csel` and its aliases are
 * `either` values; what an instruction writes that is not modelled becomes unknown (the
 * differential test against llvm-objdump keeps the written-register sets honest).
 */
import { Arm64Decoded, decodeArm64, WRITES_SP, type Arm64Insn } from '../decode/arm64.js';
import type { CodeFunction, ImageView } from '../sites/backend.js';
import { copyOf, lowered, MAX_STACK_PARAM, newInsn, seal, slotLoc, UNKNOWN, vAddr, vConst, vDeref, vEither, vHigh, vIndexed, vInsert, vLoad, vLogic, vOffset, vStack, vSum, type AbiInfo, type Insn, type Loc, type LoweredFunction, type Value } from '../ir.js';

/** x0-x18, x30, and the vector registers a call does not preserve (v8-v15 keep their low 64 bits). */
const CLOBBERED: ReadonlySet<Loc> = new Set([
  ...Array.from({ length: 19 }, (_, i) => `x${i}`),
  'x30',
  ...Array.from({ length: 32 }, (_, i) => `v${i}h`),
  ...Array.from({ length: 32 }, (_, i) => i).filter((i) => i < 8 || i > 15).map((i) => `v${i}`),
]);

/** The ARM64 calling convention as the value analysis sees it: x0-x7 and the stack slots above SP carry parameters. */
/** Location names, made once: a template string per write was a large part of the garbage. */
const XREG: readonly Loc[] = Array.from({ length: 32 }, (_, i) => `x${i}`);
const VREG: readonly Loc[] = Array.from({ length: 32 }, (_, i) => `v${i}`);
const VREGH: readonly Loc[] = Array.from({ length: 32 }, (_, i) => `v${i}h`);

export function arm64Abi(view: ImageView): AbiInfo {
  return {
    clobbered: CLOBBERED,
    paramAt(loc: Loc): number {
      const m = /^x([0-7])$/.exec(loc);
      if (m) return Number(m[1]) + 1;
      if (loc.startsWith('s:')) {
        const off = Number(loc.slice(2));
        if (off >= 0 && off % 8 === 0 && 9 + off / 8 <= MAX_STACK_PARAM) return 9 + off / 8;
      }
      return 0;
    },
    readImage: (rva, size) => view.read(rva, size),
    isImportSlot: (rva) => view.importSlots.has(rva),
    isWritable: (rva) => view.isWritable(rva),
  };
}

/** LDR/STR (SIMD&FP) of S and D registers: unsigned scaled offset, and LDUR/STUR (signed 9-bit). */
const SIMD_LDST = [
  { mask: 0xffc00000, bits: 0xfd400000, size: 8, load: true, unscaled: false }, // ldr dT, [xN, #imm]
  { mask: 0xffc00000, bits: 0xfd000000, size: 8, load: false, unscaled: false }, // str dT, [xN, #imm]
  { mask: 0xffc00000, bits: 0xbd400000, size: 4, load: true, unscaled: false }, // ldr sT, [xN, #imm]
  { mask: 0xffc00000, bits: 0xbd000000, size: 4, load: false, unscaled: false }, // str sT, [xN, #imm]
  { mask: 0xffe00c00, bits: 0xfc400000, size: 8, load: true, unscaled: true }, // ldur dT, [xN, #simm]
  { mask: 0xffe00c00, bits: 0xfc000000, size: 8, load: false, unscaled: true }, // stur dT, [xN, #simm]
  { mask: 0xffe00c00, bits: 0xbc400000, size: 4, load: true, unscaled: true }, // ldur sT, [xN, #simm]
  { mask: 0xffe00c00, bits: 0xbc000000, size: 4, load: false, unscaled: true }, // stur sT, [xN, #simm]
] as const;

type Simd =
  /** `movi vN.16b, #0` / `movi vN.2d, #0` / `movi dN, #0`. */
  | { k: 'zero'; rt: number }
  /** LDR (literal) of an S, D or Q register. */
  | { k: 'lit'; rt: number; size: 4 | 8 | 16; target: number }
  /** LDR/STR Q (unsigned offset, LDUR/STUR) and LDP/STP of S, D, Q registers. */
  | { k: 'mem'; load: boolean; rt: number; rt2?: number; rn: number; offset: number; size: 4 | 8 | 16; mode: 'offset' | 'pre' | 'post' };

/**
 * The SIMD&FP forms `SIMD_LDST` does not cover: Q loads and stores, register pairs, literal
 * loads, and zeroing with MOVI. Null for anything else.
 */
function simd(w: number, pc: number): Simd | null {
  // MOVI (vector or scalar 64-bit) with an all-zero immediate: 0 Q op 0111100000 abc cmode=1110 0 1 defgh Rd
  if (((w & 0x9ff8ffe0) >>> 0) === 0x0f00e400) return { k: 'zero', rt: w & 31 };
  // LDR (literal, SIMD&FP): opc 011 1 00 imm19 Rt; opc 00 = S, 01 = D, 10 = Q.
  if (((w & 0x3f000000) >>> 0) === 0x1c000000 && w >>> 30 !== 3) {
    const size = (4 << (w >>> 30)) as 4 | 8 | 16;
    return { k: 'lit', rt: w & 31, size, target: (pc + sext((w >>> 5) & 0x7ffff, 19) * 4) >>> 0 };
  }
  // LDR/STR Q, unsigned offset (imm12 * 16): 00 111 1 01 1 L imm12 Rn Rt
  if (((w & 0xff800000) >>> 0) === 0x3d800000) {
    return { k: 'mem', load: (w & 0x00400000) !== 0, rt: w & 31, rn: (w >>> 5) & 31, offset: ((w >>> 10) & 0xfff) * 16, size: 16, mode: 'offset' };
  }
  // LDUR/STUR Q, and pre/post-index: 00 111 1 00 1 L 0 imm9 mode Rn Rt (mode 00 unscaled, 01 post, 11 pre)
  if (((w & 0xffa00000) >>> 0) === 0x3c800000 && ((w >>> 10) & 3) !== 2) {
    const m = (w >>> 10) & 3;
    return { k: 'mem', load: (w & 0x00400000) !== 0, rt: w & 31, rn: (w >>> 5) & 31, offset: sext((w >>> 12) & 0x1ff, 9), size: 16, mode: m === 0 ? 'offset' : m === 1 ? 'post' : 'pre' };
  }
  // LDP/STP (SIMD&FP): opc 101 1 0 type L imm7 Rt2 Rn Rt; opc 00 S, 01 D, 10 Q; type 00 no-allocate, 01 post, 10 offset, 11 pre.
  if (((w & 0x3e000000) >>> 0) === 0x2c000000 && w >>> 30 !== 3) {
    const size = (4 << (w >>> 30)) as 4 | 8 | 16;
    const type = (w >>> 23) & 3;
    return {
      k: 'mem',
      load: (w & 0x00400000) !== 0,
      rt: w & 31,
      rt2: (w >>> 10) & 31,
      rn: (w >>> 5) & 31,
      offset: sext((w >>> 15) & 0x7f, 7) * size,
      size,
      mode: type === 1 ? 'post' : type === 3 ? 'pre' : 'offset',
    };
  }
  return null;
}

/** The `SIMD_LDST` form of `w`, if any. */
function simdLdSt(w: number): (typeof SIMD_LDST)[number] | undefined {
  for (let i = 0; i < SIMD_LDST.length; i++) if (((w & SIMD_LDST[i].mask) >>> 0) === SIMD_LDST[i].bits) return SIMD_LDST[i];
  return undefined;
}

/**
 * Vector registers an instruction that neither `simd` nor `SIMD_LDST` handles may write
 * (over-approximated): Rd of SIMD&FP data processing (op0 = x111), and Rt..Rt+3 of the
 * other SIMD&FP loads (structures, register offsets).
 */
function simdWrites(w: number): number {
  // As `first | count << 5` (0: none): registers first .. first + count - 1, modulo 32.
  if ((w & 0x04000000) === 0) return 0; // not SIMD&FP (bit 26)
  if (((w & 0x0e000000) >>> 0) === 0x0e000000) return (w & 31) | (1 << 5);
  if (((w & 0x0a000000) >>> 0) === 0x08000000 && (w & 0x04000000) !== 0 && (w & 0x00400000) !== 0) return (w & 31) | (4 << 5);
  return 0;
}

/**
 * The write of a jump table's entry load or target sum, or null:
 *   LDR/LDRB/LDRH/LDRSB/LDRSH/LDRSW (register offset): size 111 0 00 opc 1 Rm option S 10 Rn Rt
 *     -> Rt = [Rn + (Rm << S*size)], an `indexed` load (no writeback);
 *   ADD (shifted register, LSL): sf 0 0 01011 00 0 Rm imm6 Rn Rd -> Rd = Rn + (Rm << imm6);
 *   ADD (extended register): sf 0 0 01011 00 1 Rm option imm3 Rn Rd -> Rd = Rn + (ext(Rm) << imm3).
 * Register 31 (zr, or sp in the extended form) takes the decoder's generic path.
 */
function tableShape(w: number): { loc: Loc; value: Value } | null {
  if (((w & 0x3b200c00) >>> 0) === 0x38200800) {
    const size = w >>> 30;
    const opc = (w >>> 22) & 3;
    const rt = w & 31;
    const rn = (w >>> 5) & 31;
    // opc 00 is a store; size 3 with opc 1x is PRFM or unallocated.
    if (opc === 0 || (size === 3 && opc >= 2) || rt === 31 || rt === 29 || rn === 31) return null;
    const bytes = 1 << size;
    const scale = (w >>> 12) & 1 ? bytes : 1;
    return { loc: XREG[rt], value: vIndexed(XREG[rn], XREG[(w >>> 16) & 31], scale, 0, bytes, opc >= 2) };
  }
  const shifted = ((w & 0x7fe00000) >>> 0) === 0x0b000000;
  const extended = ((w & 0x7fe00000) >>> 0) === 0x0b200000;
  if (shifted || extended) {
    const rd = w & 31;
    const rn = (w >>> 5) & 31;
    const rm = (w >>> 16) & 31;
    if (rd === 31 || rd === 29 || rn === 31 || rm === 31) return null;
    const shift = shifted ? (w >>> 10) & 63 : (w >>> 10) & 7;
    if (extended && shift > 4) return null;
    return { loc: XREG[rd], value: vSum(XREG[rn], XREG[rm], shift) };
  }
  return null;
}

function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

export function lowerArm64(view: ImageView, fn: CodeFunction): LoweredFunction {
  lowerer ??= new Arm64Lowerer();
  return lowerer.lower(view, fn);
}

/** One lowering per thread, reused for every function (no closures made per function or instruction). */
let lowerer: Arm64Lowerer | null = null;

const ZERO64: Value = vConst(0, 0);

/** The lowering of one function at a time: the stack and frame pointers as fields, helpers as methods. */
class Arm64Lowerer {
  private sp: number | null = 0;
  private fp: number | null = null;
  /** The decoder's output, filled again for every word. */
  private readonly decoded = new Arm64Decoded();

  private src(r: number): Value {
    return r === 31 ? vConst(0) : copyOf(XREG[r]);
  }

  /** A memory operand `[rn, #off]`: a stack slot when rn is SP or the frame pointer. */
  private slot(rn: number, off: number): Loc | null {
    if (rn === 31) return this.sp === null ? null : slotLoc(this.sp + off);
    if (rn === 29 && this.fp !== null) return slotLoc(this.fp + off);
    return null;
  }

  /** The writes of a SIMD&FP load, store or zeroing that `simd` decoded. */
  private lowerSimd(q: Simd, insn: Insn): void {
    const w = insn.writes;
    if (q.k === 'zero') {
      w.push(VREG[q.rt], ZERO64, VREGH[q.rt], ZERO64);
      return;
    }
    if (q.k === 'lit') {
      w.push(VREG[q.rt], vLoad(q.target, Math.min(8, q.size)), VREGH[q.rt], q.size === 16 ? vLoad(q.target + 8, 8) : ZERO64);
      return;
    }
    if (q.mode === 'pre' && q.rn === 31 && this.sp !== null) this.sp += q.offset;
    const off = q.mode === 'offset' ? q.offset : 0;
    this.simdReg(q, insn, q.rt, off);
    if (q.rt2 !== undefined) this.simdReg(q, insn, q.rt2, off + q.size);
    if (q.mode === 'post' && q.rn === 31 && this.sp !== null) this.sp += q.offset;
  }

  /** One register of a SIMD&FP load or store at offset `o`. */
  private simdReg(q: Simd & { k: 'mem' }, insn: Insn, r: number, o: number): void {
    const w = insn.writes;
    if (q.load) {
      const lo = this.simdPart(q, this.slot(q.rn, o), o);
      const hi = q.size === 16 ? this.simdPart(q, this.slot(q.rn, o + 8), o + 8) : ZERO64;
      w.push(VREG[r], lo, VREGH[r], hi);
    } else {
      const at = this.slot(q.rn, o);
      if (!at) return;
      const base = Number(at.slice(2));
      w.push(at, copyOf(VREG[r]));
      if (q.size >= 8) w.push(slotLoc(base + 4), vHigh(VREG[r]));
      if (q.size === 16) {
        w.push(slotLoc(base + 8), copyOf(VREGH[r]));
        w.push(slotLoc(base + 12), vHigh(VREGH[r]));
      }
    }
  }

  private simdPart(q: Simd & { k: 'mem' }, loc: Loc | null, d: number): Value {
    return loc ? copyOf(loc) : q.rn !== 31 ? vDeref(XREG[q.rn], d, Math.min(8, q.size)) : UNKNOWN;
  }

  /** A pair loaded through another register reads `[rn + off]` and `[rn + off + size]`. */
  private through(d: Arm64Insn & { op: 'ldp' }, o: number): Value {
    return d.rn !== 31 && d.mode === 'offset' && d.size >= 4 ? vDeref(XREG[d.rn], o, d.size) : UNKNOWN;
  }

  lower(view: ImageView, fn: CodeFunction): LoweredFunction {
    const s = view.map.sectionOf(fn.start);
    const insns: Insn[] = [];
    if (!s) return lowered(fn.start, insns, undefined);
    const b = view.sectionBytes(s);
    const va = s.virtualAddress;
    this.sp = 0;
    this.fp = null;
    const last = Math.min(fn.end, va + b.length);
    for (let pc = fn.start; pc + 4 <= last; pc += 4) {
      const o = pc - va;
      const w = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      insns.push(seal(this.step(w, pc, fn)));
    }
    return lowered(fn.start, insns, undefined);
  }

  private lowerAddSub(d: Extract<Arm64Insn, { op: 'add' | 'sub' }>, insn: Insn): void {
    const imm = d.op === 'add' ? d.imm : -d.imm;
    if (d.rd === 31) {
      this.sp = d.rn === 31 && this.sp !== null ? this.sp + imm : d.rn === 29 && this.fp !== null ? this.fp + imm : null;
    } else if (d.rn === 31) {
      if (d.rd === 29) this.fp = this.sp === null ? null : this.sp + imm;
      insn.writes.push(XREG[d.rd], this.sp === null ? UNKNOWN : vStack(this.sp + imm));
    } else {
      if (d.rd === 29) this.fp = null;
      insn.writes.push(XREG[d.rd], vOffset(XREG[d.rn], imm));
    }
  }

  private lowerLdr(d: Extract<Arm64Insn, { op: 'ldr' }>, insn: Insn): void {
    if (d.mode === 'pre' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
    const off = d.mode === 'offset' ? d.offset : 0;
    const at = this.slot(d.rn, off);
    if (d.rt !== 31) {
      let v: Value = UNKNOWN;
      if (d.size >= 4) v = at ? copyOf(at) : d.rn !== 31 ? vDeref(XREG[d.rn], off, d.size) : UNKNOWN;
      insn.writes.push(XREG[d.rt], v);
    }
    if (d.mode === 'post' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
  }

  private lowerStr(d: Extract<Arm64Insn, { op: 'str' }>, insn: Insn): void {
    if (d.mode === 'pre' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
    const off = d.mode === 'offset' ? d.offset : 0;
    const at = this.slot(d.rn, off);
    if (at) {
      insn.writes.push(at, d.size >= 4 ? this.src(d.rt) : UNKNOWN);
      if (d.size === 8) insn.writes.push(slotLoc(Number(at.slice(2)) + 4), d.rt === 31 ? vConst(0) : vHigh(XREG[d.rt]));
    } else if (d.rn !== 31 && d.size >= 4 && d.mode === 'offset') {
      (insn.stores ??= []).push({ base: XREG[d.rn], disp: off, value: this.src(d.rt) });
    }
    if (d.mode === 'post' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
  }

  private lowerPair(d: Extract<Arm64Insn, { op: 'stp' | 'ldp' }>, insn: Insn): void {
    if (d.mode === 'pre' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
    const off = d.mode === 'offset' ? d.offset : 0;
    const a = this.slot(d.rn, off);
    const a2 = this.slot(d.rn, off + d.size);
    if (d.op === 'stp') {
      if (a) insn.writes.push(a, this.src(d.rt));
      if (a2) insn.writes.push(a2, this.src(d.rt2));
      if (!a && d.rn !== 31 && d.mode === 'offset') (insn.stores ??= []).push({ base: XREG[d.rn], disp: off, value: this.src(d.rt) }, { base: XREG[d.rn], disp: off + d.size, value: this.src(d.rt2) });
    } else {
      // A pair loaded through another register reads `[rn + off]` and `[rn + off + size]`
      // (`ldp x3, x1, [x8]`: a function pointer and an argument out of a structure).
      if (d.rt !== 31) insn.writes.push(XREG[d.rt], a ? copyOf(a) : this.through(d, off));
      if (d.rt2 !== 31) insn.writes.push(XREG[d.rt2], a2 ? copyOf(a2) : this.through(d, off + d.size));
      if (d.rt === 29 || d.rt2 === 29) this.fp = null;
    }
    if (d.mode === 'post' && d.rn === 31 && this.sp !== null) this.sp += d.offset;
  }

  /**
   * One instruction lowered. The larger kinds each have a method of their own: a kind first met
   * late in a scan then makes V8 recompile a small function, not all of this one.
   */
  private step(w: number, pc: number, fn: CodeFunction): Insn {
    const insn = newInsn(pc, this.sp);
    // SIMD&FP loads and stores of D (8-byte) and S (4-byte) registers, unsigned offset:
    // clang copies small struct initializers from .rdata through d0 (`ldr d0, [x8]` then
    // `str d0, [sp, #8]`), which is how an NDIS PoolTag can reach the stack.
    // Q registers (16 bytes: `v16` holds the low 8, `v16h` the high 8) and the literal and
    // pair forms: clang copies a whole 16-byte parameters struct (NDIS's
    // NET_BUFFER_LIST_POOL_PARAMETERS) with `ldr q16, <literal>` ; `str q16, [sp, #32]`.
    const q = simd(w, pc);
    if (q) {
      this.lowerSimd(q, insn);
      return insn;
    }
    // Every SIMD&FP load/store has bit 26 (V) set: most words skip the table.
    const fp64 = (w & 0x04000000) !== 0 ? simdLdSt(w) : undefined;
    if (fp64) {
      const rt = w & 31;
      const rn = (w >>> 5) & 31;
      const off = fp64.unscaled ? sext((w >>> 12) & 0x1ff, 9) : ((w >>> 10) & 0xfff) * fp64.size;
      const at = this.slot(rn, off);
      if (fp64.load) {
        insn.writes.push(VREG[rt], at ? copyOf(at) : rn !== 31 ? vDeref(XREG[rn], off, fp64.size) : UNKNOWN);
        insn.writes.push(VREGH[rt], vConst(0, 0)); // the upper 64 bits are zeroed
      } else if (at) {
        insn.writes.push(at, copyOf(VREG[rt]));
        if (fp64.size === 8) insn.writes.push(slotLoc(Number(at.slice(2)) + 4), vHigh(VREG[rt]));
      }
      return insn;
    }
    // Jump tables (jumptables.ts): loads with a register offset, adds of two registers, and
    // the compare that bounds the index. The decoder gives these as `other`.
    const jt = tableShape(w);
    if (jt) {
      insn.writes.push(jt.loc, jt.value);
      return insn;
    }
    const d = decodeArm64(w, pc, this.decoded);
    let handled = true;
    // CMP (immediate), SUBS zr, xN, #imm: sf 1 1 100010 sh imm12 Rn 11111.
    if (((w & 0x7f80001f) >>> 0) === 0x7100001f) insn.compare = { loc: XREG[(w >>> 5) & 31], imm: ((w >>> 10) & 0xfff) << ((w >>> 22) & 1 ? 12 : 0) };
    switch (d.op) {
      case 'movz':
      case 'movn':
      case 'mov':
        if (d.rd !== 31) insn.writes.push(XREG[d.rd], vConst(d.lo));
        else if (d.op === 'mov') this.sp = null;
        break;
      case 'movk':
        if (d.rd !== 31) {
          insn.writes.push(XREG[d.rd], d.shift >= 32 ? copyOf(XREG[d.rd]) : vInsert(XREG[d.rd], d.imm, d.shift));
        }
        break;
      case 'movreg':
        if (d.rd !== 31) insn.writes.push(XREG[d.rd], this.src(d.rm));
        break;
      case 'logic':
        // `orr w2, w20, #0x20` builds 'abcd' from 'Abcd' kept in w20 (low 32 bits suffice for tags).
        if (d.rd === 31) this.sp = null;
        else if (d.rn === 31) insn.writes.push(XREG[d.rd], vConst(d.kind === 'and' ? 0 : d.lo));
        else insn.writes.push(XREG[d.rd], vLogic(d.kind, XREG[d.rn], d.lo));
        break;
      case 'ldrlit':
        if (d.rt !== 31) insn.writes.push(XREG[d.rt], d.size >= 4 ? vLoad(d.target >>> 0, d.size) : UNKNOWN);
        break;
      case 'adrp':
      case 'adr':
        if (d.rd !== 31) insn.writes.push(XREG[d.rd], vAddr(d.target >>> 0));
        break;
      case 'add':
      case 'sub':
        this.lowerAddSub(d, insn);
        break;
      case 'ldr':
        this.lowerLdr(d, insn);
        break;
      case 'str':
        this.lowerStr(d, insn);
        break;
      case 'stp':
      case 'ldp':
        this.lowerPair(d, insn);
        break;
      case 'csel':
        if (d.rd !== 31) {
          // Either arm: rn, or rm (csel), rm + 1 (csinc; `cset` is csinc rd, zr, zr), ~rm or -rm.
          const other: Value = d.variant === 'csel' ? this.src(d.rm) : d.variant === 'csinc' ? (d.rm === 31 ? vConst(1) : vOffset(XREG[d.rm], 1)) : UNKNOWN;
          insn.writes.push(XREG[d.rd], vEither(this.src(d.rn), other));
        }
        break;
      case 'bl':
        insn.call = { k: 'direct', rva: d.target >>> 0 };
        break;
      case 'b':
        if (d.target < fn.start || d.target >= fn.end) {
          insn.call = { k: 'direct', rva: d.target >>> 0 };
          insn.tail = true;
        } else insn.jump = d.target >>> 0;
        insn.noFall = true;
        break;
      case 'bcond':
      case 'cbz':
      case 'cbnz':
      case 'tbz':
      case 'tbnz':
        if (d.target >= fn.start && d.target < fn.end) insn.jump = d.target >>> 0;
        handled = false; // cbz & co. write nothing; fall through to the generic writes
        break;
      case 'ret':
        insn.noFall = true;
        handled = false;
        break;
      case 'blr':
        insn.call = { k: 'value', value: this.src(d.rn) };
        break;
      case 'br':
        insn.call = { k: 'value', value: this.src(d.rn) };
        insn.tail = true;
        insn.noFall = true;
        break;
      default:
        handled = false;
    }
    if (!handled) {
      // Any other SIMD&FP instruction may write the vector register it names.
      const vs = simdWrites(w);
      for (let k = 0; k < vs >>> 5; k++) {
        const v = (vs + k) & 31;
        insn.writes.push(VREG[v], UNKNOWN, VREGH[v], UNKNOWN);
      }
      // Everything else: what it writes becomes unknown.
      let m = d.writes >>> 0;
      if (m & WRITES_SP) this.sp = null;
      m &= 0x7fffffff;
      for (let r = 0; m; r++, m >>>= 1) {
        if (m & 1) {
          insn.writes.push(XREG[r], UNKNOWN);
          if (r === 29) this.fp = null;
        }
      }
    }
    return insn;
  }
}
