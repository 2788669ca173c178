/**
 * A small AArch64 decoder: just the instructions that matter for recovering constants (pool
 * tags) at call sites, plus, for EVERY instruction, which general-purpose registers it
 * writes, so that a caller tracking "w2 holds 'kPhK'" knows when that stops being true.
 *
 * Decoded (op names):
 *   movz movk movn        wide immediates (the `mov` aliases of movz/movn decode as movz/movn)
 *   mov                   ORR (immediate) with Rn = zr: `mov wN, #bitmask` (also the
 *                         `orr wN, wzr, #imm` spelling of values movz could build)
 *   logic                 AND/ORR/EOR/ANDS (immediate) of a register: `orr w2, w20, #0x20`
 *   movreg                ORR (shifted register) with Rn = zr, no shift: `mov wD, wM`
 *   ldrlit                LDR/LDRSW (literal), PC-relative, into a general register
 *   adrp adr              PC-relative addresses
 *   add sub               ADD/SUB (immediate), not the flag-setting forms
 *   ldr str               LDR, LDRB, LDRSW, ... / STR, STRB, ... of a general register with an
 *                         immediate offset: unsigned scaled, unscaled (LDUR/STUR), pre/post-index
 *   ldp stp               LDP/STP/LDPSW (general registers), all addressing modes
 *   bl b blr br ret       branches (RETAA/RETAB, BRAAZ/BRABZ, BLRAAZ/BLRABZ decode as ret/br/blr)
 *   cbz cbnz tbz tbnz bcond  conditional branches (B.cond and BC.cond)
 *   other                 everything else, still with `writes`
 *
 * Register numbers are 0..31. What 31 means depends on the field, as in the architecture:
 *   - SP for: add/sub rd and rn; ldr/str/ldp/stp rn (base); mov (ORR immediate) rd.
 *   - ZR (wzr/xzr, reads as 0, writes discarded) everywhere else: movz/movk/movn rd,
 *     movreg rd and rm, ldrlit rt, adr/adrp rd, ldr/str/ldp/stp rt/rt2, cbz/tbz rt.
 *   - ret/br/blr rn: 31 cannot occur as a target in practice (would be xzr).
 *
 * `writes` is a bit mask of the general registers the instruction writes architecturally:
 * bit r (r = 0..30) for x/w r, and bit 31 (`WRITES_SP`, 0x80000000) for SP. Writes to ZR
 * set no bit. Test with `(insn.writes & (1 << r)) !== 0` / `(insn.writes & WRITES_SP) !== 0`
 * (JavaScript's & is signed, so compare with 0, not with the bit). BL/BLR write x30 only: the ABI's call clobbers
 * (x0-x18) are the caller's business. For `other` the mask comes from the encoding group and
 * may over-approximate for rare forms (never under-approximates for the data-processing and
 * load groups, which is what kills a tracked constant). SIMD/FP registers are not tracked.
 *
 * Addresses: pass `pc` as a number (RVAs or image-base VAs below 2^53) or as a bigint (full
 * 64-bit kernel addresses); `target` fields have the same type. `offset` fields are always
 * numbers (the signed byte distance from pc, or from pc's 4 KiB page for adrp).
 *
 * Design: one object of one class (`Arm64Decoded`) per call, or the caller's own filled
 * again; no tables, no bigint (unless pc is one). Constant
 * values are given as two unsigned 32-bit halves `lo`/`hi` (hi = 0 for 32-bit forms) so
 * that no precision is lost; `toBigInt` joins them when needed.
 *
 * Not decoded specially (they come out as `other` with the right `writes`): register-offset
 * loads/stores, atomics, exclusives, SIMD/FP, SVE/SME, system instructions. BC.cond needs
 * FEAT_HBC; it decodes as `bcond` like B.cond.
 */

export type Addr = number | bigint;

/** Bit 31 of `writes`: the instruction writes SP. */
export const WRITES_SP = 0x80000000;

interface Base {
  /** General registers written, see the module comment. */
  writes: number;
}

export type Arm64Insn<A extends Addr = number> =
  /** movz: rd = imm << shift. `lo`/`hi`: the resulting value. rd 31 = zr. */
  | (Base & { op: 'movz'; rd: number; imm: number; shift: number; is64: boolean; lo: number; hi: number })
  /** movk: bits [shift+15:shift] of rd = imm, other bits kept (combine with `applyMovk`). */
  | (Base & { op: 'movk'; rd: number; imm: number; shift: number; is64: boolean })
  /** movn: rd = ~(imm << shift) (32 bits for w registers). `lo`/`hi`: the resulting value. */
  | (Base & { op: 'movn'; rd: number; imm: number; shift: number; is64: boolean; lo: number; hi: number })
  /** ORR (immediate) from zr: rd = bitmask immediate. rd 31 = SP (`mov wsp, #imm`). */
  | (Base & { op: 'mov'; rd: number; is64: boolean; lo: number; hi: number })
  /**
   * AND/ORR/EOR/ANDS (immediate) of a register: rd = rn op bitmask (`lo`/`hi`). rn 31 = zr;
   * rd 31 = SP (ANDS with rd 31 is `tst` and comes out as `other`).
   */
  | (Base & { op: 'logic'; kind: 'and' | 'orr' | 'eor'; rd: number; rn: number; is64: boolean; lo: number; hi: number })
  /** ORR (shifted register) from zr, no shift: rd = rm. rm 31 = zr (value 0). */
  | (Base & { op: 'movreg'; rd: number; rm: number; is64: boolean })
  /** LDR (literal): rt = [target], `size` 4 or 8 bytes; `signed` for LDRSW (4 bytes, sign-extended to 64). */
  | (Base & { op: 'ldrlit'; rt: number; size: 4 | 8; signed: boolean; is64: boolean; target: A; offset: number })
  /** ADRP: rd = (pc & ~0xFFF) + offset. */
  | (Base & { op: 'adrp'; rd: number; target: A; offset: number })
  /** ADR: rd = pc + offset. */
  | (Base & { op: 'adr'; rd: number; target: A; offset: number })
  /** ADD (immediate): rd = rn + imm (imm already shifted by 12 when `lsl #12`). 31 = SP. */
  | (Base & { op: 'add'; rd: number; rn: number; imm: number; is64: boolean })
  /** SUB (immediate): rd = rn - imm. 31 = SP. */
  | (Base & { op: 'sub'; rd: number; rn: number; imm: number; is64: boolean })
  /**
   * LDR*: rt = [rn + offset] (mode 'offset'), [rn + offset] then rn updated ('pre'), or
   * [rn] then rn += offset ('post'). `size` in bytes; `signed` for LDRS*; `is64` = x
   * destination. rn 31 = SP, rt 31 = zr.
   */
  | (Base & { op: 'ldr'; rt: number; rn: number; offset: number; size: 1 | 2 | 4 | 8; signed: boolean; is64: boolean; mode: 'offset' | 'pre' | 'post' })
  /** STR*: [address as for ldr] = low `size` bytes of rt. rt 31 = zr (stores 0). */
  | (Base & { op: 'str'; rt: number; rn: number; offset: number; size: 1 | 2 | 4 | 8; mode: 'offset' | 'pre' | 'post' })
  /** LDP/LDPSW: rt, rt2 = [rn + offset], [rn + offset + size]. */
  | (Base & { op: 'ldp'; rt: number; rt2: number; rn: number; offset: number; size: 4 | 8; signed: boolean; is64: boolean; mode: 'offset' | 'pre' | 'post' })
  /** STP: [rn + offset], [rn + offset + size] = rt, rt2. */
  | (Base & { op: 'stp'; rt: number; rt2: number; rn: number; offset: number; size: 4 | 8; mode: 'offset' | 'pre' | 'post' })
  | (Base & { op: 'bl'; target: A; offset: number })
  | (Base & { op: 'b'; target: A; offset: number })
  | (Base & { op: 'blr'; rn: number })
  | (Base & { op: 'br'; rn: number })
  | (Base & { op: 'ret'; rn: number })
  | (Base & { op: 'cbz'; rt: number; is64: boolean; target: A; offset: number })
  | (Base & { op: 'cbnz'; rt: number; is64: boolean; target: A; offset: number })
  | (Base & { op: 'tbz'; rt: number; bit: number; target: A; offset: number })
  | (Base & { op: 'tbnz'; rt: number; bit: number; target: A; offset: number })
  /** B.cond / BC.cond; cond 0..15 (0 = eq, 1 = ne, ..., 14 = al, 15 = nv). */
  | (Base & { op: 'bcond'; cond: number; target: A; offset: number })
  /** CSEL/CSINC/CSINV/CSNEG rd = cond ? rn : f(rm) (CSET, CINC, CNEG... are aliases). 31 = zr. */
  | (Base & { op: 'csel'; variant: 'csel' | 'csinc' | 'csinv' | 'csneg'; rd: number; rn: number; rm: number; cond: number; is64: boolean })
  | (Base & { op: 'other' });

export type Arm64Op = Arm64Insn['op'];

// ---------------------------------------------------------------------------------------
// Helpers.

/** Bit for register r in a `writes` mask: zr (31 in a zr context) gives 0. */
function wz(r: number): number {
  return r === 31 ? 0 : 1 << r;
}
/** Bit for register r where 31 means SP. */
function wsp(r: number): number {
  return r === 31 ? WRITES_SP : 1 << r;
}

/** Sign-extend the low `bits` bits of v. */
function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

function addOffset<A extends Addr>(pc: A, off: number): A {
  if (typeof pc === 'bigint') return BigInt.asUintN(64, pc + BigInt(off)) as A;
  return ((pc as number) + off) as A;
}

function pageOf<A extends Addr>(pc: A): A {
  if (typeof pc === 'bigint') return (pc & ~0xfffn) as A;
  return (Math.floor((pc as number) / 4096) * 4096) as A;
}

// Result registers of `bitMasks` (module-level to avoid allocating a pair per call).
let bmLo = 0;
let bmHi = 0;

/** Ones(k) for 0 <= k <= 32 as an unsigned number. */
function ones(k: number): number {
  return k >= 32 ? 0xffffffff : 2 ** k - 1;
}

/**
 * DecodeBitMasks (ARM ARM shared pseudocode), wmask only, for the logical-immediate
 * encodings. On success sets bmLo/bmHi (hi = 0 for datasize 32) and returns true; returns
 * false for a reserved encoding. Plain 32-bit arithmetic, no bigint.
 */
function bitMasks(n: number, imms: number, immr: number, datasize: 32 | 64): boolean {
  // len = HighestSetBit(N:NOT(imms)) over 7 bits
  const combined = ((n & 1) << 6) | (~imms & 0x3f);
  if (combined === 0) return false;
  const len = 31 - Math.clz32(combined);
  if (len < 1) return false; // reserved
  const esize = 1 << len;
  if (esize > datasize) return false; // N = 1 with a 32-bit register
  const levels = esize - 1;
  const s = imms & levels;
  const r = immr & levels;
  if (s === levels) return false; // an all-ones element is reserved
  if (esize === 64) {
    // welem = Ones(S+1) as two halves, then ROR by R within 64 bits
    let lo = s + 1 >= 32 ? 0xffffffff : ones(s + 1);
    let hi = s + 1 > 32 ? ones(s + 1 - 32) : 0;
    let rr = r;
    if (rr >= 32) {
      const t = lo;
      lo = hi;
      hi = t;
      rr -= 32;
    }
    if (rr > 0) {
      const nlo = ((lo >>> rr) | (hi << (32 - rr))) >>> 0;
      const nhi = ((hi >>> rr) | (lo << (32 - rr))) >>> 0;
      lo = nlo;
      hi = nhi;
    }
    bmLo = lo;
    bmHi = hi;
    return true;
  }
  // esize <= 32: rotate within esize bits, then replicate to 32 bits
  const emask = ones(esize);
  const welem = ones(s + 1);
  let v = r === 0 ? welem : (((welem >>> r) | (welem << (esize - r))) & emask) >>> 0;
  for (let e = esize; e < 32; e *= 2) v = (v | (v << e)) >>> 0;
  bmLo = v;
  bmHi = datasize === 64 ? v : 0;
  return true;
}

/**
 * DecodeBitMasks for the logical-immediate encodings (wmask only): `n`, `imms`, `immr` are
 * the instruction fields, `datasize` 32 or 64. Returns the immediate as a bigint
 * (< 2^datasize), or null for a reserved encoding. (The decoder itself uses the bigint-free
 * version; this wrapper is for callers and tests.)
 */
export function decodeBitMasks(n: number, imms: number, immr: number, datasize: 32 | 64): bigint | null {
  if (!bitMasks(n, imms, immr, datasize)) return null;
  return toBigInt({ lo: bmLo, hi: bmHi });
}

/**
 * Combine a movk with the register's previous value (lo/hi halves); returns the new halves.
 * For a 32-bit movk the upper half becomes 0 (writing a w register zeroes bits 63:32).
 */
export function applyMovk(prevLo: number, prevHi: number, insn: { imm: number; shift: number; is64: boolean }): { lo: number; hi: number } {
  let lo = prevLo >>> 0;
  let hi = insn.is64 ? prevHi >>> 0 : 0;
  const sh = insn.shift;
  if (sh < 32) lo = ((lo & ~(0xffff << sh)) | (insn.imm << sh)) >>> 0;
  else hi = ((hi & ~(0xffff << (sh - 32))) | (insn.imm << (sh - 32))) >>> 0;
  return { lo, hi };
}

/** The 64-bit value of a {lo, hi} pair as a bigint (for display and tests). */
export function toBigInt(v: { lo: number; hi: number }): bigint {
  return (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
}

// ---------------------------------------------------------------------------------------
// The decoder.

/**
 * What `decodeArm64` fills: one class with every field of every op (those an op does not use
 * are undefined), so that the code reading it sees one shape whatever the op. A caller that
 * decodes word after word passes its own and reads it before the next word (the lowering, the
 * prefilter): no object per instruction.
 */
export class Arm64Decoded {
  op: Arm64Op = 'other';
  writes = 0;
  rd: number | undefined = undefined;
  rn: number | undefined = undefined;
  rm: number | undefined = undefined;
  rt: number | undefined = undefined;
  rt2: number | undefined = undefined;
  imm: number | undefined = undefined;
  shift: number | undefined = undefined;
  is64: boolean | undefined = undefined;
  lo: number | undefined = undefined;
  hi: number | undefined = undefined;
  kind: 'and' | 'orr' | 'eor' | undefined = undefined;
  size: number | undefined = undefined;
  signed: boolean | undefined = undefined;
  target: Addr | undefined = undefined;
  offset: number | undefined = undefined;
  mode: 'offset' | 'pre' | 'post' | undefined = undefined;
  bit: number | undefined = undefined;
  cond: number | undefined = undefined;
  variant: 'csel' | 'csinc' | 'csinv' | 'csneg' | undefined = undefined;
}

/** Start `o` afresh as `op` writing `writes`, every other field undefined. */
function reset(o: Arm64Decoded, op: Arm64Op, writes: number): Arm64Decoded {
  o.op = op;
  o.writes = writes;
  o.rd = undefined;
  o.rn = undefined;
  o.rm = undefined;
  o.rt = undefined;
  o.rt2 = undefined;
  o.imm = undefined;
  o.shift = undefined;
  o.is64 = undefined;
  o.lo = undefined;
  o.hi = undefined;
  o.kind = undefined;
  o.size = undefined;
  o.signed = undefined;
  o.target = undefined;
  o.offset = undefined;
  o.mode = undefined;
  o.bit = undefined;
  o.cond = undefined;
  o.variant = undefined;
  return o;
}

/**
 * Decode one little-endian AArch64 instruction word at address `pc`.
 * `word` may be given signed or unsigned; it is taken modulo 2^32.
 */
export function decodeArm64<A extends Addr>(word: number, pc: A, out?: Arm64Decoded): Arm64Insn<A> {
  return decodeInto(word, pc, out ?? new Arm64Decoded()) as unknown as Arm64Insn<A>;
}

function decodeInto(word: number, pc: Addr, o: Arm64Decoded): Arm64Decoded {
  const w = word >>> 0;
  // NB: JavaScript's & yields a signed int32, so a mask with bit 31 set must be compared
  // as `(w & MASK) >>> 0 === VALUE` when VALUE has bit 31 set.
  const rd = w & 31; // Rd / Rt in bits 4:0 for most groups
  const rn = (w >>> 5) & 31;
  const sf = w >>> 31 === 1;

  // ---- Data processing -- immediate: op0 = 100x (bits 28:26 = 100)
  if ((w & 0x1c000000) === 0x10000000) {
    // PC-rel addressing: x immlo 10000 immhi Rd
    if ((w & 0x1f000000) === 0x10000000) {
      const imm = sext((((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3), 21);
      if (sf) {
        const offset = imm * 4096;
        reset(o, 'adrp', wz(rd));
        o.rd = rd;
        o.target = addOffset(pageOf(pc), offset);
        o.offset = offset;
        return o;
      }
      reset(o, 'adr', wz(rd));
      o.rd = rd;
      o.target = addOffset(pc, imm);
      o.offset = imm;
      return o;
    }
    // Add/sub (immediate): sf op S 100010 sh imm12 Rn Rd
    if ((w & 0x1f800000) === 0x11000000) {
      const isSub = (w & 0x40000000) !== 0;
      const setFlags = (w & 0x20000000) !== 0;
      if (setFlags) return reset(o, 'other', wz(rd)); // adds/subs/cmp/cmn: rd 31 = zr
      const imm = ((w >>> 10) & 0xfff) * ((w & 0x00400000) !== 0 ? 4096 : 1);
      reset(o, isSub ? 'sub' : 'add', wsp(rd));
      o.rd = rd;
      o.rn = rn;
      o.imm = imm;
      o.is64 = sf;
      return o;
    }
    // Logical (immediate): sf opc 100100 N immr imms Rn Rd
    if ((w & 0x1f800000) === 0x12000000) {
      const opc = (w >>> 29) & 3;
      const nbit = (w >>> 22) & 1;
      if (!sf && nbit) return reset(o, 'other', 0); // unallocated
      // AND/ORR/EOR: rd 31 = SP; ANDS: rd 31 = zr (tst)
      const writes = opc === 3 ? wz(rd) : wsp(rd);
      if (!bitMasks(nbit, (w >>> 10) & 0x3f, (w >>> 16) & 0x3f, sf ? 64 : 32)) return reset(o, 'other', 0);
      if (opc === 1 && rn === 31) {
        reset(o, 'mov', writes);
        o.rd = rd;
        o.is64 = sf;
        o.lo = bmLo;
        o.hi = bmHi;
        return o;
      }
      if (opc === 3 && rd === 31) return reset(o, 'other', writes); // tst
      reset(o, 'logic', writes);
      o.kind = opc === 1 ? 'orr' : opc === 2 ? 'eor' : 'and';
      o.rd = rd;
      o.rn = rn;
      o.is64 = sf;
      o.lo = bmLo;
      o.hi = bmHi;
      return o;
    }
    // Move wide (immediate): sf opc 100101 hw imm16 Rd
    if ((w & 0x1f800000) === 0x12800000) {
      const opc = (w >>> 29) & 3;
      const hw = (w >>> 21) & 3;
      if (opc === 1 || (!sf && hw >= 2)) return reset(o, 'other', 0); // unallocated
      const imm = (w >>> 5) & 0xffff;
      const shift = hw * 16;
      const writes = wz(rd);
      if (opc === 3) {
        reset(o, 'movk', writes);
        o.rd = rd;
        o.imm = imm;
        o.shift = shift;
        o.is64 = sf;
        return o;
      }
      // value = imm << shift as two halves
      let lo = shift < 32 ? (imm << shift) >>> 0 : 0;
      let hi = shift >= 32 ? (imm << (shift - 32)) >>> 0 : 0;
      if (opc === 0) {
        lo = ~lo >>> 0;
        hi = sf ? ~hi >>> 0 : 0;
        reset(o, 'movn', writes);
        o.rd = rd;
        o.imm = imm;
        o.shift = shift;
        o.is64 = sf;
        o.lo = lo;
        o.hi = hi;
        return o;
      }
      reset(o, 'movz', writes);
      o.rd = rd;
      o.imm = imm;
      o.shift = shift;
      o.is64 = sf;
      o.lo = lo;
      o.hi = hi;
      return o;
    }
    // Bitfield, extract, add/sub with tags, min/max imm: all write Rd (zr for 31, except ADDG/SUBG = SP)
    if ((w & 0x1f800000) === 0x11800000) return reset(o, 'other', wsp(rd)); // ADDG/SUBG
    return reset(o, 'other', wz(rd));
  }

  // ---- Branches, exception generating and system: op0 = 101x
  if ((w & 0x1c000000) === 0x14000000) {
    // B / BL: op 00101 imm26
    if ((w & 0x7c000000) === 0x14000000) {
      const offset = sext(w & 0x3ffffff, 26) * 4;
      const target = addOffset(pc, offset);
      reset(o, sf ? 'bl' : 'b', sf ? 1 << 30 : 0);
      o.target = target;
      o.offset = offset;
      return o;
    }
    // CBZ/CBNZ: sf 011010 op imm19 Rt
    if ((w & 0x7e000000) === 0x34000000) {
      const offset = sext((w >>> 5) & 0x7ffff, 19) * 4;
      reset(o, (w & 0x01000000) !== 0 ? 'cbnz' : 'cbz', 0);
      o.rt = rd;
      o.is64 = sf;
      o.target = addOffset(pc, offset);
      o.offset = offset;
      return o;
    }
    // TBZ/TBNZ: b5 011011 op b40 imm14 Rt
    if ((w & 0x7e000000) === 0x36000000) {
      const offset = sext((w >>> 5) & 0x3fff, 14) * 4;
      const bit = ((w >>> 31) << 5) | ((w >>> 19) & 31);
      reset(o, (w & 0x01000000) !== 0 ? 'tbnz' : 'tbz', 0);
      o.rt = rd;
      o.bit = bit;
      o.target = addOffset(pc, offset);
      o.offset = offset;
      return o;
    }
    // B.cond / BC.cond: 01010100 imm19 x cond
    if ((w & 0xff000000) === 0x54000000) {
      const offset = sext((w >>> 5) & 0x7ffff, 19) * 4;
      reset(o, 'bcond', 0);
      o.cond = w & 15;
      o.target = addOffset(pc, offset);
      o.offset = offset;
      return o;
    }
    // Unconditional branch (register): 1101011 opc op2=11111 op3 Rn op4
    if ((w & 0xfe1f0000) >>> 0 === 0xd61f0000) {
      const opc = (w >>> 21) & 15;
      const op3 = (w >>> 10) & 63;
      const op4 = w & 31;
      // plain form: op3 = 0, op4 = 0; PAC zero-modifier form (…AAZ/…ABZ, RETAA/RETAB): op3 = 00001x, op4 = 11111
      const plain = op3 === 0 && op4 === 0;
      const pacZ = (op3 === 2 || op3 === 3) && op4 === 31;
      if (plain || pacZ) {
        if (opc === 0) {
          reset(o, 'br', 0);
          o.rn = rn;
          return o;
        }
        if (opc === 1) {
          reset(o, 'blr', 1 << 30);
          o.rn = rn;
          return o;
        }
        if (opc === 2) {
          reset(o, 'ret', 0);
          o.rn = pacZ ? 30 : rn;
          return o;
        }
      }
      // BLRAA/BLRAB (opc 1001): link register written
      if (opc === 9) return reset(o, 'other', 1 << 30);
      return reset(o, 'other', 0);
    }
    // Pointer-authentication hints sign or strip a register in place: PACIASP, AUTIBSP, PACIAZ,
    // ..., XPACLRI write x30; PACIA1716 & co. write x17 (CRm = 0001 / 0011, or 0000 op2 = 111).
    if ((w & 0xfffff01f) >>> 0 === 0xd503201f) {
      const crm = (w >>> 8) & 15;
      const op2 = (w >>> 5) & 7;
      if (crm === 3 || (crm === 0 && op2 === 7)) return reset(o, 'other', 1 << 30);
      if (crm === 1 && (op2 === 0 || op2 === 2 || op2 === 4 || op2 === 6)) return reset(o, 'other', 1 << 17);
      return reset(o, 'other', 0);
    }
    // System instructions with L = 1 (MRS, SYSL) write Rt.
    if ((w & 0xffe00000) >>> 0 === 0xd5200000) return reset(o, 'other', wz(rd));
    return reset(o, 'other', 0);
  }

  // ---- Loads and stores: op0 = x1x0 (bit 27 = 1, bit 25 = 0)
  if ((w & 0x0a000000) === 0x08000000) return decodeLoadStore(w, pc, o);

  // ---- Data processing -- register: op0 = x101
  if ((w & 0x0e000000) === 0x0a000000) {
    // ORR (shifted register): sf 01 01010 shift 0 Rm imm6 Rn Rd; MOV alias when Rn = zr, imm6 = 0, shift = LSL
    if ((w & 0x7f200000) === 0x2a000000) {
      const imm6 = (w >>> 10) & 63;
      const shift = (w >>> 22) & 3;
      if (rn === 31 && imm6 === 0 && shift === 0) {
        reset(o, 'movreg', wz(rd));
        o.rd = rd;
        o.rm = (w >>> 16) & 31;
        o.is64 = sf;
        return o;
      }
      return reset(o, 'other', wz(rd));
    }
    // Add/sub (extended register), non-flag-setting: Rd 31 = SP
    if ((w & 0x3f200000) === 0x0b200000) return reset(o, 'other', wsp(rd));
    // Conditional compare (CCMN/CCMP, register and immediate) write only flags
    if ((w & 0x1fe00000) === 0x1a400000) return reset(o, 'other', 0);
    // Conditional select: sf op 0 11010100 Rm cond op2 Rn Rd (CSEL, CSINC, CSINV, CSNEG)
    if ((w & 0x3fe00800) === 0x1a800000) {
      const variant = (['csel', 'csinc', 'csinv', 'csneg'] as const)[(((w >>> 30) & 1) << 1) | ((w >>> 10) & 1)];
      reset(o, 'csel', wz(rd));
      o.variant = variant;
      o.rd = rd;
      o.rn = rn;
      o.rm = (w >>> 16) & 31;
      o.cond = (w >>> 12) & 15;
      o.is64 = sf;
      return o;
    }
    // Everything else here (logical/add-sub shifted, adc, csel, dp 1/2/3 source, flags ops) writes Rd (31 = zr)
    return reset(o, 'other', wz(rd));
  }

  // ---- SIMD & FP: op0 = x111. Only the moves/conversions into general registers write one.
  if ((w & 0x0e000000) === 0x0e000000) {
    // Conversion between FP and integer: sf 0 S 11110 type 1 rmode opcode 000000 Rn Rd.
    // The destination is a general register for opcode 000/001 (FCVT{N,P,M,Z}{S,U}),
    // 100/101 (FCVTA{S,U}) and 110 (FMOV to general, FJCVTZS); 010/011 (SCVTF/UCVTF) and
    // 111 (FMOV from general) write a SIMD/FP register.
    if ((w & 0x5f20fc00) === 0x1e200000) {
      const opcode = (w >>> 16) & 7;
      const toGeneral = opcode <= 1 || (opcode >= 4 && opcode <= 6);
      return reset(o, 'other', toGeneral ? wz(rd) : 0);
    }
    // Conversion between FP and fixed-point: sf 0 S 11110 type 0 rmode opcode scale Rn Rd.
    // FCVTZS/FCVTZU (opcode 000/001) write a general register; SCVTF/UCVTF do not.
    if ((w & 0x5f200000) === 0x1e000000) {
      return reset(o, 'other', ((w >>> 16) & 7) <= 1 ? wz(rd) : 0);
    }
    // Advanced SIMD copy: UMOV/SMOV (0 Q 0 01110000 imm5 0 imm4 1 Rn Rd, imm4 = 0101 or 0111)
    if ((w & 0xbfe08400) === 0x0e000400) {
      const imm4 = (w >>> 11) & 15;
      if (imm4 === 5 || imm4 === 7) return reset(o, 'other', wz(rd));
    }
    return reset(o, 'other', 0);
  }

  // op0 = 0000 / 0001 / 0010 / 0011: reserved, SME, SVE: no general-register writes we model.
  return reset(o, 'other', 0);
}

function decodeLoadStore(w: number, pc: Addr, o: Arm64Decoded): Arm64Decoded {
  const rt = w & 31;
  const rn = (w >>> 5) & 31;
  const v = (w & 0x04000000) !== 0; // SIMD/FP register

  // Load register (literal): opc 011 V 00 imm19 Rt
  if ((w & 0x3b000000) === 0x18000000) {
    if (v) return reset(o, 'other', 0);
    const opc = w >>> 30;
    if (opc === 3) return reset(o, 'other', 0); // PRFM (literal)
    const offset = sext((w >>> 5) & 0x7ffff, 19) * 4;
    const size = opc === 1 ? 8 : 4;
    reset(o, 'ldrlit', wz(rt));
    o.rt = rt;
    o.size = size;
    o.signed = opc === 2;
    o.is64 = opc !== 0;
    o.target = addOffset(pc, offset);
    o.offset = offset;
    return o;
  }

  // Load/store pair: opc 101 V 0 type L imm7 Rt2 Rn Rt. type: 00 no-allocate, 01 post, 10 offset, 11 pre.
  if ((w & 0x3a000000) === 0x28000000) {
    const type = (w >>> 23) & 3;
    const load = (w & 0x00400000) !== 0;
    const rt2 = (w >>> 10) & 31;
    const wb = type === 1 || type === 3 ? wsp(rn) : 0;
    const opc = w >>> 30;
    if (v || opc === 3 || (opc === 1 && (!load || type === 0))) {
      // SIMD pairs, STGP, unallocated (opc 11; LDNP with opc 01): only the base writeback
      // reaches a general register.
      return reset(o, 'other', wb);
    }
    const size = opc === 2 ? 8 : 4;
    const offset = sext((w >>> 15) & 0x7f, 7) * size;
    const mode = type === 1 ? 'post' : type === 3 ? 'pre' : 'offset';
    if (load) {
      reset(o, 'ldp', (wz(rt) | wz(rt2) | wb) >>> 0);
      o.rt = rt;
      o.rt2 = rt2;
      o.rn = rn;
      o.offset = offset;
      o.size = size;
      o.signed = opc === 1;
      o.is64 = opc !== 0;
      o.mode = mode;
      return o;
    }
    reset(o, 'stp', wb >>> 0);
    o.rt = rt;
    o.rt2 = rt2;
    o.rn = rn;
    o.offset = offset;
    o.size = size;
    o.mode = mode;
    return o;
  }

  // Load/store register: size 111 V 0x opc ...
  if ((w & 0x3a000000) === 0x38000000) {
    const sizeBits = w >>> 30;
    const opc = (w >>> 22) & 3;
    const unsignedImm = (w & 0x01000000) !== 0;
    let mode: 'offset' | 'pre' | 'post' | null = null;
    let offset = 0;
    if (unsignedImm) {
      mode = 'offset';
      offset = ((w >>> 10) & 0xfff) << sizeBits;
    } else if ((w & 0x00200000) === 0) {
      // imm9 forms: bits 11:10 = 00 unscaled, 01 post-index, 10 unprivileged, 11 pre-index
      const k = (w >>> 10) & 3;
      offset = sext((w >>> 12) & 0x1ff, 9);
      mode = k === 0 || k === 2 ? 'offset' : k === 1 ? 'post' : 'pre';
    }
    const wb = mode === 'pre' || mode === 'post' ? wsp(rn) : 0;
    if (v) return reset(o, 'other', wb);
    if (mode === null) {
      // Register offset, atomic memory ops (LDADD & co., SWP: write Rt), LDRAA/LDRAB (Rt, maybe Rn).
      // Over-approximate: Rt (zr = no write), plus the base for LDRAA/LDRAB pre-index (bit 11).
      const ra = (w & 0x00200c00) === 0x00200c00 || (w & 0x00200400) === 0x00200400; // LDRA*
      const regOffset = (w & 0x00200c00) === 0x00200800;
      if (regOffset && (opc === 0 || (sizeBits === 3 && opc === 2))) return reset(o, 'other', 0); // STR*, PRFM
      return reset(o, 'other', (wz(rt) | (ra && (w & 0x800) !== 0 ? wsp(rn) : 0)) >>> 0);
    }
    const size = (1 << sizeBits) as 1 | 2 | 4 | 8;
    if (opc === 0) {
      reset(o, 'str', wb >>> 0);
      o.rt = rt;
      o.rn = rn;
      o.offset = offset;
      o.size = size;
      o.mode = mode;
      return o;
    }
    if (opc === 1) {
      reset(o, 'ldr', (wz(rt) | wb) >>> 0);
      o.rt = rt;
      o.rn = rn;
      o.offset = offset;
      o.size = size;
      o.signed = false;
      o.is64 = sizeBits === 3;
      o.mode = mode;
      return o;
    }
    // opc 1x: signed loads (to x for opc 10, to w for opc 11); size 8 opc 10 = PRFM, size 4 opc 11 / size 8 opc 11 unallocated
    if (sizeBits === 3 || (sizeBits === 2 && opc === 3)) return reset(o, 'other', wb >>> 0);
    reset(o, 'ldr', (wz(rt) | wb) >>> 0);
    o.rt = rt;
    o.rn = rn;
    o.offset = offset;
    o.size = size;
    o.signed = true;
    o.is64 = opc === 2;
    o.mode = mode;
    return o;
  }

  // Load/store exclusive, ordered, compare-and-swap: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt
  if ((w & 0x3f000000) === 0x08000000) {
    const o2 = (w & 0x00800000) !== 0;
    const load = (w & 0x00400000) !== 0;
    const o1 = (w & 0x00200000) !== 0;
    const rs = (w >>> 16) & 31;
    const rt2 = (w >>> 10) & 31;
    let m = 0;
    if (o1 && o2) m = wz(rs); // CAS*: the compare register Rs receives the old value
    else if (o1 && w >>> 31 === 0) m = wz(rs) | (rs < 30 ? wz(rs + 1) : 0); // CASP*: Rs, Rs+1
    else if (load) m = wz(rt) | (o1 ? wz(rt2) : 0); // LDXR/LDAXR/LDAR/LDLAR, LDXP/LDAXP
    else if (!o2) m = wz(rs); // STXR/STLXR/STXP/STLXP: status register
    // STLR/STLLR (o2 = 1, L = 0): no register write
    return reset(o, 'other', m >>> 0);
  }

  // LDAPUR*/STLUR (RCpc, unscaled): size 011001 opc 0 imm9 00 Rn Rt; opc 00 = store.
  if ((w & 0x3f200c00) === 0x19000000) return reset(o, 'other', ((w >>> 22) & 3) !== 0 ? wz(rt) : 0);

  // AdvSIMD load/store multiple or single structures, post-indexed (LD1-LD4, ST1-ST4, LD1R-LD4R
  // with `[xn], #imm` or `[xn], xm`): 0 Q 0011 0 x 1 L ... Rn Rt. The base Rn (31 = SP) is written back.
  if ((w & 0xbe800000) >>> 0 === 0x0c800000) return reset(o, 'other', wsp(rn) >>> 0);

  // Anything else in the group (memory tags, SIMD structures without writeback, ...):
  // stores write nothing we can name cheaply; loads write Rt. Over-approximate: Rt for loads (bit 22).
  if (v) return reset(o, 'other', 0);
  return reset(o, 'other', (w & 0x00400000) !== 0 ? wz(rt) : 0);
}
