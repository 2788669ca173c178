/**
 * AArch64 decoder tests. Every instruction word below was produced by
 *   llvm-mc --triple=aarch64 [-mattr=+pauth,+lse] -show-encoding
 * (LLVM 14) from the assembly text written next to it (text in parentheses is a comment,
 * `llvm:` giving llvm-mc's own rendering where it prints an alias); the word is the little-endian
 * encoding read as a 32-bit number. llvm-mc prints PC-relative operands as offsets from
 * the instruction (adrp: from its 4 KiB page), which is what `offset` holds.
 * No compiler is needed to run these tests.
 */
import { describe, expect, it } from 'vitest';
import { Arm64Decoded, WRITES_SP, applyMovk, decodeArm64, decodeBitMasks, toBigInt, type Arm64Insn } from '../src/evidence/decode/arm64.js';
import type { ImageView } from '../src/evidence/sites/backend.js';
import { Arm64Backend } from '../src/evidence/sites/arm64.js';
import type { AbiInfo, Loc, LoweredFunction } from '../src/evidence/ir.js';
import { valuesAt } from '../src/evidence/values.js';

import { Tag } from '../src/tag/tag.js';

/** The one value `loc` holds before `fn.insns[i]` (a set of several shows as `{ k: 'set' }`). */
function resolve(fn: LoweredFunction, i: number, loc: Loc, abi: AbiInfo) {
  const v = valuesAt(fn, i, loc, abi);
  return v.length === 1 ? v[0] : { k: 'set', values: v };
}

const PC = 0x140001000; // an ARM64 driver's .text address (image base 0x140000000)
const bit = (...regs: number[]) => regs.reduce((m, r) => (m | (r === 31 ? WRITES_SP : 1 << r)) >>> 0, 0);

function d(word: number, pc: number = PC): Arm64Insn {
  return decodeArm64(word, pc);
}

/** [word, llvm-mc assembly, expected fields] */
type Case = [number, string, Record<string, unknown>];

/** One object the engine's way: filled again for every word (nothing of the previous word may stay). */
const reused = new Arm64Decoded();

function run(cases: Case[]) {
  const rows = cases.map(([word, asm, want]) => [word.toString(16).padStart(8, '0'), asm, want, word] as const);
  it.each(rows)('0x%s  %s', (_hex, _asm, want, word) => {
    expect(d(word)).toMatchObject(want);
    expect(decodeArm64(word, PC, reused)).toEqual(d(word));
  });
}

describe('wide immediates', () => {
  run([
    [0x528d0962, 'movz w2, #0x684b            (llvm: mov w2, #26699)', { op: 'movz', rd: 2, imm: 0x684b, shift: 0, is64: false, lo: 0x684b, hi: 0, writes: bit(2) }],
    [0x72ad6a02, 'movk w2, #0x6b50, lsl #16', { op: 'movk', rd: 2, imm: 0x6b50, shift: 16, is64: false, writes: bit(2) }],
    [0x52ad6a02, 'movz w2, #0x6b50, lsl #16    (llvm: mov w2, #1800404992)', { op: 'movz', rd: 2, imm: 0x6b50, shift: 16, lo: 0x6b500000, hi: 0 }],
    [0xd2e24683, 'movz x3, #0x1234, lsl #48    (llvm: mov x3, #1311673391471656960)', { op: 'movz', rd: 3, imm: 0x1234, shift: 48, is64: true, lo: 0, hi: 0x12340000 }],
    [0xf2d7dde4, 'movk x4, #0xbeef, lsl #32', { op: 'movk', rd: 4, imm: 0xbeef, shift: 32, is64: true }],
    [0xf2ffffec, 'movk x12, #0xffff, lsl #48', { op: 'movk', rd: 12, imm: 0xffff, shift: 48, is64: true }],
    [0x12800005, 'movn w5, #0                 (llvm: mov w5, #-1)', { op: 'movn', rd: 5, imm: 0, shift: 0, is64: false, lo: 0xffffffff, hi: 0 }],
    [0x92a00026, 'movn x6, #1, lsl #16         (llvm: mov x6, #-65537)', { op: 'movn', rd: 6, imm: 1, shift: 16, is64: true, lo: 0xfffeffff, hi: 0xffffffff }],
    [0x12a2468b, 'movn w11, #0x1234, lsl #16   (llvm: mov w11, #-305397761)', { op: 'movn', rd: 11, lo: 0xedcbffff, hi: 0 }],
    [0x52801fe8, 'mov w8, #255                 (movz alias)', { op: 'movz', rd: 8, lo: 255 }],
    [0xd280000d, 'mov x13, #0                  (movz alias)', { op: 'movz', rd: 13, is64: true, lo: 0, hi: 0 }],
  ]);

  it('movz + movk build a tag: kPhK = 0x6B50684B', () => {
    const a = d(0x528d0962); // movz w2, #0x684b
    const b = d(0x72ad6a02); // movk w2, #0x6b50, lsl #16
    if (a.op !== 'movz' || b.op !== 'movk') throw new Error('decode');
    const v = applyMovk(a.lo, a.hi, b);
    expect(v).toEqual({ lo: 0x6b50684b, hi: 0 });
    expect(Tag.fromUlong(v.lo).display).toBe('KhPk');
  });

  it('applyMovk: 64-bit halves, and a w-register write zeroes the top half', () => {
    const k = d(0xf2d7dde4); // movk x4, #0xbeef, lsl #32
    if (k.op !== 'movk') throw new Error('decode');
    expect(toBigInt(applyMovk(0x11112222, 0x33334444, k))).toBe(0x3333beef11112222n);
    const k48 = d(0xf2ffffec); // movk x12, #0xffff, lsl #48
    if (k48.op !== 'movk') throw new Error('decode');
    expect(toBigInt(applyMovk(0, 0, k48))).toBe(0xffff000000000000n);
    expect(applyMovk(0x1234, 0xffffffff, { imm: 0xabcd, shift: 16, is64: false })).toEqual({ lo: 0xabcd1234, hi: 0 });
  });
});

describe('ORR (bitmask immediate) as mov', () => {
  run([
    [0x3200c3e2, 'mov w2, #0x1010101          (esize 8)', { op: 'mov', rd: 2, is64: false, lo: 0x01010101, hi: 0, writes: bit(2) }],
    [0x32009fe2, 'mov w2, #0xff00ff           (esize 16)', { op: 'mov', rd: 2, lo: 0x00ff00ff, hi: 0 }],
    [0x321f77ea, 'mov w10, #0x7ffffffe        (esize 32, rotated)', { op: 'mov', rd: 10, lo: 0x7ffffffe, hi: 0 }],
    [0x32001fe2, 'orr w2, wzr, #0xff          (orr form of a movz-able value)', { op: 'mov', rd: 2, lo: 0xff }],
    [0xb200f3e7, 'mov x7, #0x5555555555555555 (esize 2)', { op: 'mov', rd: 7, is64: true, lo: 0x55555555, hi: 0x55555555 }],
    [0xb200cfe3, 'mov x3, #0x0f0f0f0f0f0f0f0f (esize 8)', { op: 'mov', rd: 3, lo: 0x0f0f0f0f, hi: 0x0f0f0f0f }],
    [0xb2607fe9, 'mov x9, #0xffffffff00000000 (esize 64)', { op: 'mov', rd: 9, is64: true, lo: 0, hi: 0xffffffff }],
    [0xb24107e4, 'mov x4, #0x8000000000000001 (esize 64, rotated)', { op: 'mov', rd: 4, lo: 1, hi: 0x80000000 }],
    [0x320007ff, 'orr wsp, wzr, #0x3          (rd 31 = SP here)', { op: 'mov', rd: 31, lo: 3, writes: WRITES_SP }],
    [0x32001c62, 'orr w2, w3, #0xff           (not from zr: logic)', { op: 'logic', kind: 'orr', rd: 2, rn: 3, lo: 0xff, hi: 0, writes: bit(2) }],
    [0x52000042, 'eor w2, w2, #0x1', { op: 'logic', kind: 'eor', rd: 2, rn: 2, lo: 1, writes: bit(2) }],
    [0x321b0282, 'orr w2, w20, #0x20', { op: 'logic', kind: 'orr', rd: 2, rn: 20, is64: false, lo: 0x20, writes: bit(2) }],
    [0x92401c00, 'and x0, x0, #0xff', { op: 'logic', kind: 'and', rd: 0, rn: 0, is64: true, lo: 0xff, hi: 0, writes: bit(0) }],
    [0x72001c22, 'ands w2, w1, #0xff', { op: 'logic', kind: 'and', rd: 2, rn: 1, lo: 0xff, writes: bit(2) }],
    [0x7200003f, 'tst w1, #0x1                (ands wzr: writes nothing)', { op: 'other', writes: 0 }],
  ]);

  it('DecodeBitMasks matches the ARM ARM pseudocode for every encoding', () => {
    // Reference: the shared pseudocode, literally, with bigint.
    const ref = (n: number, imms: number, immr: number, datasize: number): bigint | null => {
      const comb = (n << 6) | (~imms & 0x3f);
      let len = -1;
      for (let i = 6; i >= 0; i--) if ((comb >> i) & 1) { len = i; break; }
      if (len < 1) return null;
      const levels = (1 << len) - 1;
      const esize = 1 << len;
      if (esize > datasize) return null;
      const S = imms & levels;
      const R = immr & levels;
      if (S === levels) return null;
      const e = BigInt(esize);
      const welem = (1n << BigInt(S + 1)) - 1n;
      const mask = (1n << e) - 1n;
      const rot = R === 0 ? welem : ((welem >> BigInt(R)) | (welem << (e - BigInt(R)))) & mask;
      let out = 0n;
      for (let i = 0; i < datasize; i += esize) out |= rot << BigInt(i);
      return out;
    };
    let checked = 0;
    for (const datasize of [32, 64] as const) {
      for (let n = 0; n < 2; n++) {
        for (let imms = 0; imms < 64; imms++) {
          for (let immr = 0; immr < 64; immr++) {
            expect(decodeBitMasks(n, imms, immr, datasize)).toBe(ref(n, imms, immr, datasize));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(16384);
  });

  it('DecodeBitMasks edge cases', () => {
    expect(decodeBitMasks(0, 0b110000, 0, 32)).toBe(0x01010101n);
    expect(decodeBitMasks(1, 0b011111, 32, 64)).toBe(0xffffffff00000000n);
    expect(decodeBitMasks(0, 0b111100, 0, 32)).toBe(0x55555555n); // esize 2: ones(1)
    expect(decodeBitMasks(0, 0b011111, 0, 32)).toBeNull(); // all-ones 32-bit element is reserved
    expect(decodeBitMasks(0, 0b111111, 0, 32)).toBeNull(); // len < 1
    expect(decodeBitMasks(1, 0b111111, 0, 64)).toBeNull(); // all-ones 64-bit element
    expect(decodeBitMasks(1, 0, 0, 32)).toBeNull(); // N=1 needs 64-bit
  });
});

describe('register moves', () => {
  run([
    [0x2a1303e2, 'mov w2, w19', { op: 'movreg', rd: 2, rm: 19, is64: false, writes: bit(2) }],
    [0xaa1403e1, 'mov x1, x20', { op: 'movreg', rd: 1, rm: 20, is64: true, writes: bit(1) }],
    [0x2a1f03e3, 'mov w3, wzr                  (rm 31 = zr: value 0)', { op: 'movreg', rd: 3, rm: 31 }],
    [0x2a0207e1, 'orr w1, wzr, w2, lsl #1      (shifted: other)', { op: 'other', writes: bit(1) }],
    [0x2a020061, 'orr w1, w3, w2', { op: 'other', writes: bit(1) }],
    [0x9100003f, 'mov sp, x1                   (add sp, x1, #0)', { op: 'add', rd: 31, rn: 1, imm: 0, is64: true, writes: WRITES_SP }],
    [0x910003fd, 'mov x29, sp                  (add x29, sp, #0)', { op: 'add', rd: 29, rn: 31, imm: 0, writes: bit(29) }],
  ]);
});

describe('PC-relative', () => {
  run([
    [0x18000042, 'ldr w2, #8', { op: 'ldrlit', rt: 2, size: 4, signed: false, is64: false, offset: 8, target: PC + 8, writes: bit(2) }],
    [0x58ffff83, 'ldr x3, #-16', { op: 'ldrlit', rt: 3, size: 8, is64: true, offset: -16, target: PC - 16 }],
    [0x98000804, 'ldrsw x4, #256', { op: 'ldrlit', rt: 4, size: 4, signed: true, is64: true, offset: 256 }],
    [0x98ffffe4, 'ldrsw x4, #-4', { op: 'ldrlit', offset: -4, target: PC - 4 }],
    [0x18800002, 'ldr w2, #-1048576            (most negative imm19)', { op: 'ldrlit', offset: -1048576 }],
    [0x587fffe3, 'ldr x3, #1048572             (most positive imm19)', { op: 'ldrlit', offset: 1048572 }],
    [0xd8000040, 'prfm pldl1keep, #8           (no register write)', { op: 'other', writes: 0 }],
    [0x9c000081, 'ldr q1, #16                  (SIMD: no GPR)', { op: 'other', writes: 0 }],
    [0xb0fffff0, 'adrp x16, #-12288', { op: 'adrp', rd: 16, offset: -0x3000, target: PC - 0x3000, writes: bit(16) }],
    [0xb0091a28, 'adrp x8, #0x12345000', { op: 'adrp', rd: 8, offset: 0x12345000 }],
    [0x90000000, 'adrp x0, #0', { op: 'adrp', rd: 0, offset: 0, target: PC }],
    [0x90800001, 'adrp x1, #-4294967296         (most negative)', { op: 'adrp', rd: 1, offset: -0x100000000 }],
    [0xf07fffe2, 'adrp x2, #4294963200          (most positive)', { op: 'adrp', rd: 2, offset: 0xfffff000 }],
    [0x10ffffe1, 'adr x1, #-4', { op: 'adr', rd: 1, offset: -4, target: PC - 4 }],
    [0x100091a1, 'adr x1, #4660', { op: 'adr', rd: 1, offset: 0x1234, target: PC + 0x1234 }],
  ]);

  it('adrp uses the page of pc', () => {
    const i = decodeArm64(0xb0fffff0, 0x140001234); // adrp x16, #-12288
    expect(i).toMatchObject({ op: 'adrp', target: 0x140001000 - 0x3000 });
  });

  it('bigint pc: full 64-bit kernel addresses, same-typed targets', () => {
    const pc = 0xfffff80012345678n;
    expect(decodeArm64(0xb0fffff0, pc)).toMatchObject({ op: 'adrp', target: 0xfffff80012342000n, offset: -0x3000 });
    expect(decodeArm64(0x10ffffe1, pc)).toMatchObject({ op: 'adr', target: 0xfffff80012345674n });
    expect(decodeArm64(0x97ffff80, pc)).toMatchObject({ op: 'bl', target: 0xfffff80012345478n });
    expect(decodeArm64(0x18000042, 0xfffffffffffffffcn)).toMatchObject({ op: 'ldrlit', target: 4n }); // wraps mod 2^64
  });

  it('accepts the word signed', () => {
    expect(decodeArm64(0xb0fffff0 | 0, PC)).toMatchObject({ op: 'adrp', rd: 16, offset: -0x3000 });
  });
});

describe('add / sub immediate', () => {
  run([
    [0x91004210, 'add x16, x16, #16', { op: 'add', rd: 16, rn: 16, imm: 16, is64: true, writes: bit(16) }],
    [0x11400441, 'add w1, w2, #1, lsl #12', { op: 'add', rd: 1, rn: 2, imm: 4096, is64: false }],
    [0x113ffc42, 'add w2, w2, #4095', { op: 'add', rd: 2, rn: 2, imm: 4095 }],
    [0x910043fd, 'add x29, sp, #16', { op: 'add', rd: 29, rn: 31, imm: 16 }],
    [0xd10103ff, 'sub sp, sp, #64', { op: 'sub', rd: 31, rn: 31, imm: 64, is64: true, writes: WRITES_SP }],
    [0x7100143f, 'cmp w1, #5                   (subs wzr: no write)', { op: 'other', writes: 0 }],
    [0x71000442, 'subs w2, w2, #1', { op: 'other', writes: bit(2) }],
  ]);
});

describe('loads and stores', () => {
  run([
    [0xf9401610, 'ldr x16, [x16, #40]', { op: 'ldr', rt: 16, rn: 16, offset: 40, size: 8, signed: false, is64: true, mode: 'offset', writes: bit(16) }],
    [0xf9400210, 'ldr x16, [x16]', { op: 'ldr', rt: 16, rn: 16, offset: 0, size: 8 }],
    [0xb9400662, 'ldr w2, [x19, #4]', { op: 'ldr', rt: 2, rn: 19, offset: 4, size: 4, is64: false }],
    [0xf97fffe5, 'ldr x5, [sp, #32760]         (max scaled offset)', { op: 'ldr', rt: 5, rn: 31, offset: 32760, size: 8 }],
    [0xb9002be8, 'str w8, [sp, #40]', { op: 'str', rt: 8, rn: 31, offset: 40, size: 4, mode: 'offset', writes: 0 }],
    [0xb93ffc02, 'str w2, [x0, #16380]', { op: 'str', rt: 2, rn: 0, offset: 16380, size: 4 }],
    [0xf9000020, 'str x0, [x1]', { op: 'str', rt: 0, rn: 1, offset: 0, size: 8 }],
    [0x39400483, 'ldrb w3, [x4, #1]', { op: 'ldr', rt: 3, rn: 4, offset: 1, size: 1, signed: false, is64: false }],
    [0x79000441, 'strh w1, [x2, #2]', { op: 'str', rt: 1, rn: 2, offset: 2, size: 2 }],
    [0x79c00483, 'ldrsh w3, [x4, #2]', { op: 'ldr', rt: 3, size: 2, signed: true, is64: false }],
    [0x79800483, 'ldrsh x3, [x4, #2]', { op: 'ldr', rt: 3, size: 2, signed: true, is64: true }],
    [0xb98008c5, 'ldrsw x5, [x6, #8]', { op: 'ldr', rt: 5, rn: 6, offset: 8, size: 4, signed: true, is64: true }],
    [0xb81fc3a8, 'stur w8, [x29, #-4]', { op: 'str', rt: 8, rn: 29, offset: -4, size: 4, mode: 'offset', writes: 0 }],
    [0xf85f03a9, 'ldur x9, [x29, #-16]', { op: 'ldr', rt: 9, rn: 29, offset: -16, size: 8, mode: 'offset', writes: bit(9) }],
    [0xf81f0ffe, 'str x30, [sp, #-16]!', { op: 'str', rt: 30, rn: 31, offset: -16, mode: 'pre', writes: WRITES_SP }],
    [0xf84107fe, 'ldr x30, [sp], #16', { op: 'ldr', rt: 30, rn: 31, offset: 16, mode: 'post', writes: bit(30, 31) }],
    [0xb86868e6, 'ldr w6, [x7, x8]             (register offset: other)', { op: 'other', writes: bit(6) }],
    [0xbd400020, 'ldr s0, [x1]                 (SIMD: no GPR)', { op: 'other', writes: 0 }],
  ]);
});

describe('load/store pair', () => {
  run([
    [0xa9bf7bfd, 'stp x29, x30, [sp, #-16]!', { op: 'stp', rt: 29, rt2: 30, rn: 31, offset: -16, size: 8, mode: 'pre', writes: WRITES_SP }],
    [0xa8c17bfd, 'ldp x29, x30, [sp], #16', { op: 'ldp', rt: 29, rt2: 30, rn: 31, offset: 16, size: 8, mode: 'post', writes: bit(29, 30, 31) }],
    [0x29010be1, 'stp w1, w2, [sp, #8]', { op: 'stp', rt: 1, rt2: 2, rn: 31, offset: 8, size: 4, mode: 'offset', writes: 0 }],
    [0xa94153f3, 'ldp x19, x20, [sp, #16]', { op: 'ldp', rt: 19, rt2: 20, offset: 16, is64: true, mode: 'offset', writes: bit(19, 20) }],
    [0x69400861, 'ldpsw x1, x2, [x3]', { op: 'ldp', rt: 1, rt2: 2, rn: 3, size: 4, signed: true, is64: true, writes: bit(1, 2) }],
    [0x29600861, 'ldp w1, w2, [x3, #-256]', { op: 'ldp', rt: 1, rt2: 2, offset: -256, size: 4, is64: false }],
    [0xa9df8861, 'ldp x1, x2, [x3, #504]!', { op: 'ldp', rt: 1, rt2: 2, rn: 3, offset: 504, mode: 'pre', writes: bit(1, 2, 3) }],
    [0xadbf07e0, 'stp q0, q1, [sp, #-32]!      (SIMD pair: only the SP writeback)', { op: 'other', writes: WRITES_SP }],
  ]);
});

describe('branches', () => {
  run([
    [0x94000040, 'bl #256', { op: 'bl', offset: 256, target: PC + 256, writes: bit(30) }],
    [0x97ffff80, 'bl #-512', { op: 'bl', offset: -512, target: PC - 512 }],
    [0x95ffffff, 'bl #134217724               (max)', { op: 'bl', offset: 134217724 }],
    [0x17fffffe, 'b #-8', { op: 'b', offset: -8, target: PC - 8, writes: 0 }],
    [0x15ffffff, 'b #134217724', { op: 'b', offset: 134217724 }],
    [0x16000000, 'b #-134217728               (min)', { op: 'b', offset: -134217728 }],
    [0xd63f0200, 'blr x16', { op: 'blr', rn: 16, writes: bit(30) }],
    [0xd61f0200, 'br x16', { op: 'br', rn: 16, writes: 0 }],
    [0xd65f03c0, 'ret', { op: 'ret', rn: 30 }],
    [0xd65f0020, 'ret x1', { op: 'ret', rn: 1 }],
    [0xd65f0bff, 'retaa', { op: 'ret', rn: 30 }],
    [0xd65f0fff, 'retab', { op: 'ret', rn: 30 }],
    [0xd63f0a1f, 'blraaz x16', { op: 'blr', rn: 16, writes: bit(30) }],
    [0xd63f0c9f, 'blrabz x4', { op: 'blr', rn: 4 }],
    [0xd61f0a3f, 'braaz x17', { op: 'br', rn: 17 }],
    [0xd61f0c7f, 'brabz x3', { op: 'br', rn: 3 }],
    [0x34000102, 'cbz w2, #32', { op: 'cbz', rt: 2, is64: false, offset: 32, target: PC + 32, writes: 0 }],
    [0xb5ffff00, 'cbnz x0, #-32', { op: 'cbnz', rt: 0, is64: true, offset: -32 }],
    [0xb480001e, 'cbz x30, #-1048576', { op: 'cbz', rt: 30, offset: -1048576 }],
    [0x54000200, 'b.eq #64', { op: 'bcond', cond: 0, offset: 64, target: PC + 64 }],
    [0x54ffffe1, 'b.ne #-4', { op: 'bcond', cond: 1, offset: -4 }],
    [0x5400000e, 'b.al #0', { op: 'bcond', cond: 14, offset: 0 }],
    [0x5400004f, 'b.nv #8', { op: 'bcond', cond: 15, offset: 8 }],
    [0x36180080, 'tbz w0, #3, #16', { op: 'tbz', rt: 0, bit: 3, offset: 16 }],
    [0xb747ff81, 'tbnz x1, #40, #-16', { op: 'tbnz', rt: 1, bit: 40, offset: -16 }],
    [0xb6fbffe2, 'tbz x2, #63, #32764', { op: 'tbz', rt: 2, bit: 63, offset: 32764 }],
  ]);
});

describe('other instructions: register writes', () => {
  run([
    [0xd503201f, 'nop', { op: 'other', writes: 0 }],
    // PAC hints rewrite their register in place (found by test/arm64-diff.test.ts's rules)
    [0xd503233f, 'paciasp                      (signs x30)', { op: 'other', writes: bit(30) }],
    [0xd50323bf, 'autiasp', { op: 'other', writes: bit(30) }],
    [0xd503237f, 'pacibsp', { op: 'other', writes: bit(30) }],
    [0xd50320ff, 'xpaclri', { op: 'other', writes: bit(30) }],
    [0xd503211f, 'pacia1716                    (signs x17)', { op: 'other', writes: bit(17) }],
    [0xd503229f, 'csdb                         (a hint that writes nothing)', { op: 'other', writes: 0 }],
    [0xd503245f, 'bti c', { op: 'other', writes: 0 }],
    // AdvSIMD structure loads/stores, post-indexed: the base is written back (the differential
    // test against llvm-objdump found these missing on real MSVC drivers)
    [0x4cdf2020, 'ld1 {v0.16b-v3.16b}, [x1], #64', { op: 'other', writes: bit(1) }],
    [0x4c9f73e0, 'st1 {v0.16b}, [sp], #16', { op: 'other', writes: bit(31) }],
    [0x4cc37040, 'ld1 {v0.16b}, [x2], x3', { op: 'other', writes: bit(2) }],
    [0x0dff2020, 'ld4 {v0.b-v3.b}[0], [x1], #4', { op: 'other', writes: bit(1) }],
    [0x0dbf0060, 'st2 {v0.b, v1.b}[0], [x3], #2', { op: 'other', writes: bit(3) }],
    [0x4ddfc8a0, 'ld1r {v0.4s}, [x5], #4', { op: 'other', writes: bit(5) }],
    [0x4c407020, 'ld1 {v0.16b}, [x1]            (no writeback)', { op: 'other', writes: 0 }],
    [0x0d000d20, 'st1 {v0.b}[3], [x9]', { op: 'other', writes: 0 }],
    [0xd4000001, 'svc #0', { op: 'other', writes: 0 }],
    [0x00000000, 'udf #0', { op: 'other', writes: 0 }],
    [0x1b047c62, 'mul w2, w3, w4', { op: 'other', writes: bit(2) }],
    [0x9b031041, 'madd x1, x2, x3, x4', { op: 'other', writes: bit(1) }],
    [0x1a830041, 'csel w1, w2, w3, eq', { op: 'csel', variant: 'csel', rd: 1, rn: 2, rm: 3, cond: 0, writes: bit(1) }],
    [0x9a9f17e3, 'cset x3, eq', { op: 'csel', variant: 'csinc', rd: 3, rn: 31, rm: 31, cond: 1, is64: true, writes: bit(3) }],
    [0x93407c42, 'sxtw x2, w2', { op: 'other', writes: bit(2) }],
    [0x7a421820, 'ccmp w1, #2, #0, ne          (flags only)', { op: 'other', writes: 0 }],
    [0x885f7c62, 'ldxr w2, [x3]', { op: 'other', writes: bit(2) }],
    [0xc85ffc41, 'ldaxr x1, [x2]', { op: 'other', writes: bit(1) }],
    [0x88047cc5, 'stxr w4, w5, [x6]            (status register w4)', { op: 'other', writes: bit(4) }],
    [0xc803fca4, 'stlxr w3, x4, [x5]', { op: 'other', writes: bit(3) }],
    [0x889ffd07, 'stlr w7, [x8]', { op: 'other', writes: 0 }],
    [0xb8210062, 'ldadd w1, w2, [x3]', { op: 'other', writes: bit(2) }],
    [0xd538d089, 'mrs x9, TPIDR_EL1', { op: 'other', writes: bit(9) }],
    [0x1e270020, 'fmov s0, w1                  (to SIMD)', { op: 'other', writes: 0 }],
    [0x1e260062, 'fmov w2, s3                  (to general)', { op: 'other', writes: bit(2) }],
    [0x1e58f932, 'fcvtzs w18, d9, #2           (fixed-point, to general)', { op: 'other', writes: bit(18) }],
    [0x1e42f441, 'scvtf d1, w2, #3', { op: 'other', writes: 0 }],
    [0x0e0c3c83, 'mov w3, v4.s[1]              (umov)', { op: 'other', writes: bit(3) }],
    [0x4e0a2cc5, 'smov x5, v6.h[2]', { op: 'other', writes: bit(5) }],
    [0x4ea21c41, 'mov v1.16b, v2.16b', { op: 'other', writes: 0 }],
    [0xd5281267, 'sysl x7, #0, c1, c2, #3', { op: 'other', writes: bit(7) }],
    [0x998a0343, 'ldapursw x3, [x26, #160]     (-mattr=+rcpc-immo)', { op: 'other', writes: bit(3) }],
    [0x991fc041, 'stlur w1, [x2, #-4]', { op: 'other', writes: 0 }],
    [0x88e1fc62, 'casal w1, w2, [x3]           (Rs gets the old value)', { op: 'other', writes: bit(1) }],
    [0x4864fd06, 'caspal x4, x5, x6, x7, [x8]', { op: 'other', writes: bit(4, 5) }],
    [0xc87f0861, 'ldxp x1, x2, [x3]', { op: 'other', writes: bit(1, 2) }],
    [0xc82418e5, 'stxp w4, x5, x6, [x7]', { op: 'other', writes: bit(4) }],
    [0xb8647862, 'ldr w2, [x3, x4, lsl #2]     (register offset)', { op: 'other', writes: bit(2) }],
    [0xf8366bfe, 'str x30, [sp, x22]', { op: 'other', writes: 0 }],
    [0xf8a26820, 'prfm pldl1keep, [x1, x2]', { op: 'other', writes: 0 }],
  ]);
});

describe('call-site sequences', () => {
  it('import thunk: adrp x16 / ldr x16, [x16, #off] / br x16', () => {
    const a = decodeArm64(0xb0fffff0, PC); // adrp x16, #-12288
    const l = decodeArm64(0xf9401610, PC + 4); // ldr x16, [x16, #40]
    const b = decodeArm64(0xd61f0200, PC + 8); // br x16
    if (a.op !== 'adrp' || l.op !== 'ldr' || b.op !== 'br') throw new Error('decode');
    expect(l.rn).toBe(a.rd);
    expect(b.rn).toBe(l.rt);
    expect(a.target + l.offset).toBe(PC - 0x3000 + 40); // the IAT slot address
  });

  it('every op is covered', () => {
    const ops = new Set(
      [
        0x528d0962, 0x72ad6a02, 0x12800005, 0x3200c3e2, 0x2a1303e2, 0x18000042, 0xb0fffff0, 0x10ffffe1, 0x91004210,
        0xd10103ff, 0xf9401610, 0xb9002be8, 0xa8c17bfd, 0xa9bf7bfd, 0x94000040, 0x17fffffe, 0xd63f0200, 0xd61f0200,
        0xd65f03c0, 0x34000102, 0xb5ffff00, 0x36180080, 0xb747ff81, 0x54000200, 0xd503201f, 0x32001c62,
      ].map((w) => d(w).op),
    );
    expect([...ops].sort()).toEqual(
      ['add', 'adr', 'adrp', 'b', 'bcond', 'bl', 'blr', 'br', 'cbnz', 'cbz', 'ldp', 'ldr', 'ldrlit', 'logic', 'mov', 'movk', 'movn', 'movreg', 'movz', 'other', 'ret', 'stp', 'str', 'sub', 'tbnz', 'tbz'].sort(),
    );
  });
});

describe('lowering: SIMD struct copies and logical immediates', () => {
  /** A code-only view: `words` at RVA 0x1000, read-only. */
  function backendFor(words: number[]) {
    const bytes = Buffer.alloc(words.length * 4);
    words.forEach((w, i) => bytes.writeUInt32LE(w >>> 0, i * 4));
    const sec = { virtualAddress: 0x1000 };
    const view = {
      map: { sectionOf: () => sec },
      sectionBytes: () => bytes,
      read: (rva: number, size: number) => (rva >= 0x1000 && rva + size <= 0x1000 + bytes.length ? (size === 4 ? bytes.readUInt32LE(rva - 0x1000) : null) : null),
      importSlots: new Set<number>(),
      isWritable: () => false,
    } as unknown as ImageView;
    const be = new Arm64Backend(view);
    const l = be.lower({ start: 0x1000, end: 0x1000 + bytes.length, knownStart: true });
    const at = (rva: number) => l.insns.findIndex((x) => x.rva === rva);
    return { be, l, value: (rva: number, loc: string) => resolve(l, at(rva), loc, be.abi) };
  }
  const c = (r: { k: string; v?: number }) => (r.k === 'const' ? (r as { v: number }).v : r.k);

  it('ldr q (literal) / str q, stp q, movi #0, ldr q through a register, other SIMD writes', () => {
    const { l, value } = backendFor([
      0x6dbe27e8, // 1000 stp d8, d9, [sp, #-32]!    sp -32
      0x9c000210, // 1004 ldr q16, #0x40             (literal at 0x1044)
      0x3d800bf0, // 1008 str q16, [sp, #32]         s:0 .. s:12
      0x4f00e410, // 100c movi v16.16b, #0
      0x6f00e411, // 1010 movi v17.2d, #0
      0x3dc00512, // 1014 ldr q18, [x8, #16]
      0x4e32d652, // 1018 fadd v18.4s, v18.4s, v18.4s
      0x3c9f03f2, // 101c stur q18, [sp, #-16]       s:-48 .. s:-36
      0xad0247f0, // 1020 stp q16, q17, [sp, #64]    s:32 .. s:60
      0xd503201f, // 1024 nop
      ...Array.from({ length: 7 }, () => 0xd503201f),
      0x11111111, 0x22222222, 0x6b50684b, 0x44444444, // 1044 the literal
    ]);
    expect(l.insns.find((x) => x.rva === 0x1024)!.sp).toBe(-32);
    expect([0, 4, 8, 12].map((o) => c(value(0x1024, `s:${o}`)))).toEqual([0x11111111, 0x22222222, 0x6b50684b, 0x44444444]);
    expect([32, 44, 48, 60].map((o) => c(value(0x1024, `s:${o}`)))).toEqual([0, 0, 0, 0]);
    expect(c(value(0x1024, 's:-40'))).toBe('unknown');
  });

  it("orr w2, w20, #0x20 turns 'Abcd' into 'abcd'; eor and and on a constant", () => {
    const { value } = backendFor([
      0x528c4834, // mov w20, #0x6241
      0x72ac8c74, // movk w20, #0x6463, lsl #16    w20 = 0x64636241 ('Abcd')
      0x321b0282, // orr w2, w20, #0x20
      0x52000042, // eor w2, w2, #0x1
      0x92401e80, // and x0, x20, #0xff
      0xd503201f, // nop
    ]);
    expect(c(value(0x100c, 'x2'))).toBe(0x64636261);
    expect(c(value(0x1010, 'x2'))).toBe(0x64636260);
    expect(c(value(0x1014, 'x0'))).toBe(0x41);
  });

  it('a slot far above the entry SP is no parameter (a .pdata fragment whose prologue is elsewhere)', () => {
    const { be } = backendFor([0xd503201f]);
    expect(be.abi.paramAt('s:0')).toBe(9);
    expect(be.abi.paramAt('s:56')).toBe(16);
    expect(be.abi.paramAt('s:568')).toBe(0);
  });
});
