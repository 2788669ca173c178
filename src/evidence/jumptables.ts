/**
 * Jump tables: the targets of an indirect jump read from a table of the image, so that
 * the control-flow graph has an edge to every case (`Insn.targets`) instead of treating the
 * jump as a tail call and the cases as blocks nothing reaches.
 *
 * A shape-reading pass over a lowered function, run by the backends right after lowering.
 * The value analysis (`values.ts`, over the graph as lowered) resolves the registers; the
 * shapes are those the compilers emit, all as IR (`indexed` loads and `sum`s):
 *
 *   x86 (MSVC, gcc, clang)  jmp [table + idx*4]                       entries are VAs
 *   x64 MSVC                lea rdx, __ImageBase ; mov ecx, [rdx + rax*4 + table]
 *                           add rcx, rdx ; jmp rcx                      entries are RVAs
 *   x64 clang, gcc          lea rcx, table ; movsxd rax, [rcx + rax*4]
 *                           add rax, rcx ; jmp rax                      entries are table-relative
 *   ARM64 clang             adrp/add x9, table ; adr x10, base ; ldrb w11, [x9, x8]
 *                           add x10, x10, x11, lsl #2 ; br x10          base + 4 * entry
 *   ARM64 MSVC              adr x9, table ; ldr w8, [x9, w8, uxtw #2]
 *                           add x8, x9, w8, sxtw #2 ; br x8             table + 4 * entry
 *
 * The number of entries comes from the `cmp idx, N` that guards the jump (N + 1 entries);
 * without one, entries are read while they land in the function, at most `MAX_ENTRIES`. A
 * table whose guarded entries leave the function is not one we understand: the jump is left
 * as it was. Hostile tables cost at most `MAX_ENTRIES` reads per jump.
 */
import type { AbiInfo, Loc, LoweredFunction, Resolved, Value } from './ir.js';
import { definitionsAt, valuesAt } from './values.js';

const MAX_ENTRIES = 512;
/** How far above the table load the guarding compare may be. */
const COMPARE_WINDOW = 24;

export interface TableReader {
  abi: AbiInfo;
  /** An x86 constant that is a VA, as an RVA (x64 and ARM64 values are RVAs already). */
  vaToRva(v: number): number | null;
}

interface Table {
  /** RVA of entry 0. */
  at: number;
  size: number;
  signed: boolean;
  /** Index of the instruction that loads the entry (the compare is searched above it). */
  load: number;
  index: Loc;
  /** Target of entry `e` (already sign-extended and sized). */
  target(e: number): number | null;
}

/** Give every recognised indirect jump of `l` its table's targets. Returns the number of tables found. */
export function resolveJumpTables(l: LoweredFunction, start: number, end: number, r: TableReader): number {
  let found = 0;
  for (let i = 0; i < l.insns.length; i++) {
    const insn = l.insns[i];
    if (!insn.tail || !insn.noFall || insn.call?.k !== 'value') continue;
    const t = tableOf(l, i, insn.call.value, r);
    if (!t) continue;
    const targets = readTable(l, t, start, end, r);
    if (!targets) continue;
    insn.targets = targets;
    insn.call = undefined;
    insn.tail = undefined;
    found++;
  }
  // The graph and the reaching definitions were made without these edges.
  if (found) l.derived = undefined;
  return found;
}

function single(rs: Resolved[]): Resolved | null {
  return rs.length === 1 ? rs[0] : null;
}

/** The value a register holds at `i`, as written, when one definition reaches it. */
function shapeOf(l: LoweredFunction, i: number, loc: Loc, abi: AbiInfo): { at: number; value: Value } | null {
  const d = definitionsAt(l, i, loc, abi);
  return d && d.length === 1 ? d[0] : null;
}

/** An image address a register holds at `i` (a `lea`, an `adrp`+`add`, an `adr`; x86: a VA constant). */
function addressAt(l: LoweredFunction, i: number, loc: Loc, r: TableReader): number | null {
  const v = single(valuesAt(l, i, loc, r.abi));
  if (!v) return null;
  if (v.k === 'addr') return v.rva;
  if (v.k === 'const') return r.vaToRva(v.v);
  return null;
}

function tableOf(l: LoweredFunction, i: number, value: Value, r: TableReader): Table | null {
  let at = i;
  let v = value;
  if (v.k === 'copy') {
    const d = shapeOf(l, i, v.loc, r.abi);
    if (!d) return null;
    at = d.at;
    v = d.value;
  }
  // x86: `jmp [table + idx*4]`, the entries are VAs.
  if (v.k === 'indexed' && v.base === null && v.scale === v.size) {
    const table = r.vaToRva(v.disp);
    if (table === null) return null;
    return { at: table, size: v.size, signed: false, load: at, index: v.index, target: (e) => r.vaToRva(e) };
  }
  if (v.k !== 'sum') return null;
  // `a + (b << shift)`: the entry is `b` (shifted or not) or, unshifted, `a`; the other is the base.
  const sides: [Loc, Loc][] = v.shift === 0 ? [[v.b, v.a], [v.a, v.b]] : [[v.b, v.a]];
  for (const [entryLoc, baseLoc] of sides) {
    const e = shapeOf(l, at, entryLoc, r.abi);
    if (!e || e.value.k !== 'indexed' || (e.value.scale !== e.value.size && e.value.scale !== 1)) continue;
    const ld = e.value;
    const base = addressAt(l, at, baseLoc, r);
    if (base === null) continue;
    const table = ld.base === null ? r.vaToRva(ld.disp) : addOrNull(addressAt(l, e.at, ld.base, r), ld.disp);
    if (table === null) continue;
    const scale = 2 ** v.shift;
    // Relative 4-byte entries are signed (a case may lie above the table); bytes and halves are as loaded.
    return { at: table, size: ld.size, signed: ld.signed || ld.size === 4, load: e.at, index: ld.index, target: (x) => base + x * scale };
  }
  return null;
}

function addOrNull(a: number | null, b: number): number | null {
  return a === null ? null : a + b;
}

function readTable(l: LoweredFunction, t: Table, start: number, end: number, r: TableReader): number[] | null {
  const bound = indexBound(l, t, r);
  const count = bound === null ? MAX_ENTRIES : bound + 1;
  if (count <= 0 || count > MAX_ENTRIES) return null;
  const targets: number[] = [];
  for (let k = 0; k < count; k++) {
    let e = r.abi.readImage(t.at + k * t.size, t.size);
    if (e === null) return bound === null && targets.length ? targets : null;
    if (t.signed) e = t.size === 4 ? e | 0 : t.size === 2 ? (e << 16) >> 16 : t.size === 1 ? (e << 24) >> 24 : e;
    const target = t.target(e);
    if (target === null || target < start || target >= end) {
      if (bound === null && targets.length) break;
      return null;
    }
    if (!targets.includes(target)) targets.push(target);
  }
  return targets.length ? targets : null;
}

/**
 * The largest index the table is read with: the guarding compare's N; or, when the index is
 * itself read from a table of bytes or halves (MSVC: `movzx eax, byte [r9 + rax + t1]` then
 * `mov edx, [r9 + rax*4 + t2]`), the largest value of that index table over its guard.
 */
function indexBound(l: LoweredFunction, t: Table, r: TableReader): number | null {
  const inner = shapeOf(l, t.load, t.index, r.abi);
  if (inner && inner.value.k === 'indexed' && inner.value.size <= 2 && !inner.value.signed && inner.value.base !== null) {
    const ld = inner.value;
    const base = addressAt(l, inner.at, ld.base!, r);
    const n = guardOf(l, inner.at);
    if (base === null || n === null || n >= MAX_ENTRIES) return null;
    let max = -1;
    for (let k = 0; k <= n; k++) {
      const e = r.abi.readImage(base + ld.disp + k * ld.scale, ld.size);
      if (e === null) return null;
      max = Math.max(max, e);
    }
    return max;
  }
  return guardOf(l, t.load);
}

/** The `cmp idx, N` above the instruction at `load` that bounds the index (N), or null. */
function guardOf(l: LoweredFunction, load: number): number | null {
  for (let j = load - 1; j >= 0 && j >= load - COMPARE_WINDOW; j--) {
    const c = l.insns[j].compare;
    if (c) return c.imm >>> 0;
    if (l.insns[j].call) return null;
  }
  return null;
}
