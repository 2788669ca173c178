/**
 * A table-driven x86/x64 decoder for what the engine reads per instruction, without an object
 * per instruction: `decodeX86(bytes, pos, end, bitness, ip, out)` decodes the instruction at
 * `bytes[pos]` into `out`, an Int32Array of `X86_FIELDS` integers (the `F_*` indexes below), and
 * returns its length (0 when it is invalid, as iced-x86's `Code.INVALID`).
 *
 * What it decodes, as iced-x86 1.21 (DecoderOptions.None) does, and as test/x86-diff.test.ts
 * checks instruction by instruction (fixtures, random bytes; scripts/x86-diff-devset.mjs the
 * development corpus):
 * - the length of every instruction, and whether it is valid: prefixes 66/67/F2/F3/lock/segment
 *   and REX (only right before the opcode; several of them, the last REX; at most 15 bytes; a
 *   truncated instruction at the end of the buffer is invalid); the one-byte, 0F, 0F38 and 0F3A
 *   maps with 3DNow!; VEX (C4/C5), XOP (8F) and EVEX (62), which in 32-bit mode are LES/LDS/
 *   BOUND/POP unless their second byte says otherwise; ModRM, SIB and displacement, 16-bit
 *   addressing under 67 in 32-bit mode, RIP-relative operands in 64-bit mode; immediates by
 *   operand size (66, REX.W), the F6/F7 /0 /1 `test` immediate, ENTER, MOV moffs by address size.
 *   Which opcode is valid under which prefixes, ModRM, REX/VEX/EVEX bits is data: the tables of
 *   data/x86-decode.json, probed from iced-x86 by scripts/gen-x86-tables.mjs.
 * - the flow class (`F_FLOW`, iced's FlowControl numbering, `FLOW_*`), and the near-branch
 *   target of a direct call/jmp/jcc/loop/xbegin (`F_TARGET`, the low 32 bits of ip + length +
 *   displacement, truncated to 16 bits under a 16-bit operand size as iced does; `F_BRANCH` =
 *   16, 32 or 64, the NearBranch operand's size, 0 when there is none).
 * - the mnemonic class (`F_MN`, `MN_*`) of the integer instructions the lowering reads: mov,
 *   lea, add, sub, push, pop, call, jmp, jcc, ret, retf, leave, xor, xchg, movsxd, movzx, cmp,
 *   cmovcc, int3, nop; everything else is `MN_OTHER`.
 * - for those, the first two operands (`F_OP0_*`, `F_OP1_*`): kind (`OK_*`: register, memory,
 *   immediate, near branch, or OK_NOT_MODELLED), register (`R_*` numbers: 0-15 the general
 *   registers, 16-19 AH CH DH BH) and size in bytes; the memory operand (base, index: register
 *   numbers or -1, R_RIP for RIP/EIP-relative; scale 1/2/4/8; displacement: the low 32 bits,
 *   for a RIP-relative operand the address it names, as iced reports it; address size; the
 *   segment prefix); the immediate's low and high 32 bits (iced's `immediate()`, i.e. sign-
 *   extended as the operand kind says); the condition code of jcc/cmovcc (`F_COND`, 0 = o ... 15 = g).
 *
 * Not modelled (left OK_NOT_MODELLED or 0, never guessed):
 * - segment, control and debug register operands of mov/push/pop (`mov eax, cs`, `mov cr0, eax`,
 *   `push fs`), far pointers (`call/jmp ptr16:32`, `jmp far [m]`'s width), the moffs operand of
 *   `mov al, [moffs64]` whose address does not fit 32 bits (its low bits are still in F_MEM_DISP,
 *   F_MEM_DISP_HI holds the rest), and the string/implicit operands of other instructions;
 * - the operands of every instruction outside the classes above (their length, validity and
 *   flow are modelled; F_OP*_KIND is OK_NONE);
 * - the memory operand's access size for lea (none) and push/pop of memory (the operand size);
 * - MPX, KNC (MVEX), Cyrix and other decoder options iced leaves off by default (as iced:
 *   their encodings decode as the default instructions or are invalid).
 */
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { dataPath } from '../../tag/routines.js';

// ---- the output record ----------------------------------------------------------------------

export const F_LEN = 0;
export const F_FLOW = 1;
export const F_MN = 2;
export const F_TARGET = 3;
export const F_BRANCH = 4;
export const F_OP0_KIND = 5;
export const F_OP0_REG = 6;
export const F_OP0_SIZE = 7;
export const F_OP1_KIND = 8;
export const F_OP1_REG = 9;
export const F_OP1_SIZE = 10;
export const F_MEM_BASE = 11;
export const F_MEM_INDEX = 12;
export const F_MEM_SCALE = 13;
export const F_MEM_DISP = 14;
export const F_MEM_DISP_HI = 15;
export const F_ADDR_SIZE = 16;
export const F_SEG = 17;
export const F_IMM_LO = 18;
export const F_IMM_HI = 19;
export const F_COND = 20;
export const F_OPSIZE = 21;
export const X86_FIELDS = 22;

/** iced's FlowControl values. */
export const FLOW_NEXT = 0;
export const FLOW_UNCONDITIONAL = 1;
export const FLOW_INDIRECT_BRANCH = 2;
export const FLOW_CONDITIONAL = 3;
export const FLOW_RETURN = 4;
export const FLOW_CALL = 5;
export const FLOW_INDIRECT_CALL = 6;
export const FLOW_INTERRUPT = 7;
export const FLOW_XBEGIN = 8;
export const FLOW_EXCEPTION = 9;

export const MN_OTHER = 0;
export const MN_MOV = 1;
export const MN_LEA = 2;
export const MN_ADD = 3;
export const MN_SUB = 4;
export const MN_PUSH = 5;
export const MN_POP = 6;
export const MN_CALL = 7;
export const MN_JMP = 8;
export const MN_JCC = 9;
export const MN_RET = 10;
export const MN_RETF = 11;
export const MN_LEAVE = 12;
export const MN_XOR = 13;
export const MN_XCHG = 14;
export const MN_MOVSXD = 15;
export const MN_MOVZX = 16;
export const MN_CMP = 17;
export const MN_CMOVCC = 18;
export const MN_INT3 = 19;
export const MN_NOP = 20;
export const MN_NAMES = ['other', 'mov', 'lea', 'add', 'sub', 'push', 'pop', 'call', 'jmp', 'jcc', 'ret', 'retf', 'leave', 'xor', 'xchg', 'movsxd', 'movzx', 'cmp', 'cmovcc', 'int3', 'nop'];

export const OK_NONE = 0;
export const OK_REG = 1;
export const OK_MEM = 2;
export const OK_IMM = 3;
export const OK_BRANCH = 4;
export const OK_NOT_MODELLED = 5;

/** Register numbers: 0-15 rax..r15 (by size), 16-19 ah ch dh bh, R_RIP as a memory base. */
export const R_AH = 16;
export const R_RIP = 20;
export const R_NONE = -1;

/** A fresh output record. */
export function x86Out(): Int32Array {
  return new Int32Array(X86_FIELDS);
}

// ---- the tables --------------------------------------------------------------------------------

interface Packed {
  rows: string;
  info: string;
  mn?: string;
  flow?: string;
  patterns: number;
  data: string;
}
const unpack = (s: string): Uint8Array => new Uint8Array(inflateSync(Buffer.from(s, 'base64')));
const u16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength >> 1);
const u32 = (b: Uint8Array) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2);

const T = JSON.parse(readFileSync(dataPath('x86-decode.json'), 'utf8')) as {
  mnemonics: string[];
  legacy: Packed;
  d3now: string;
  vex: Packed;
  xop: Packed;
  evex: Packed;
};
if (T.mnemonics.join() !== MN_NAMES.join()) throw new Error('data/x86-decode.json: mnemonic classes differ from x86-fast.ts');
/** Legacy rows ((mode * 4 + map) * 256 + opcode) * 6 + prefix state -> pattern; patterns of 80 ModRM classes, a mask over {lock, 67, W, R, B}. */
const LEG_ROW = u16(unpack(T.legacy.rows));
const LEG_INFO = unpack(T.legacy.info);
const LEG_PAT = u32(unpack(T.legacy.data));
const LEG_MN = unpack(T.legacy.mn!);
const LEG_FLOW = unpack(T.legacy.flow!);
const D3NOW = unpack(T.d3now);
const VEX_ROW = u16(unpack(T.vex.rows));
const VEX_INFO = unpack(T.vex.info);
const VEX_PAT = u32(unpack(T.vex.data));
const XOP_ROW = u16(unpack(T.xop.rows));
const XOP_INFO = unpack(T.xop.info);
const XOP_PAT = u32(unpack(T.xop.data));
const EV_ROW = u16(unpack(T.evex.rows));
const EV_INFO = unpack(T.evex.info);
const EV_PAT = u16(unpack(T.evex.data));

/** Prefix kinds of the first byte: 1 = 66, 2 = 67, 3 = lock, 4 = F2, 5 = F3, 6 = ES/CS/SS/DS, 7 = FS/GS. */
const PREFIX = new Uint8Array(256);
PREFIX[0x66] = 1;
PREFIX[0x67] = 2;
PREFIX[0xf0] = 3;
PREFIX[0xf2] = 4;
PREFIX[0xf3] = 5;
PREFIX[0x26] = 6;
PREFIX[0x2e] = 6;
PREFIX[0x36] = 6;
PREFIX[0x3e] = 6;
PREFIX[0x64] = 7;
PREFIX[0x65] = 7;
/** Segment prefix byte -> 1..6 = ES CS SS DS FS GS (iced's Register order). */
const SEG_OF = new Uint8Array(256);
SEG_OF[0x26] = 1;
SEG_OF[0x2e] = 2;
SEG_OF[0x36] = 3;
SEG_OF[0x3e] = 4;
SEG_OF[0x64] = 5;
SEG_OF[0x65] = 6;
/** 16-bit addressing: base and index register of each r/m (bx=3 bp=5 si=6 di=7). */
const A16_BASE = Int8Array.from([3, 3, 5, 5, 6, 7, 5, 3]);
const A16_INDEX = Int8Array.from([6, 7, 6, 7, -1, -1, -1, -1]);

// ---- decoding state (module-level scratch: the decoder is not re-entrant, nor needs to be) --------

let mMod = 0;
let mReg = 0;
let mRm = 0;
let mBase = -1;
let mIndex = -1;
let mScale = 0;
let mDisp = 0;
let mDispAt = 0;
let mDispSize = 0;

/**
 * Decode the ModRM at `p` (and its SIB and displacement) for an address size of 16, 32 or 64
 * bits; returns the offset after them, or -1 past `limit`. Sets the m* scratch fields and
 * returns the class index through `mCls`.
 */
let mCls = 0;
function modrm(b: Uint8Array, p: number, limit: number, asize: number, rexX: number, rexB: number): number {
  if (p >= limit) return -1;
  const m = b[p++];
  const mod = m >> 6;
  const reg = (m >> 3) & 7;
  const rm = m & 7;
  mMod = mod;
  mReg = reg;
  mRm = rm;
  mBase = -1;
  mIndex = -1;
  mScale = 1;
  mDispSize = 0;
  if (mod === 3) {
    mCls = reg * 8 + rm;
    return p;
  }
  mCls = 64 + reg;
  if (asize === 16) {
    if (mod === 0 && rm === 6) mDispSize = 2;
    else {
      mBase = A16_BASE[rm];
      mIndex = A16_INDEX[rm];
      mDispSize = mod === 1 ? 1 : mod === 2 ? 2 : 0;
    }
  } else {
    if (rm === 4) {
      if (p >= limit) return -1;
      const sib = b[p++];
      mCls = 72 + reg;
      const base = sib & 7;
      const index = ((sib >> 3) & 7) | rexX;
      if (index !== 4) {
        mIndex = index;
        mScale = 1 << (sib >> 6);
      } else mScale = 1 << (sib >> 6); // no index: iced keeps the scale
      if (mod === 0 && base === 5) mDispSize = 4;
      else mBase = base | rexB;
    } else if (mod === 0 && rm === 5) {
      mDispSize = 4;
      if (asize !== 0 && is64Mode) mBase = R_RIP;
    } else mBase = rm | rexB;
    if (mod === 1) mDispSize = 1;
    else if (mod === 2) mDispSize = 4;
  }
  mDispAt = p;
  p += mDispSize;
  return p > limit ? -1 : p;
}
let is64Mode = false;
/**
 * `decodeX86(..., lengthsOnly)`: the operands are left out (OK_NONE) except for `lea`'s, which
 * a sweep reads to tell gcc's multi-byte nops (`lea esi, [esi+0]`); length, flow, mnemonic class
 * and branch target are always decoded.
 */
let skipOperands = false;

function readDisp(b: Uint8Array): number {
  const p = mDispAt;
  switch (mDispSize) {
    case 1:
      return (b[p] << 24) >> 24;
    case 2:
      return (b[p] | (b[p + 1] << 8)) << 16 >> 16;
    case 4:
      return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  }
  return 0;
}

function invalid(out: Int32Array): number {
  out[F_LEN] = 0;
  out[F_FLOW] = FLOW_EXCEPTION;
  out[F_MN] = MN_OTHER;
  out[F_BRANCH] = 0;
  out[F_OP0_KIND] = OK_NONE;
  out[F_OP1_KIND] = OK_NONE;
  return 0;
}

/**
 * Decode one instruction at `b[pos]` (the buffer ends at `end`) in 32- or 64-bit mode, at
 * address `ip` (an RVA: targets are computed from it). Fills `out` and returns the length,
 * 0 when the bytes are not a valid instruction (or run past `end` or 15 bytes). With
 * `lengthsOnly`, operands are decoded for `lea` only (what a linear sweep needs).
 */
export function decodeX86(b: Uint8Array, pos: number, end: number, bitness: 32 | 64, ip: number, out: Int32Array, lengthsOnly = false): number {
  const is64 = bitness === 64;
  is64Mode = is64;
  skipOperands = lengthsOnly;
  const limit = end - pos > 15 ? pos + 15 : end;
  let p = pos;
  let has66 = 0;
  let mp = 0; // mandatory prefix: 0 none, 1 66, 2 F3, 3 F2
  let lock = 0;
  let a67 = 0;
  let seg = 0;
  let segPrio = 0;
  let rex = 0;
  let op = 0;
  for (;;) {
    if (p >= limit) return invalid(out);
    op = b[p];
    const k = PREFIX[op];
    if (k === 0) {
      if (is64 && (op & 0xf0) === 0x40) {
        rex = op;
        p++;
        continue;
      }
      break;
    }
    p++;
    rex = 0;
    switch (k) {
      case 1:
        has66 = 1;
        if (mp === 0) mp = 1;
        break;
      case 2:
        a67 = 1;
        break;
      case 3:
        lock = 1;
        break;
      case 4:
        mp = 3;
        break;
      case 5:
        mp = 2;
        break;
      case 6:
        if (!is64 || segPrio === 0) seg = SEG_OF[op];
        break;
      case 7:
        seg = SEG_OF[op];
        segPrio = 1;
        break;
    }
  }
  out[F_SEG] = seg;
  const asize = is64 ? (a67 ? 32 : 64) : a67 ? 16 : 32;
  out[F_ADDR_SIZE] = asize;
  p++; // the opcode byte
  const mode = is64 ? 1 : 0;
  if (op === 0x0f) {
    if (p >= limit) return invalid(out);
    const o2 = b[p++];
    if (o2 === 0x38 || o2 === 0x3a) {
      if (p >= limit) return invalid(out);
      return legacy(b, pos, p + 1, limit, mode, o2 === 0x38 ? 2 : 3, b[p], has66, mp, lock, a67, asize, rex, ip, out);
    }
    return legacy(b, pos, p, limit, mode, 1, o2, has66, mp, lock, a67, asize, rex, ip, out);
  }
  if (op === 0xc4 || op === 0xc5 || op === 0x62 || op === 0x8f) {
    if (p >= limit) return invalid(out);
    const b1 = b[p];
    const vex = op === 0x8f ? (b1 & 0x1f) >= 8 : is64 || b1 >= 0xc0;
    if (vex) {
      if (rex !== 0 || mp !== 0) return invalid(out); // REX, 66, F2 or F3 before VEX/XOP/EVEX
      if (op === 0x62) return evex(b, pos, p, limit, mode, lock, a67, asize, out);
      return vexXop(b, pos, p, limit, mode, op, lock, a67, asize, out);
    }
  }
  return legacy(b, pos, p, limit, mode, 0, op, has66, mp, lock, a67, asize, rex, ip, out);
}

function legacy(
  b: Uint8Array,
  pos: number,
  p: number,
  limit: number,
  mode: number,
  map: number,
  op: number,
  has66: number,
  mp: number,
  lock: number,
  a67: number,
  asize: number,
  rex: number,
  ip: number,
  out: Int32Array,
): number {
  const pfx = mp < 2 ? mp : has66 ? mp + 2 : mp;
  const row = ((mode * 4 + map) * 256 + op) * 6 + pfx;
  const w = (rex >> 3) & 1;
  const info = LEG_INFO[row * 2 + w];
  let imm = info & 15;
  let cls = 0;
  if (map === 1 && (op & 0xfc) === 0x20) {
    // mov to/from control and debug registers: the ModRM is read as a register form whatever its mod
    if (p >= limit) return invalid(out);
    const m = b[p++];
    mMod = 3;
    mReg = (m >> 3) & 7;
    mRm = m & 7;
    cls = mReg * 8 + mRm;
    imm = 0;
  } else if (info & 0x80) {
    p = modrm(b, p, limit, asize, (rex & 2) << 2, (rex & 1) << 3);
    if (p < 0) return invalid(out);
    cls = mCls;
    if (map === 0 && (op === 0xf6 || op === 0xf7) && mReg >= 2) imm = 0;
  } else {
    mMod = 3;
    if (map === 0 && op >= 0xa0 && op <= 0xa3) imm = asize >> 3;
  }
  const flips = lock | (a67 << 1) | (w << 2) | (((rex >> 2) & 1) << 3) | ((rex & 1) << 4);
  if (((LEG_PAT[LEG_ROW[row] * 80 + cls] >>> flips) & 1) === 0) return invalid(out);
  const immAt = p;
  p += imm;
  if (p > limit) return invalid(out);
  if (map === 1 && op === 0x0f && (D3NOW[mode * 256 + b[immAt]] & (mMod === 3 ? 1 : 2)) === 0) return invalid(out);
  const len = p - pos;
  const k = row * 80 + cls;
  out[F_LEN] = len;
  out[F_FLOW] = LEG_FLOW[k];
  let mn = LEG_MN[k];
  if (mn === MN_NOP && map === 0 && op === 0x90 && (rex & 1) !== 0) mn = MN_XCHG; // xchg r8, rax
  out[F_MN] = mn;
  out[F_BRANCH] = 0;
  out[F_OP0_KIND] = OK_NONE;
  out[F_OP1_KIND] = OK_NONE;
  // operand size of the instruction's general operands
  const is64 = mode === 1;
  let osize = rex & 8 ? 8 : has66 ? 2 : 4;
  out[F_OPSIZE] = osize;
  // near branches: rel8 / rel16 / rel32 after the opcode
  const flow = LEG_FLOW[k];
  if (flow === FLOW_CALL || flow === FLOW_UNCONDITIONAL || flow === FLOW_CONDITIONAL || flow === FLOW_XBEGIN) {
    if (isRelBranch(map, op, cls)) {
      const rel = imm === 1 ? (b[immAt] << 24) >> 24 : imm === 2 ? ((b[immAt] | (b[immAt + 1] << 8)) << 16) >> 16 : b[immAt] | (b[immAt + 1] << 8) | (b[immAt + 2] << 16) | (b[immAt + 3] << 24);
      // the branch's operand size: 64-bit mode ignores 66 (iced, Intel) except on jrcxz-like
      // forms, where iced uses it; 32-bit mode honours it
      let bsize = is64 ? 64 : has66 ? 16 : 32;
      if (is64 && has66 && (op === 0xe3 || (op >= 0xe0 && op <= 0xe2)) && map === 0) bsize = 64;
      let t = (ip + len + rel) | 0;
      if (bsize === 16) t &= 0xffff;
      out[F_TARGET] = t;
      out[F_BRANCH] = bsize;
    }
  }
  if (mn !== MN_OTHER && (!skipOperands || mn === MN_LEA)) operands(b, map, op, mn, osize, immAt, imm, rex, is64, ip, len, out);
  return len;
}

/** A direct near branch (rel8/rel16/rel32 immediate). */
function isRelBranch(map: number, op: number, cls: number): boolean {
  if (map === 0) return op === 0xe8 || op === 0xe9 || op === 0xeb || (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || (op === 0xc7 && cls === 56);
  return map === 1 && op >= 0x80 && op <= 0x8f;
}

function setReg(out: Int32Array, n: number, reg: number, size: number, rex: number): void {
  const base = n === 0 ? F_OP0_KIND : F_OP1_KIND;
  out[base] = OK_REG;
  // AH CH DH BH: 8-bit registers 4-7 without any REX prefix
  out[base + 1] = size === 1 && rex === 0 && reg >= 4 && reg < 8 ? R_AH + reg - 4 : reg;
  out[base + 2] = size;
}
function setMem(b: Uint8Array, out: Int32Array, n: number, size: number, ip: number, len: number): void {
  const base = n === 0 ? F_OP0_KIND : F_OP1_KIND;
  out[base] = OK_MEM;
  out[base + 1] = -1;
  out[base + 2] = size;
  out[F_MEM_BASE] = mBase;
  out[F_MEM_INDEX] = mIndex;
  out[F_MEM_SCALE] = mScale;
  let d = readDisp(b);
  out[F_MEM_DISP_HI] = d < 0 && out[F_ADDR_SIZE] === 64 ? -1 : 0;
  if (mBase === R_RIP) {
    d = (ip + len + d) | 0;
    out[F_MEM_DISP_HI] = 0;
  } else if (out[F_ADDR_SIZE] === 16) {
    d &= 0xffff;
    out[F_MEM_DISP_HI] = 0;
  }
  out[F_MEM_DISP] = d;
}
/** The r/m operand: a register or the memory operand. */
function setRm(b: Uint8Array, out: Int32Array, n: number, size: number, rex: number, ip: number, len: number): void {
  if (mMod === 3) setReg(out, n, mRm | ((rex & 1) << 3), size, rex);
  else setMem(b, out, n, size, ip, len);
}
function setImm(b: Uint8Array, out: Int32Array, n: number, at: number, bytes: number, size: number): void {
  const base = n === 0 ? F_OP0_KIND : F_OP1_KIND;
  out[base] = OK_IMM;
  out[base + 1] = -1;
  out[base + 2] = size;
  let lo = 0;
  let hi = 0;
  if (bytes === 1) lo = (b[at] << 24) >> 24;
  else if (bytes === 2) lo = ((b[at] | (b[at + 1] << 8)) << 16) >> 16;
  else lo = b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
  if (bytes === 8) hi = b[at + 4] | (b[at + 5] << 8) | (b[at + 6] << 16) | (b[at + 7] << 24);
  else {
    // iced: an immediate as wide as its operand is zero-extended; a narrower one (8to16,
    // 8to32, 8to64, 32to64) sign-extended to 64 bits
    if (bytes === size) {
      if (bytes === 1) lo &= 0xff;
      else if (bytes === 2) lo &= 0xffff;
      hi = 0;
    } else hi = lo < 0 ? -1 : 0;
  }
  out[F_IMM_LO] = lo;
  out[F_IMM_HI] = hi;
}

/** The operands of the modelled mnemonics (one-byte and 0F maps). */
function operands(b: Uint8Array, map: number, op: number, mn: number, osize: number, immAt: number, imm: number, rex: number, is64: boolean, ip: number, len: number, out: Int32Array): void {
  const R = (rex & 4) << 1;
  const B = (rex & 1) << 3;
  // push/pop/call/jmp default to 64-bit in 64-bit mode (66 makes them 16-bit)
  const stackSize = is64 ? (osize === 2 ? 2 : 8) : osize;
  if (map === 1) {
    if (op >= 0x40 && op <= 0x4f) {
      out[F_COND] = op & 15;
      setReg(out, 0, mReg | R, osize, rex);
      setRm(b, out, 1, osize, rex, ip, len);
    } else if (op >= 0x80 && op <= 0x8f) {
      out[F_COND] = op & 15;
      out[F_OP0_KIND] = OK_BRANCH;
    } else if (op === 0xb6 || op === 0xb7) {
      setReg(out, 0, mReg | R, osize, rex);
      setRm(b, out, 1, op === 0xb6 ? 1 : 2, rex, ip, len);
    } else if (op === 0x1f || (op >= 0x18 && op <= 0x1e) || op === 0x0d) {
      // nop Ev (and the reserved nops): an r/m operand
      setRm(b, out, 0, osize, rex, ip, len);
    } else if ((op & 0xfc) === 0x20) {
      // mov to/from cr/dr: the general register is modelled, the other one not
      const n = op & 2 ? 1 : 0;
      setReg(out, n, mRm | B, is64 ? 8 : 4, rex);
      out[n ? F_OP0_KIND : F_OP1_KIND] = OK_NOT_MODELLED;
    } else notModelled(out, 1); // push/pop fs/gs
    return;
  }
  if (op < 0x40 && (op & 7) < 6) {
    // add/sub/xor/cmp: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz
    const size = op & 1 ? osize : 1;
    switch (op & 7) {
      case 0:
      case 1:
        setRm(b, out, 0, size, rex, ip, len);
        setReg(out, 1, mReg | R, size, rex);
        return;
      case 2:
      case 3:
        setReg(out, 0, mReg | R, size, rex);
        setRm(b, out, 1, size, rex, ip, len);
        return;
      case 4:
        setReg(out, 0, 0, 1, rex);
        setImm(b, out, 1, immAt, 1, 1);
        return;
      case 5:
        setReg(out, 0, 0, osize, rex);
        setImm(b, out, 1, immAt, imm, osize);
        return;
    }
  }
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0xc6:
    case 0xc7: {
      const size = op & 1 ? osize : 1;
      setRm(b, out, 0, size, rex, ip, len);
      setImm(b, out, 1, immAt, imm, size);
      return;
    }
    case 0x88:
    case 0x89:
    case 0x86:
    case 0x87: {
      const size = op & 1 ? osize : 1;
      setRm(b, out, 0, size, rex, ip, len);
      setReg(out, 1, mReg | R, size, rex);
      return;
    }
    case 0x8a:
    case 0x8b:
      setReg(out, 0, mReg | R, op & 1 ? osize : 1, rex);
      setRm(b, out, 1, op & 1 ? osize : 1, rex, ip, len);
      return;
    case 0x8d:
      setReg(out, 0, mReg | R, osize, rex);
      setMem(b, out, 1, 0, ip, len);
      return;
    case 0x8c:
    case 0x8e: {
      // mov r/m, sreg and back: the general register (operand size) or memory (a word) is modelled
      const n = op === 0x8c ? 0 : 1;
      if (mMod === 3) setReg(out, n, mRm | B, osize, rex);
      else setMem(b, out, n, 2, ip, len);
      out[n ? F_OP0_KIND : F_OP1_KIND] = OK_NOT_MODELLED;
      return;
    }
    case 0x63:
      setReg(out, 0, mReg | R, osize, rex);
      setRm(b, out, 1, osize === 2 ? 2 : 4, rex, ip, len);
      return;
    case 0x8f:
      setRm(b, out, 0, stackSize, rex, ip, len);
      return;
    case 0xff:
      // inc/dec are not modelled classes; /2 call, /4 jmp, /6 push near; /3 /5 far
      if (mReg === 3 || mReg === 5) {
        notModelled(out, 1);
        return;
      }
      setRm(b, out, 0, mReg === 6 ? stackSize : is64 ? 8 : osize, rex, ip, len);
      return;
    case 0x68:
    case 0x6a:
      setImm(b, out, 0, immAt, imm, stackSize);
      return;
    case 0xc2:
    case 0xca:
      setImm(b, out, 0, immAt, 2, 2);
      return;
    case 0xe8:
    case 0xe9:
    case 0xeb:
      out[F_OP0_KIND] = OK_BRANCH;
      return;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      // mov al/eax, [moffs] and back: a memory operand with a displacement only
      const size = op & 1 ? osize : 1;
      const n = op < 0xa2 ? 1 : 0;
      setReg(out, 1 - n, 0, size, rex);
      const base = n === 0 ? F_OP0_KIND : F_OP1_KIND;
      out[base] = OK_MEM;
      out[base + 1] = -1;
      out[base + 2] = size;
      out[F_MEM_BASE] = -1;
      out[F_MEM_INDEX] = -1;
      out[F_MEM_SCALE] = 1;
      out[F_MEM_DISP] = imm === 2 ? b[immAt] | (b[immAt + 1] << 8) : b[immAt] | (b[immAt + 1] << 8) | (b[immAt + 2] << 16) | (b[immAt + 3] << 24);
      out[F_MEM_DISP_HI] = imm === 8 ? b[immAt + 4] | (b[immAt + 5] << 8) | (b[immAt + 6] << 16) | (b[immAt + 7] << 24) : 0;
      if (out[F_MEM_DISP_HI] !== 0) out[base] = OK_NOT_MODELLED;
      return;
    }
  }
  if (op >= 0x50 && op <= 0x5f) {
    setReg(out, 0, (op & 7) | B, stackSize, rex);
    return;
  }
  if (op >= 0x70 && op <= 0x7f) {
    out[F_COND] = op & 15;
    out[F_OP0_KIND] = OK_BRANCH;
    return;
  }
  if (op >= 0x91 && op <= 0x97) {
    setReg(out, 0, (op & 7) | B, osize, rex);
    setReg(out, 1, 0, osize, rex);
    return;
  }
  if (op === 0x90) {
    if (mn === MN_XCHG) {
      setReg(out, 0, B, osize, rex);
      setReg(out, 1, 0, osize, rex);
    }
    return;
  }
  if (op >= 0xb0 && op <= 0xbf) {
    const size = op >= 0xb8 ? osize : 1;
    setReg(out, 0, (op & 7) | B, size, rex);
    setImm(b, out, 1, immAt, imm, size);
    return;
  }
  // everything else of a modelled class: ret, retf, leave, int3, push/pop sreg, mov sreg, far call/jmp
  if (mn === MN_RET || mn === MN_RETF || mn === MN_LEAVE || mn === MN_INT3 || mn === MN_NOP) return;
  notModelled(out, op === 0x8c || op === 0x8e ? 2 : 1);
}

/** The first n operands, which this decoder does not model (segment, control, debug registers; far pointers). */
function notModelled(out: Int32Array, n: number): void {
  out[F_OP0_KIND] = OK_NOT_MODELLED;
  out[F_OP1_KIND] = n > 1 ? OK_NOT_MODELLED : OK_NONE;
}

function vexXop(b: Uint8Array, pos: number, p: number, limit: number, mode: number, lead: number, lock: number, a67: number, asize: number, out: Int32Array): number {
  if (lock) return invalid(out);
  let mi: number;
  let W = 0;
  let vvvv: number;
  let L: number;
  let pp: number;
  let R: number;
  let Bx = 0;
  let X = 0;
  if (lead === 0xc5) {
    if (p + 2 > limit) return invalid(out);
    const b1 = b[p];
    R = (b1 & 0x80) === 0 ? 1 : 0;
    vvvv = (~b1 >> 3) & 15;
    L = (b1 >> 2) & 1;
    pp = b1 & 3;
    mi = 0;
    p += 1;
  } else {
    if (p + 3 > limit) return invalid(out);
    const b1 = b[p];
    const b2 = b[p + 1];
    R = (b1 & 0x80) === 0 ? 1 : 0;
    X = (b1 & 0x40) === 0 ? 8 : 0;
    Bx = (b1 & 0x20) === 0 ? 1 : 0;
    mi = (b1 & 0x1f) - (lead === 0x8f ? 8 : 1);
    W = b2 >> 7;
    vvvv = (~b2 >> 3) & 15;
    L = (b2 >> 2) & 1;
    pp = b2 & 3;
    p += 2;
    if (mi < 0 || mi > 2) return invalid(out);
  }
  const op = b[p++];
  const row = ((mode * 3 + mi) * 256 + op) * 4 + pp;
  const info = lead === 0x8f ? XOP_INFO[row] : VEX_INFO[row];
  const pat = lead === 0x8f ? XOP_ROW[row] : VEX_ROW[row];
  let cls = 0;
  if (info & 0x80) {
    p = modrm(b, p, limit, asize, X, Bx << 3);
    if (p < 0) return invalid(out);
    cls = mCls;
  }
  const v = vvvv === 0 ? 0 : vvvv < 8 ? 1 : 2;
  let flips = v | (R << 2) | (Bx << 3) | (a67 << 4);
  if ((info & 0x10) !== 0 && cls >= 72) {
    // a gather (VSIB): the tables hold it for registers that differ (reg 3, vvvv 1); iced
    // rejects a destination, mask (vvvv) and vector index that are not all different
    const regNum = mReg | (R << 3);
    const index = ((b[p - 1 - mDispSize] >> 3) & 7) | X;
    const vv = mode === 1 ? vvvv : vvvv & 7;
    if (regNum === index || vv === index || regNum === vv) return invalid(out);
    cls = 72 + 3;
    flips = 1 | (Bx << 3) | (a67 << 4);
  } else if ((info & 0x20) !== 0 && cls < 64) {
    // AMX: tiles reg, rm and vvvv all different (the tables hold reg 3, rm 5, vvvv 1)
    if (mReg === vvvv || mReg === mRm || mRm === vvvv) return invalid(out);
    cls = 3 * 8 + 5;
    flips = (vvvv > 7 ? 2 : 1) | (R << 2) | (Bx << 3) | (a67 << 4);
  }
  const m = lead === 0x8f ? XOP_PAT[pat * 320 + L * 160 + W * 80 + cls] : VEX_PAT[pat * 320 + L * 160 + W * 80 + cls];
  if (((m >>> flips) & 1) === 0) return invalid(out);
  p += info & 15;
  if (p > limit) return invalid(out);
  return other(out, p - pos);
}

function evex(b: Uint8Array, pos: number, p: number, limit: number, mode: number, lock: number, a67: number, asize: number, out: Int32Array): number {
  if (lock || p + 5 > limit) return invalid(out);
  const p0 = b[p];
  const p1 = b[p + 1];
  const p2 = b[p + 2];
  const op = b[p + 3];
  if ((p1 & 4) === 0 || (p0 & 8) !== 0) return invalid(out);
  const row = ((mode * 8 + (p0 & 7)) * 256 + op) * 4 + (p1 & 3);
  const X = (p0 & 0x40) === 0 ? 8 : 0;
  p = modrm(b, p + 4, limit, asize, X, 0);
  if (p < 0) return invalid(out);
  const info = EV_INFO[row];
  // complex FP16 (bit 5): the tables hold them for a destination (reg 3) unlike the sources;
  // iced rejects one equal to vvvv or, in the register form, to rm
  const reg = (info & 0x20) !== 0 ? 3 : mReg;
  const cls24 = mMod === 3 ? reg : mCls < 72 ? 8 + reg : 16 + reg;
  const W = p1 >> 7;
  const K = (((W * 4 + ((p2 >> 5) & 3)) * 2 + ((p2 >> 4) & 1)) * 2 + ((p2 & 7) !== 0 ? 1 : 0)) * 24 + cls24;
  const m = EV_PAT[EV_ROW[row] * 768 + K];
  const flips =
    ((p2 >> 7) & 1) |
    (((~p1 >> 3) & 15) !== 0 ? 2 : 0) |
    ((p2 & 8) === 0 ? 4 : 0) |
    ((p0 & 0x10) === 0 ? 8 : 0) |
    ((p0 & 0x80) === 0 ? 16 : 0) |
    (X !== 0 ? 32 : 0) |
    ((p0 & 0x20) === 0 ? 64 : 0) |
    (a67 << 7);
  if ((m & 1) === 0 || ((m >> 1) & flips) !== flips) return invalid(out);
  if ((info & 0x20) !== 0) {
    const regNum = mode === 1 ? mReg | (p0 & 0x80 ? 0 : 8) | (p0 & 0x10 ? 0 : 16) : mReg;
    const vvvv = mode === 1 ? ((~p1 >> 3) & 15) | (p2 & 8 ? 0 : 16) : (~p1 >> 3) & 7;
    const rmNum = mode === 1 ? mRm | (p0 & 0x20 ? 0 : 8) | (p0 & 0x40 ? 0 : 16) : mRm;
    if (regNum === vvvv || (mMod === 3 && regNum === rmNum)) return invalid(out);
  }
  if ((info & 0x10) !== 0 && mMod !== 3) {
    // a gather (VSIB): iced rejects a destination equal to the vector index
    const regNum = mode === 1 ? mReg | (p0 & 0x80 ? 0 : 8) | (p0 & 0x10 ? 0 : 16) : mReg;
    const index = mode === 1 ? ((b[p - 1 - mDispSize] >> 3) & 7) | X | (p2 & 8 ? 0 : 16) : (b[p - 1 - mDispSize] >> 3) & 7;
    if (regNum === index) return invalid(out);
  }
  p += info & 15;
  if (p > limit) return invalid(out);
  return other(out, p - pos);
}

function other(out: Int32Array, len: number): number {
  out[F_LEN] = len;
  out[F_FLOW] = FLOW_NEXT;
  out[F_MN] = MN_OTHER;
  out[F_BRANCH] = 0;
  out[F_OP0_KIND] = OK_NONE;
  out[F_OP1_KIND] = OK_NONE;
  return len;
}
