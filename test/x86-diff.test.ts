/**
 * Differential test of the table-driven x86/x64 decoder (src/evidence/decode/x86-fast.ts)
 * against iced-x86, the decoder it replaces where the engine sweeps code: per instruction,
 * validity and length everywhere; for valid instructions the flow class, the near-branch target,
 * the mnemonic class, and for the mnemonics the lowering reads the first two operands (register
 * and size, memory base/index/scale/displacement/size/segment, immediate), or an operand
 * marked not modelled (segment, control and debug registers, far pointers: listed in the
 * decoder's header). The comparison itself is scripts/lib/x86-diff.mjs, shared with
 * scripts/x86-diff-devset.mjs, which runs it over the development corpus.
 *
 * Inputs: every executable section of every x86/x64 fixture, decoded linearly from each
 * function start (`.pdata`, entry point, exports, `call rel32` targets) and as a linear sweep
 * of the whole section; and seeded random instructions (prefix mixes, REX, the escape bytes,
 * VEX/XOP/EVEX leads, truncated buffers) in both modes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import * as fast from '../src/evidence/decode/x86-fast.js';
import { loadIced } from '../src/evidence/decode/x86.js';
import { immediateHi, immediateLo } from '../src/evidence/lower/x86.js';
import { readPe } from '../src/pe/read.js';
// @ts-expect-error: a JavaScript module shared with scripts/ (no declarations)
import { disagreementLines, newTally, tallyLine, x86Comparer } from '../scripts/lib/x86-diff.mjs';

const iced = createRequire(import.meta.url)('iced-x86');
const cmp = x86Comparer(iced, fast);

const fixtures = join(import.meta.dirname, 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { binaries: { file: string; arch: string }[] };
const x86Fixtures = manifest.binaries.filter((b) => b.arch === 'x86' || b.arch === 'x64').map((b) => join(fixtures, b.file));

/** A seeded generator of bytes (mulberry32). */
function bytesFrom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let z = Math.imul(s ^ (s >>> 15), 1 | s);
    z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
    return ((z ^ (z >>> 14)) >>> 0) & 0xff;
  };
}
const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65];

describe('x86/x64 decoder against iced-x86: fixtures', () => {
  it('agrees on every instruction of every x86/x64 fixture, from each function start and in a sweep of each section', () => {
    expect(x86Fixtures.length).toBeGreaterThan(0);
    const fromStarts = newTally();
    const sweeps = newTally();
    for (const file of x86Fixtures) {
      const buf = readFileSync(file);
      const pe = readPe(buf);
      const bitness = pe.headers.arch === 'x64' ? 64 : 32;
      for (const s of pe.sections) {
        if (!s.executable || s.rawSize === 0) continue;
        const n = Math.min(s.rawSize, s.virtualSize || s.rawSize, buf.length - s.rawOffset);
        const b = new Uint8Array(buf.buffer, buf.byteOffset + s.rawOffset, n).slice();
        const va = s.virtualAddress;
        cmp.sweep(bitness, b, 0, n, va, sweeps);
        // function starts: .pdata, entry point, exports, and the targets of call rel32 the sweep met
        const starts = new Map<number, number>();
        for (const f of pe.functions) if (f.begin >= va && f.begin < va + n) starts.set(f.begin - va, Math.min(n, f.end - va));
        for (const r of [pe.headers.entryPointRva, ...pe.exports.filter((e) => !e.forwarder).map((e) => e.rva)]) if (r >= va && r < va + n && !starts.has(r - va)) starts.set(r - va, Math.min(n, r - va + 4096));
        const out = fast.x86Out();
        for (let pos = 0; pos < n; ) {
          const len = fast.decodeX86(b, pos, n, bitness, va + pos, out);
          if (len && out[fast.F_FLOW] === fast.FLOW_CALL && out[fast.F_BRANCH] !== 16) {
            const t = (out[fast.F_TARGET] >>> 0) - va;
            if (t >= 0 && t < n && !starts.has(t)) starts.set(t, Math.min(n, t + 4096));
          }
          pos += len || 1;
        }
        for (const [start, end] of starts) cmp.sweep(bitness, b, start, end, va, fromStarts);
      }
    }
    console.log(`x86-diff fixtures, ${x86Fixtures.length} files, from function starts: ${tallyLine(fromStarts)}`);
    console.log(`x86-diff fixtures, section sweeps: ${tallyLine(sweeps)}`);
    for (const t of [fromStarts, sweeps]) {
      expect(disagreementLines(t)).toEqual([]);
      expect(t.length).toBe(t.instructions);
      expect(t.modelled).toBeGreaterThan(1000);
    }
    expect(sweeps.instructions).toBeGreaterThan(10_000);
  });
});

describe('x86/x64 decoder against iced-x86: random instructions', () => {
  for (const bitness of [32, 64] as const) {
    it(`agrees on 100,000 seeded random ${bitness}-bit instructions (prefixes, REX, escapes, VEX/XOP/EVEX, truncated)`, { timeout: 60_000 }, () => {
      const rnd = bytesFrom(bitness === 32 ? 0x5eed32 : 0x5eed64);
      const t = newTally();
      const buf = new Uint8Array(24);
      for (let i = 0; i < 100_000; i++) {
        let o = 0;
        if (rnd() < 96) for (let n = 1 + (rnd() & 3); n > 0; n--) buf[o++] = PREFIXES[rnd() % PREFIXES.length];
        if (bitness === 64 && (rnd() & 3) === 0) buf[o++] = 0x40 | (rnd() & 15);
        const e = rnd();
        if (e < 64) buf[o++] = 0x0f;
        else if (e < 84) buf.set([0x0f, 0x38], (o += 2) - 2);
        else if (e < 104) buf.set([0x0f, 0x3a], (o += 2) - 2);
        else if (e < 116) buf[o++] = [0xc4, 0xc5, 0x62, 0x8f][rnd() & 3];
        while (o < buf.length) buf[o++] = rnd();
        // one in eight ends early: an instruction cut by the end of the buffer
        const end = (rnd() & 7) === 0 ? 1 + (rnd() % 16) : buf.length;
        cmp.one(bitness, buf.slice(0, end), 0, end, 0x401000, t, true);
      }
      console.log(`x86-diff random ${bitness}-bit: ${tallyLine(t)}`);
      expect(disagreementLines(t)).toEqual([]);
      expect(t.length).toBe(100_000);
      expect(t.invalid).toBeGreaterThan(1000);
      expect(t.instructions - t.invalid).toBeGreaterThan(50_000);
    });
    it(`agrees on 100,000 seeded random ${bitness}-bit VEX, XOP and EVEX instructions (maps that exist, optional 67)`, { timeout: 60_000 }, () => {
      const rnd = bytesFrom(bitness === 32 ? 0x7e32 : 0x7e64);
      const t = newTally();
      for (let i = 0; i < 100_000; i++) {
        const buf = new Uint8Array(24);
        for (let o = 0; o < buf.length; o++) buf[o] = rnd();
        let o = 0;
        if ((rnd() & 7) === 0) buf[o++] = 0x67;
        const k = rnd() & 3;
        buf[o] = [0xc4, 0xc5, 0x62, 0x8f][k];
        let b1 = buf[o + 1];
        if (bitness === 32) b1 |= 0xc0; // else LES/LDS/BOUND
        if (k === 0) b1 = (b1 & 0xe0) | (1 + (rnd() % 3));
        if (k === 3) b1 = (b1 & 0xe0) | (8 + (rnd() % 3));
        if (k === 2) {
          b1 = (b1 & 0xf0) | [1, 2, 3, 5, 6][rnd() % 5];
          buf[o + 2] |= 4;
        }
        buf[o + 1] = b1;
        cmp.one(bitness, buf, 0, buf.length, 0x401000, t, true);
      }
      console.log(`x86-diff random ${bitness}-bit VEX/XOP/EVEX: ${tallyLine(t)}`);
      expect(disagreementLines(t)).toEqual([]);
      expect(t.instructions - t.invalid).toBeGreaterThan(3_000);
    });
  }
});

describe('the lowering reads immediates without BigInts', () => {
  it("gives the low and high 32 bits of iced's immediate() for every immediate operand of the fixtures and of random bytes", () => {
    const x = loadIced();
    const O = x.OpKind as unknown as Record<string, number>;
    const kinds = new Set(['Immediate8', 'Immediate8_2nd', 'Immediate16', 'Immediate32', 'Immediate64', 'Immediate8to16', 'Immediate8to32', 'Immediate8to64', 'Immediate32to64'].map((k) => O[k]));
    const seen = new Map<number, number>();
    let bad = 0;
    const check = (bitness: 32 | 64, b: Uint8Array) => {
      const d = new x.Decoder(bitness, b, x.DecoderOptions.None);
      const ins = new x.Instruction();
      try {
        while (d.canDecode) {
          d.decodeOut(ins);
          for (let op = 0; op < ins.opCount; op++) {
            const k = ins.opKind(op);
            if (!kinds.has(k)) continue;
            seen.set(k, (seen.get(k) ?? 0) + 1);
            const v = ins.immediate(op);
            const lo = immediateLo(ins, k, op);
            if (lo !== Number(v & 0xffffffffn) || immediateHi() !== Number((v >> 32n) & 0xffffffffn)) bad++;
          }
        }
      } finally {
        d.free();
        ins.free();
      }
    };
    for (const file of x86Fixtures) {
      const buf = readFileSync(file);
      const pe = readPe(buf);
      const bitness = pe.headers.arch === 'x64' ? 64 : 32;
      for (const s of pe.sections) {
        if (!s.executable || s.rawSize === 0) continue;
        check(bitness, new Uint8Array(buf.buffer, buf.byteOffset + s.rawOffset, Math.min(s.rawSize, buf.length - s.rawOffset)).slice());
      }
    }
    const next = bytesFrom(18);
    for (const bitness of [32, 64] as const) {
      const b = new Uint8Array(200_000);
      for (let i = 0; i < b.length; i++) b[i] = next();
      check(bitness, b);
    }
    expect(bad).toBe(0);
    // Every kind met, so that each branch of immediateLo was compared.
    for (const k of kinds) expect(seen.get(k) ?? 0).toBeGreaterThan(0);
  });
});
