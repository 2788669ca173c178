/**
 * Differential test of the hand-written AArch64 decoder (src/evidence/decode/arm64.ts) against
 * `llvm-objdump -d --triple=aarch64`, word by word, over the executable sections of every
 * ARM64 fixture driver and, when present, the ARM64 drivers of the development corpus
 * (`$POOLTAG_DEVSET`, else /work/devset; real drivers, never copied into the repository).
 *
 * For each 4-byte word: the general registers it writes (SP included), its immediates and
 * its branch target agree with llvm-objdump's reading, or the word's instruction class
 * (llvm's mnemonic) is listed in NOT_MODELLED with the reason. A missed register write
 * silently corrupts every analysis above the decoder, so "writes fewer registers than
 * llvm says" is never listed there.
 *
 * llvm-objdump runs once per file. Without it the fixture block is skipped with the reason,
 * unless POOLTAG_REQUIRE_TOOLS is set, as .ci/run does (then the test fails). Without a development
 * corpus, that block is skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { type Arm64Insn, decodeArm64, toBigInt, WRITES_SP } from '../src/evidence/decode/arm64.js';
import { readPe } from '../src/pe/read.js';
import { requireTools } from './helpers/shared.js';

const OBJDUMP = process.env.LLVM_OBJDUMP ?? 'llvm-objdump';
const haveObjdump = spawnSync(OBJDUMP, ['--version'], { encoding: 'utf8' }).status === 0;
const mustRun = requireTools();

/**
 * Instruction classes (llvm-objdump mnemonics) whose words are not compared, each with the
 * reason. Keep it short: every entry is something the analysis above does not need.
 */
const NOT_MODELLED: Record<string, string> = {
  '<unknown>': 'not an instruction llvm knows (data in a code section, or an unallocated encoding): nothing to compare',
  udf: 'permanently undefined (padding, or data in a code section): writes nothing, traps',
};

// ---- llvm-objdump's reading -----------------------------------------------------------

interface Od {
  word: number;
  mn: string;
  /** the operands as llvm prints them (annotations and comments removed) */
  text: string;
  ops: string[];
}

/** llvm-objdump -d output: VA -> word, mnemonic, operands (annotations and comments removed). */
function objdump(file: string): Map<number, Od> {
  // +pauth: Windows ARM64 code signs its return address (/guard:signret: pacibsp ... autibsp);
  // without it llvm prints those as `hint #27`, a NOP on cores without FEAT_PAuth); +lse,
  // +rcpc, +crc: ARMv8.1+ atomics and the like, which Windows on ARM requires
  const r = spawnSync(OBJDUMP, ['-d', '--triple=aarch64', '--mattr=+pauth,+lse,+rcpc,+crc', '--print-imm-hex', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${OBJDUMP} failed on ${file}: ${r.stderr}`);
  const out = new Map<number, Od>();
  const line = /^\s*([0-9a-f]+):\s+([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})\s+(.*)$/;
  for (const l of r.stdout.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const word = (parseInt(m[2]!, 16) | (parseInt(m[3]!, 16) << 8) | (parseInt(m[4]!, 16) << 16) | (parseInt(m[5]!, 16) << 24)) >>> 0;
    if (m[6]!.trim() === '<unknown>') {
      out.set(parseInt(m[1]!, 16), { word, mn: '<unknown>', text: '', ops: [] });
      continue;
    }
    const text = m[6]!.replace(/\s*\/\/.*$/, '').replace(/\s*<[^>]*>/g, '').trim();
    const tab = text.search(/\s/);
    const mn = tab < 0 ? text : text.slice(0, tab);
    out.set(parseInt(m[1]!, 16), { word, mn, text: tab < 0 ? '' : text.slice(tab).trim(), ops: [] });
  }
  return out;
}

function splitOps(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[' || ch === '{') depth++;
    if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** General register number (31 = SP), null for zr, undefined for anything else. */
function gpr(op: string | undefined): number | null | undefined {
  if (op === undefined) return undefined;
  if (op === 'sp' || op === 'wsp') return 31;
  if (op === 'wzr' || op === 'xzr') return null;
  if (op === 'fp') return 29;
  if (op === 'lr') return 30;
  const m = /^[wx](\d+)$/.exec(op);
  return m ? Number(m[1]) : undefined;
}
const bit = (r: number | null | undefined): number => (r == null ? 0 : r === 31 ? WRITES_SP : 1 << r);

const STATUS_STORE = /^stl?x[rp][bh]?$/; // stxr ws, wt, [xn]: ws is written
const ATOMIC = /^(ld(add|clr|eor|set|smax|smin|umax|umin)|swp)(a|al|l)?[bh]?$/; // second operand written
const CAS = /^cas(a|al|l)?[bh]?$/;
const CASP = /^casp(a|al|l)?$/;
const PAIR_LOAD = /^(ldp|ldnp|ldpsw|ldxp|ldaxp|ldiapp)$/;
const NO_DEST = new Set(
  ('cmp cmn tst ccmp ccmn fcmp fcmpe fccmp fccmpe b cbz cbnz tbz tbnz ret retaa retab br braa brab braaz brabz prfm prfum ' +
    'msr sys dc ic at tlbi hint nop yield wfe wfi sev sevl isb dsb dmb ssbb pssbb sb csdb clrex brk hlt svc hvc smc udf bti ' +
    'esb psb tsb dgh eret eretaa eretab drps')
    .split(' '),
);

/** The general registers llvm's reading says the instruction writes. */
function odWrites(od: Od): number {
  const { mn, ops } = od;
  let m = 0;
  if (/^blr/.test(mn) || mn === 'bl') m |= 1 << 30;
  else if (/^(pac|aut)i[ab](sp|z)$/.test(mn) || mn === 'xpaclri') m |= 1 << 30;
  else if (/^(pac|aut)i[ab]1716$/.test(mn)) m |= 1 << 17;
  else if (STATUS_STORE.test(mn) || CAS.test(mn)) m |= bit(gpr(ops[0]));
  else if (CASP.test(mn)) {
    const r = gpr(ops[0]);
    m |= bit(r) | (r != null ? bit(r + 1) : 0);
  } else if (ATOMIC.test(mn)) m |= bit(gpr(ops[1]));
  else if (PAIR_LOAD.test(mn)) m |= bit(gpr(ops[0])) | bit(gpr(ops[1]));
  else if (/^st/.test(mn) || NO_DEST.has(mn) || /^b\./.test(mn) || /^bc\./.test(mn)) {
    // no destination register
  } else m |= bit(gpr(ops[0]));
  // base register writeback: [xn, #imm]! (pre-index) or [xn], ... (post-index)
  ops.forEach((o, i) => {
    if (!o.startsWith('[')) return;
    const base = gpr(o.replace(/!$/, '').slice(1, -1).split(',')[0]!.trim());
    if (o.endsWith('!') || i < ops.length - 1) m |= bit(base);
  });
  return m >>> 0;
}

/** '#0x10', '#-0x8', '#12' -> bigint; undefined when the operand is not an immediate. */
function imm(op: string | undefined): bigint | undefined {
  const m = op && /^#(-?)(0x[0-9a-f]+|\d+)$/.exec(op);
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  return m[1] ? -v : v;
}
/** 'lsl #12' -> 12n */
function lsl(op: string | undefined): bigint {
  const m = op && /^lsl #(0x[0-9a-f]+|\d+)$/.exec(op);
  return m ? BigInt(m[1]!) : 0n;
}
const target = (op: string | undefined): number | undefined => (op && /^0x[0-9a-f]+$/.test(op) ? parseInt(op, 16) : undefined);

/** A memory operand: base, offset and addressing mode as llvm writes them. */
function mem(ops: string[]): { offset: number; mode: 'offset' | 'pre' | 'post' } | undefined {
  const i = ops.findIndex((o) => o.startsWith('['));
  if (i < 0) return undefined;
  const o = ops[i]!;
  const inner = o.replace(/!$/, '').slice(1, -1).split(',').map((s) => s.trim());
  if (inner.length > 2) return undefined;
  if (o.endsWith('!')) return { offset: Number(imm(inner[1]) ?? 0n), mode: 'pre' };
  if (i < ops.length - 1) return { offset: Number(imm(ops[i + 1]) ?? NaN), mode: 'post' };
  return { offset: Number(imm(inner[1]) ?? 0n), mode: 'offset' };
}

// ---- the comparison -------------------------------------------------------------------

/** What differs between our decoding and llvm's, besides the written registers; null if nothing. */
function compareFields(ins: Arm64Insn, od: Od): string | null {
  const { mn, ops } = od;
  const mod = (v: bigint, is64: boolean) => BigInt.asUintN(is64 ? 64 : 32, v);
  const value = (x: { lo: number; hi: number; is64: boolean }) => mod(toBigInt(x), x.is64);
  switch (ins.op) {
    case 'movz':
    case 'movn':
      if (mn === 'mov') return mod(imm(ops[1]) ?? -1n, ins.is64) === value(ins) ? null : `value ${value(ins)}`;
      if (mn === ins.op) return imm(ops[1]) === BigInt(ins.imm) && lsl(ops[2]) === BigInt(ins.shift) ? null : `imm ${ins.imm} lsl ${ins.shift}`;
      return `op ${ins.op}`;
    case 'movk':
      return mn === 'movk' && imm(ops[1]) === BigInt(ins.imm) && lsl(ops[2]) === BigInt(ins.shift) ? null : `movk ${ins.imm} lsl ${ins.shift}`;
    case 'mov':
      return (mn === 'mov' || mn === 'orr') && mod(imm(ops.at(-1)) ?? -1n, ins.is64) === value(ins) ? null : `mov value ${value(ins)}`;
    case 'logic': {
      const k = mn === 'ands' ? 'and' : mn;
      return k === ins.kind && mod(imm(ops[2]) ?? -1n, ins.is64) === value(ins) ? null : `${ins.kind} value ${value(ins)}`;
    }
    case 'add':
    case 'sub':
      if (mn === 'mov') return ins.imm === 0 && (gpr(ops[0]) === 31 || gpr(ops[1]) === 31) ? null : `${ins.op} #${ins.imm}`;
      return mn === ins.op && gpr(ops[1]) === ins.rn && (imm(ops[2]) ?? -1n) << lsl(ops[3]) === BigInt(ins.imm) ? null : `${ins.op} rn ${ins.rn} #${ins.imm}`;
    case 'ldr':
    case 'str':
    case 'ldp':
    case 'stp': {
      if (!mn.startsWith(ins.op.slice(0, 2))) return `op ${ins.op}`;
      const m = mem(ops);
      return m && m.offset === ins.offset && m.mode === ins.mode ? null : `${ins.op} [${ins.rn}] ${ins.mode} ${ins.offset}`;
    }
    case 'ldrlit':
      return mn.startsWith('ldr') && target(ops[1]) === ins.target ? null : `ldr literal ${ins.target.toString(16)}`;
    case 'adrp':
      return mn === 'adrp' && target(ops[1]) === ins.target ? null : `adrp ${ins.target.toString(16)}`;
    case 'adr': // llvm writes adr's operand as the offset from pc
      return mn === 'adr' && imm(ops[1]) === BigInt(ins.offset) ? null : `adr ${ins.offset}`;
    case 'b':
    case 'bl':
      return mn === ins.op && target(ops[0]) === ins.target ? null : `${ins.op} ${ins.target.toString(16)}`;
    case 'bcond':
      return /^bc?\./.test(mn) && target(ops[0]) === ins.target ? null : `b.cond ${ins.target.toString(16)}`;
    case 'cbz':
    case 'cbnz':
      return mn === ins.op && target(ops[1]) === ins.target ? null : `${ins.op} ${ins.target.toString(16)}`;
    case 'tbz':
    case 'tbnz':
      return mn === ins.op && imm(ops[1]) === BigInt(ins.bit) && target(ops[2]) === ins.target ? null : `${ins.op} #${ins.bit} ${ins.target.toString(16)}`;
    case 'ret':
    case 'br':
    case 'blr': {
      if (!mn.startsWith(ins.op)) return `op ${ins.op}`;
      const r = ops.length ? gpr(ops[0]) : 30;
      return r === ins.rn ? null : `${ins.op} x${ins.rn}`;
    }
    case 'csel': {
      // llvm prints the aliases: cset/csetm (rn = rm = zr), cinc/cinv/cneg (rn = rm).
      const aliases: Record<string, string[]> = { csel: ['csel'], csinc: ['csinc', 'cset', 'cinc'], csinv: ['csinv', 'csetm', 'cinv'], csneg: ['csneg', 'cneg'] };
      return aliases[ins.variant].includes(mn) ? null : `${ins.variant} printed as ${mn}`;
    }
    case 'movreg':
      return mn === 'mov' && gpr(ops[1]) === (ins.rm === 31 ? null : ins.rm) ? null : `mov from x${ins.rm}`;
    case 'other': {
      // llvm reads an instruction the decoder names: it should have been decoded
      const named = /^(movz|movk|movn|adrp|adr|bl|b|cbz|cbnz|tbz|tbnz|blr|br|ret)$/.test(mn) || /^b\./.test(mn);
      return named ? `not decoded (${mn})` : null;
    }
  }
}

interface Tally {
  words: number;
  agree: number;
  notModelled: Record<string, number>;
  disagreements: string[];
}

/** Mnemonics whose operands depend on the word's address (targets, pages, literals). */
const PC_RELATIVE = /^(adrp?|bl?|b\..*|bc\..*|cbn?z|tbn?z|ldr|ldrsw|prfm)$/;
const agreed = new Set<string>();

function compareFile(file: string, tally: Tally): void {
  if (!existsSync(file)) return; // the corpus changed under us
  const buf = readFileSync(file);
  const pe = readPe(buf);
  const od = objdump(file);
  const base = Number(pe.headers.imageBase);
  for (const s of pe.sections) {
    if (!s.executable) continue;
    const n = Math.min(s.rawSize, s.virtualSize || s.rawSize) >>> 2;
    for (let k = 0; k < n; k++) {
      const off = s.rawOffset + 4 * k;
      if (off + 4 > buf.length) break;
      const va = base + s.virtualAddress + 4 * k;
      const word = buf.readUInt32LE(off);
      const o = od.get(va);
      if (!o) continue; // llvm did not list this word (past the end of what it disassembles)
      tally.words++;
      if (o.word !== word) {
        tally.disagreements.push(`${file} 0x${va.toString(16)}: llvm read ${o.word.toString(16)}, the file holds ${word.toString(16)}`);
        continue;
      }
      if (NOT_MODELLED[o.mn] !== undefined) {
        tally.notModelled[o.mn] = (tally.notModelled[o.mn] ?? 0) + 1;
        continue;
      }
      // words that do not depend on their address give the same answer everywhere: compare once
      const key = PC_RELATIVE.test(o.mn) ? null : `${word}|${o.mn} ${o.text}`;
      if (key !== null && agreed.has(key)) {
        tally.agree++;
        continue;
      }
      o.ops = splitOps(o.text);
      const ins = decodeArm64(word, va);
      const want = odWrites(o);
      const got = ins.writes >>> 0;
      const field = compareFields(ins, o);
      if (want === got && field === null) {
        tally.agree++;
        if (key !== null) agreed.add(key);
        continue;
      }
      const regs = (x: number) => [...Array(32).keys()].filter((r) => (x >>> r) & 1).map((r) => (r === 31 ? 'sp' : `x${r}`)).join(',') || '-';
      tally.disagreements.push(
        `${o.mn} ${word.toString(16).padStart(8, '0')} (${o.mn} ${o.ops.join(', ')}): ` +
          (want !== got ? `writes ours ${regs(got)} llvm ${regs(want)} ` : '') +
          (field ? `field ${field} (op ${ins.op})` : ''),
      );
    }
  }
}

/** One line per distinct disagreement shape (mnemonic + what differs), with a count and an example. */
function summary(list: string[]): string[] {
  const by = new Map<string, { n: number; ex: string }>();
  for (const d of list) {
    const k = d.split(' ')[0] + (d.includes('writes') ? ' writes' : '') + (d.includes('field') ? ' field' : '');
    const e = by.get(k) ?? { n: 0, ex: d };
    e.n++;
    by.set(k, e);
  }
  return [...by].map(([k, e]) => `${k} x${e.n}: ${e.ex}`);
}

// ---- the files -----------------------------------------------------------------------

const fixtures = join(import.meta.dirname, 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { binaries: { file: string; arch: string }[] };
const arm64Fixtures = manifest.binaries.filter((b) => b.arch === 'arm64').map((b) => join(fixtures, b.file));

const devsetRoot = process.env.POOLTAG_DEVSET ?? '/work/devset';
function devsetArm64(): string[] {
  if (!existsSync(devsetRoot)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.sys$/i.test(e) && st.size >= 0x40) {
        const b = readFileSync(p);
        const pe = b.readUInt32LE(0x3c);
        if (b.readUInt16LE(0) === 0x5a4d && pe + 6 <= b.length && b.readUInt16LE(pe + 4) === 0xaa64) out.push(p);
      }
    }
  };
  walk(devsetRoot);
  return out.sort();
}

describe('ARM64 decoder against llvm-objdump: fixtures', () => {
  if (!haveObjdump && !mustRun) {
    it.skip(`skipped: ${OBJDUMP} not found (install llvm, or set LLVM_OBJDUMP)`, () => {});
    return;
  }
  it('agrees on every word of every ARM64 fixture, or the class is listed as not modelled', () => {
    expect(haveObjdump, `${OBJDUMP} is required when POOLTAG_REQUIRE_TOOLS is set`).toBe(true);
    expect(arm64Fixtures.length).toBeGreaterThan(0);
    const tally: Tally = { words: 0, agree: 0, notModelled: {}, disagreements: [] };
    for (const f of arm64Fixtures) compareFile(f, tally);
    console.log(`arm64-diff fixtures: ${arm64Fixtures.length} files, ${tally.words} words, ${tally.agree} agree, not modelled ${JSON.stringify(tally.notModelled)}, ${tally.disagreements.length} disagree`);
    expect(tally.words).toBeGreaterThan(1000);
    expect(summary(tally.disagreements)).toEqual([]);
    expect(tally.agree + Object.values(tally.notModelled).reduce((a, b) => a + b, 0)).toBe(tally.words);
  });
});

describe('ARM64 decoder against llvm-objdump: development corpus', () => {
  const files = haveObjdump ? devsetArm64() : [];
  if (!files.length) {
    it.skip(`skipped: ${!haveObjdump ? `${OBJDUMP} not found` : `no ARM64 drivers under ${devsetRoot} (set POOLTAG_DEVSET)`}`, () => {});
    return;
  }
  it(`agrees on every word of ${files.length} ARM64 drivers, or the class is listed as not modelled`, { timeout: 300_000 }, () => {
    const tally: Tally = { words: 0, agree: 0, notModelled: {}, disagreements: [] };
    for (const f of files) compareFile(f, tally);
    console.log(`arm64-diff devset: ${files.length} files, ${tally.words} words, ${tally.agree} agree, not modelled ${JSON.stringify(tally.notModelled)}, ${tally.disagreements.length} disagree`);
    expect(summary(tally.disagreements)).toEqual([]);
  });
});
