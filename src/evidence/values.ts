/**
 * The value analysis: which values can a location hold at an instruction?
 *
 * A demand-driven value-set analysis over the function's control-flow graph (`cfg.ts`):
 * the last write of the location above the instruction in its block defines the value;
 * failing that, every definition that reaches the top of the block does, from the
 * function's reaching definitions of that location (a forward fixed point over the graph,
 * computed once per function and location and kept with the function, so that fifty calls
 * through one register cost one pass). Each definition is evaluated and the answers are
 * joined (set union). Conditional moves (`cmov`, `csel`) are `either` values: the union of
 * both arms.
 *
 * The values (`Resolved`): constants (with how they were recovered), "parameter n of this
 * function", image cells whose content is only known at run time (an IAT slot, a writable
 * global: the caller decides what the file's initial value means), addresses of the image
 * and of stack slots, and unknown with a reason. A set holds at most `MAX_VALUES`; a
 * larger one becomes unknown.
 *
 * Every query is bounded: `MAX_STEPS` definitions evaluated over all copies, `MAX_DEPTH`
 * copies deep, at most `MAX_DEFS` definitions per location and block. Hostile code (branches into themselves, huge loops) costs a
 * bounded amount of work and yields "unknown".
 */
import { controlFlowGraph, type ControlFlowGraph } from './cfg.js';
import { derivedOf, rAddr, rCell, rCellptr, rConst, rField, rParam, rStack, rTable, rUnknown, UNKNOWN, vLoad, type AbiInfo, type Insn, type Loc, type LoweredFunction, type Resolved, type Value } from './ir.js';

export const MAX_VALUES = 8;
const MAX_DEPTH = 12;
/** Definitions one query may evaluate, over every copy it follows (each step of a chain of copies counts). */
const MAX_STEPS = 20000;

interface Query {
  fn: LoweredFunction;
  cfg: ControlFlowGraph;
  abi: AbiInfo;
  steps: number;
  maxSteps: number;
}

/** A call's target register is set close to the call (a load of the slot): a smaller budget. */
const MAX_STEPS_OPERAND = 4000;

/** The values `loc` may hold just before `fn.insns[index]` executes. */
export function valuesAt(fn: LoweredFunction, index: number, loc: Loc, abi: AbiInfo): Resolved[] {
  return reach({ fn, cfg: controlFlowGraph(fn), abi, steps: 0, maxSteps: MAX_STEPS }, index, loc, 0, 0);
}

/** The values of an operand read by `fn.insns[index]` (the register a call goes through). */
export function valuesOf(fn: LoweredFunction, index: number, value: Value, abi: AbiInfo): Resolved[] {
  return evaluate({ fn, cfg: controlFlowGraph(fn), abi, steps: 0, maxSteps: MAX_STEPS_OPERAND }, index, value, 0, 0, '$operand');
}

/**
 * The definitions of `loc` that reach `fn.insns[index]`, as written (the IR value and the
 * index of the writing instruction), or null when the caller's value, a call's clobber or
 * too many definitions reach it. For recognisers that read the shape of a computation
 * rather than its value (`jumptables.ts`).
 */
export function definitionsAt(fn: LoweredFunction, index: number, loc: Loc, abi: AbiInfo): { at: number; value: Value }[] | null {
  const insns = fn.insns;
  if (insns.length === 0) return null;
  const cfg = controlFlowGraph(fn);
  const b = cfg.blockOf[Math.min(index, insns.length - 1)];
  for (let i = Math.min(index, insns.length) - 1; i >= cfg.blockStart[b]; i--) {
    const d = defines(insns[i], loc, abi);
    if (d === 1) return [{ at: i, value: lastWrite(insns[i], loc) }];
    if (d === 2) return null;
  }
  const out: { at: number; value: Value }[] = [];
  for (const d of reachingDefinitions(fn, cfg, loc, abi)[b]) {
    if (d < 0) return null;
    out.push({ at: d, value: lastWrite(insns[d], loc) });
  }
  return out;
}

const unknown = rUnknown;

/** Whether two values are the same entry of a set (unknowns are one entry, whatever their reason). */
function same(a: Resolved, b: Resolved): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'const':
      return a.v === (b as typeof a).v && (a.hi ?? -1) === ((b as typeof a).hi ?? -1);
    case 'param':
      return a.n === (b as typeof a).n;
    case 'cell':
    case 'addr':
      return a.rva === (b as typeof a).rva;
    case 'cellptr':
    case 'table':
      return a.cell === (b as typeof a).cell && a.disp === (b as typeof a).disp;
    case 'stack':
      return a.off === (b as typeof a).off;
    case 'field':
      return a.param === (b as typeof a).param && a.disp === (b as typeof a).disp;
    case 'unknown':
      return true;
  }
}

/** Add `r` to the set `out` (one entry per value; the first reason of an unknown is kept). */
function add(out: Resolved[], r: Resolved): void {
  for (let i = 0; i < out.length; i++) if (same(out[i], r)) return;
  if (out.length >= MAX_VALUES) {
    for (let i = 0; i < out.length; i++) if (out[i].k === 'unknown') return;
    out.push(unknown(`more than ${MAX_VALUES} possible values`));
    return;
  }
  out.push(r);
}

function reach(q: Query, index: number, loc: Loc, depth: number, hops: number): Resolved[] {
  if (depth > MAX_DEPTH) return [unknown('value passes through too many copies')];
  const { fn, cfg, abi } = q;
  const insns = fn.insns;
  if (insns.length === 0) return [paramOrUnknown(abi, loc)];
  const b = cfg.blockOf[Math.min(index, insns.length - 1)];
  // The definition in the instruction's own block, above it.
  for (let i = Math.min(index, insns.length) - 1; i >= cfg.blockStart[b]; i--) {
    const d = defines(insns[i], loc, abi);
    if (d === 1) return evaluate(q, i, lastWrite(insns[i], loc), depth, hops, loc);
    if (d === 2) return [clobbered(insns[i], loc)];
  }
  // Else every definition that reaches the block's top (reaching definitions, one forward
  // pass per function and location, kept with the function).
  const defs = reachingDefinitions(fn, cfg, loc, abi)[b];
  const out: Resolved[] = [];
  for (const d of defs) {
    if (++q.steps > q.maxSteps) {
      add(out, unknown('definition too far above the call'));
      return out;
    }
    if (d === ENTRY) add(out, paramOrUnknown(abi, loc));
    else if (d === TOO_MANY) add(out, unknown(`more than ${MAX_DEFS} definitions of ${loc} reach the call`));
    else if (d === OVER_BUDGET) add(out, unknown('the function is too large to follow more of its values (analysis budget spent)'));
    else if (d >= 0) for (const r of evaluate(q, d, lastWrite(insns[d], loc), depth, hops, loc)) add(out, r);
    else add(out, clobbered(insns[-1 - d], loc));
  }
  return out;
}

/** 1: `insn` writes `loc`; 2: it is a call that clobbers `loc`; 0: neither. */
function defines(insn: Insn, loc: Loc, abi: AbiInfo): 0 | 1 | 2 {
  const ws = insn.writes;
  for (let w = ws.length - 2; w >= 0; w -= 2) if (ws[w] === loc) return 1;
  return insn.call && !insn.tail && abi.clobbered.has(loc) ? 2 : 0;
}

function lastWrite(insn: Insn, loc: Loc): Value {
  const ws = insn.writes;
  for (let w = ws.length - 2; w >= 0; w -= 2) if (ws[w] === loc) return ws[w + 1] as Value;
  return UNKNOWN;
}

const clobbered = (insn: Insn, loc: Loc): Resolved => unknown(`${loc} is overwritten by the call at 0x${insn.rva.toString(16)}`);

/**
 * Reaching definitions of one location: for each block, the definitions that reach its top.
 * A definition is an instruction index (a write of `loc`), `-1 - i` (the call at `i` clobbers
 * it), `ENTRY` (the caller's value: a parameter, or not set) or `TOO_MANY`. The classic
 * forward data-flow fixed point: the top of a block joins (set union) what its predecessors
 * leave; a block leaves its last definition, or what reached its top. A block no modelled
 * edge reaches takes its layout predecessor (see `cfg.ts`). Sets are capped at `MAX_DEFS`,
 * so the iteration ends after a bounded number of changes per block whatever the graph.
 */
const ENTRY = -0x40000000;
const TOO_MANY = -0x40000001;
/** The function's reaching-definitions budget was spent before this location was asked about. */
const OVER_BUDGET = -0x40000002;
const OVER_BUDGET_SET: readonly number[] = [OVER_BUDGET];
/**
 * Instructions and blocks walked by the reaching-definitions passes of one function, over all
 * its locations: ten times what the largest function of the development corpus needs (38,415,
 * a systeminformer build); a hostile image
 * (a bit flip that makes one function of the whole section) reaches it.
 */
const MAX_RD_WORK = 400_000;
/**
 * The same over every function of one image (its `AbiInfo` stands for it): ten times the
 * development corpus's largest (98,712, a systeminformer build). A mutated VBoxUSBMon whose
 * functions all span the whole section needed 9.8 million, seconds of work.
 */
const MAX_RD_WORK_IMAGE = 1_000_000;
const imageWork = new WeakMap<AbiInfo, number>();
const MAX_DEFS = 64;
const NONE: readonly number[] = [];

/**
 * Scratch of `reachingDefinitions`, grown as needed and reused for every function and
 * location: the last definition in each block, the work list and its flags, the sets each
 * block leaves when it defines the location, and the join being built. What is kept (the sets
 * reaching each block) is all it allocates.
 */
let lastDef = new Int32Array(256);
let queued = new Uint8Array(256);
let work = new Int32Array(256);
let own: (readonly number[] | undefined)[] = [];
const join: number[] = [];
/** `inJoin[joinKey(d)] === joinStamp`: definition d is in the join being built. */
let inJoin = new Int32Array(512);
let joinStamp = 0;

/**
 * The slot of definition `d` in `inJoin`, for a function of `n` instructions: a write at i is
 * 2i, a clobbering call at i (`-1 - i`) is 2i + 1, the caller's value (`ENTRY`) is 2n. (`TOO_MANY`
 * never enters a join.)
 */
function joinKey(d: number, n: number): number {
  return d >= 0 ? 2 * d : d === ENTRY ? 2 * n : 2 * (-1 - d) + 1;
}

function reachingDefinitions(fn: LoweredFunction, cfg: ControlFlowGraph, loc: Loc, abi: AbiInfo): readonly (readonly number[])[] {
  const derived = derivedOf(fn);
  const perLoc = (derived.defs ??= new Map());
  const cached = perLoc.get(loc);
  if (cached !== undefined) return cached;
  const blocks = cfg.blockStart.length;
  // Hostile code (a huge function where every query names another location) must not cost a
  // pass over the whole function per location without end: past the budget, what reaches a
  // block is "over budget" (unknown), for every location not asked about before.
  const cost = fn.insns.length + blocks;
  const spent = derived.rdWork + cost;
  derived.rdWork = spent;
  const image = (imageWork.get(abi) ?? 0) + cost;
  imageWork.set(abi, image);
  if (spent > MAX_RD_WORK || image > MAX_RD_WORK_IMAGE) {
    const over: (readonly number[])[] = new Array(blocks).fill(OVER_BUDGET_SET);
    perLoc.set(loc, over);
    return over;
  }
  const insns = fn.insns;
  if (lastDef.length < blocks) {
    const n = Math.max(blocks, lastDef.length * 2);
    lastDef = new Int32Array(n);
    queued = new Uint8Array(n);
    work = new Int32Array(n);
  }
  while (own.length < blocks) own.push(undefined);
  const fnLength = insns.length;
  if (inJoin.length < 2 * fnLength + 2) {
    inJoin = new Int32Array(Math.max(2 * fnLength + 2, inJoin.length * 2));
    joinStamp = 0;
  }
  if (joinStamp > 0x3fffffff) {
    inJoin.fill(0);
    joinStamp = 0;
  }
  const last = lastDef;
  // The last definition in each block, or none: the last instruction of the block that writes
  // the location (1 of `defines`), or else clobbers it (2). From the second location of a
  // function on, from the function's index of writers and calls rather than a walk over every
  // instruction per location.
  for (let b = 0; b < blocks; b++) {
    last[b] = NO_DEF;
    own[b] = undefined;
  }
  const blockOf = cfg.blockOf;
  if (perLoc.size === 0) {
    // The function's first location: one walk of its blocks (most functions are asked about
    // one location; the index below pays from the second on).
    for (let b = 0; b < blocks; b++) {
      for (let i = cfg.blockEnd[b] - 1; i >= cfg.blockStart[b]; i--) {
        const d = defines(insns[i], loc, abi);
        if (d !== 0) {
          last[b] = d === 1 ? i : -1 - i;
          break;
        }
      }
    }
  } else if (abi.clobbered.has(loc)) {
    const calls = (derived.calls ??= callsOf(insns));
    for (let k = 0; k < calls.length; k++) last[blockOf[calls[k]]] = -1 - calls[k];
  }
  const ws = perLoc.size === 0 ? undefined : (derived.writers ??= writersOf(insns)).get(loc);
  if (ws !== undefined) {
    for (let k = 0; k < ws.length; k++) {
      const i = ws[k];
      const b = blockOf[i];
      const cur = last[b];
      // A write at or after the block's last clobbering call is its definition (a call that also writes it: 1).
      if (cur === NO_DEF || cur >= 0 || i >= -1 - cur) last[b] = i;
    }
  }
  const into: (readonly number[])[] = new Array(blocks).fill(NONE);
  if (blocks > 0) into[0] = ENTRY_SET;
  const { predStart, pred, succStart, succ, orphan } = cfg;
  let top = 0;
  for (let b = blocks - 1; b >= 0; b--) {
    work[top++] = b;
    queued[b] = 1;
  }
  while (top > 0) {
    const b = work[--top];
    queued[b] = 0;
    const orphaned = orphan[b] === 1;
    const p0 = orphaned ? 0 : predStart[b];
    const n = orphaned ? 1 : predStart[b + 1] - p0;
    let set: readonly number[];
    if (b !== 0 && n === 1) {
      // One predecessor: its set, shared (sets never change once made).
      const p = orphaned ? b - 1 : pred[p0];
      set = last[p] !== NO_DEF ? leaves(p) : into[p];
    } else {
      // The join, built in the scratch array; a new set only when it differs from the block's.
      // Membership by stamp (`inJoin`), not by a search of the join per definition.
      while (join.length !== 0) join.pop();
      const stamp = ++joinStamp;
      if (b === 0) {
        join.push(ENTRY);
        inJoin[joinKey(ENTRY, fnLength)] = stamp;
      }
      let tooMany = false;
      for (let k = 0; k < n && !tooMany; k++) {
        const p = orphaned ? b - 1 : pred[p0 + k];
        const from = last[p] !== NO_DEF ? leaves(p) : into[p];
        for (let j = 0; j < from.length; j++) {
          const d = from[j];
          if (d !== TOO_MANY && inJoin[joinKey(d, fnLength)] === stamp) continue;
          if (d === TOO_MANY || join.length >= MAX_DEFS) {
            tooMany = true;
            break;
          }
          join.push(d);
          inJoin[joinKey(d, fnLength)] = stamp;
        }
      }
      if (tooMany) {
        if (into[b] === TOO_MANY_SET) continue;
        set = TOO_MANY_SET;
      } else {
        if (sameSet(join, into[b])) continue;
        set = join.slice();
      }
    }
    if (sameSet(set, into[b])) continue;
    into[b] = set;
    // Only a block that passes its top on (defines nothing) changes what it leaves.
    if (last[b] !== NO_DEF) continue;
    for (let k = succStart[b]; k < succStart[b + 1]; k++) {
      const s = succ[k];
      if (queued[s] === 0) {
        queued[s] = 1;
        work[top++] = s;
      }
    }
  }
  perLoc.set(loc, into);
  return into;
}

/** What defining block `p` leaves: its last definition (one array per such block, made when first asked for). */
function leaves(p: number): readonly number[] {
  let o = own[p];
  if (o === undefined) own[p] = o = [lastDef[p]];
  return o;
}

/** Index of the instructions that write each location, ascending, each instruction once per location. */
function writersOf(insns: readonly Insn[]): Map<Loc, number[]> {
  const m = new Map<Loc, number[]>();
  for (let i = 0; i < insns.length; i++) {
    const ws = insns[i].writes;
    for (let w = 0; w < ws.length; w += 2) {
      const loc = ws[w] as Loc;
      const list = m.get(loc);
      if (list === undefined) m.set(loc, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    }
  }
  return m;
}

/** The calls that clobber registers (`defines` 2): calls that are not tail calls, ascending. */
function callsOf(insns: readonly Insn[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < insns.length; i++) if (insns[i].call && !insns[i].tail) out.push(i);
  return out;
}

const NO_DEF = 0x7fffffff;
const ENTRY_SET: readonly number[] = [ENTRY];
const TOO_MANY_SET: readonly number[] = [TOO_MANY];

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!b.includes(a[i])) return false;
  return true;
}

function paramOrUnknown(abi: AbiInfo, loc: Loc): Resolved {
  const n = abi.paramAt(loc);
  return n > 0 ? rParam(n) : unknown(`${loc} is not set in the function`);
}

const isSlot = (loc: Loc) => loc.startsWith('s:') || loc.startsWith('f:');

/**
 * What a value the lowering recorded resolves to. A small dispatcher over one function per
 * kind, each a plain loop: the optimising compiler then compiles (and, when a kind first shows
 * up late, recompiles) a small function, not one that inlined every kind and the recursion
 * through `reach` (on ARM64, 8 compiles of some 270 ms each in one pass over the corpus).
 */
function evaluate(q: Query, i: number, value: Value, depth: number, hops: number, loc: Loc): Resolved[] {
  switch (value.k) {
    case 'const':
      return [evalConst(q, i, value, hops, loc)];
    case 'either':
      return evalEither(q, i, value, depth, hops, loc);
    case 'high':
      return evalHigh(q, i, value, depth, hops);
    case 'copy':
      return evalCopy(q, i, value, depth, hops, loc);
    case 'load':
      return [evalLoad(q, i, value)];
    case 'deref':
      return evalDeref(q, i, value, depth, hops, loc);
    case 'insert':
      return evalInsert(q, i, value, depth, hops);
    case 'logic':
      return evalLogic(q, i, value, depth, hops);
    case 'addr':
      return [rAddr(value.rva)];
    case 'stack':
      return [rStack(value.off)];
    case 'offset':
      return evalOffset(q, i, value, depth, hops);
    case 'indexed':
    case 'sum':
    case 'unknown':
      return [unknown(`${loc} is computed at 0x${q.fn.insns[i].rva.toString(16)}`)];
  }
}

type ValueOf<K extends Value['k']> = Extract<Value, { k: K }>;

function evalConst(q: Query, i: number, value: ValueOf<'const'>, hops: number, loc: Loc): Resolved {
  const via = hops === 0 ? (isSlot(loc) ? 'stack-slot' : 'immediate') : 'register-copy';
  return rConst(value.v >>> 0, via, q.fn.insns[i].rva, value.hi !== undefined ? value.hi >>> 0 : undefined);
}

function evalEither(q: Query, i: number, value: ValueOf<'either'>, depth: number, hops: number, loc: Loc): Resolved[] {
  const out: Resolved[] = [];
  for (const r of evaluate(q, i, value.a, depth + 1, hops, loc)) add(out, r);
  for (const r of evaluate(q, i, value.b, depth + 1, hops, loc)) add(out, r);
  return out;
}

function evalHigh(q: Query, i: number, value: ValueOf<'high'>, depth: number, hops: number): Resolved[] {
  const rs = reach(q, i, value.loc, depth + 1, hops + 1);
  const out: Resolved[] = new Array(rs.length);
  for (let k = 0; k < rs.length; k++) {
    const r = rs[k];
    out[k] = r.k === 'const' && r.hi !== undefined ? rConst(r.hi, 'stack-slot', r.at) : unknown(`upper half of ${value.loc} is not a known constant`);
  }
  return out;
}

function evalCopy(q: Query, i: number, value: ValueOf<'copy'>, depth: number, hops: number, loc: Loc): Resolved[] {
  const slot = isSlot(value.loc) || isSlot(loc);
  const rs = reach(q, i, value.loc, depth + 1, hops + 1);
  const out: Resolved[] = new Array(rs.length);
  for (let k = 0; k < rs.length; k++) {
    const r = rs[k];
    out[k] = r.k === 'const' && slot && r.via !== 'memory' ? rConst(r.v, 'stack-slot', r.at, r.hi) : r;
  }
  return out;
}

/**
 * An IAT slot, a writable cell, or a cell that is zero in the file is filled at run time
 * (imports, function-table globals): the cell itself. Anything else is a constant of the
 * image (a read-only initializer, a literal pool).
 */
function evalLoad(q: Query, i: number, value: ValueOf<'load'>): Resolved {
  const abi = q.abi;
  if (abi.isImportSlot(value.rva) || abi.isWritable(value.rva)) return rCell(value.rva);
  const v = abi.readImage(value.rva, 4);
  const hi = value.size === 8 ? abi.readImage(value.rva + 4, 4) : 0;
  if (v === null || hi === null || (v === 0 && hi === 0)) return rCell(value.rva);
  return rConst(v >>> 0, 'memory', q.fn.insns[i].rva, value.size === 8 ? hi : undefined);
}

function evalDeref(q: Query, i: number, value: ValueOf<'deref'>, depth: number, hops: number, loc: Loc): Resolved[] {
  const out: Resolved[] = [];
  for (const base of reach(q, i, value.base, depth + 1, hops + 1)) {
    if (base.k === 'cell') add(out, rTable(base.rva, value.disp));
    else if (base.k === 'cellptr') add(out, rTable(base.cell, base.disp + value.disp));
    else if (base.k === 'addr') add(out, evalLoad(q, i, vLoad(base.rva + value.disp, value.size) as ValueOf<'load'>));
    else if (base.k === 'param') add(out, rField(base.n, value.disp));
    else add(out, base.k === 'unknown' ? base : unknown('load through a pointer that is not an image address'));
  }
  return out;
}

function evalInsert(q: Query, i: number, value: ValueOf<'insert'>, depth: number, hops: number): Resolved[] {
  const mask = (0xffff << value.shift) >>> 0;
  const rs = reach(q, i, value.base, depth + 1, hops);
  const out: Resolved[] = new Array(rs.length);
  for (let k = 0; k < rs.length; k++) {
    const base = rs[k];
    out[k] =
      base.k === 'const'
        ? rConst((((base.v & ~mask) >>> 0) | ((value.imm << value.shift) >>> 0)) >>> 0, base.via, q.fn.insns[i].rva, base.hi)
        : base.k === 'unknown'
          ? base
          : unknown('movk onto a non-constant');
  }
  return out;
}

function evalLogic(q: Query, i: number, value: ValueOf<'logic'>, depth: number, hops: number): Resolved[] {
  const rs = reach(q, i, value.base, depth + 1, hops + 1);
  const out: Resolved[] = new Array(rs.length);
  for (let k = 0; k < rs.length; k++) {
    const base = rs[k];
    if (base.k !== 'const') out[k] = base.k === 'unknown' ? base : unknown(`logical operation on ${value.base}, not a constant`);
    else {
      const v = value.op === 'and' ? base.v & value.imm : value.op === 'orr' ? base.v | value.imm : base.v ^ value.imm;
      out[k] = rConst(v >>> 0, 'register-copy', q.fn.insns[i].rva);
    }
  }
  return out;
}

function evalOffset(q: Query, i: number, value: ValueOf<'offset'>, depth: number, hops: number): Resolved[] {
  const rs = reach(q, i, value.base, depth + 1, hops + 1);
  const out: Resolved[] = new Array(rs.length);
  for (let k = 0; k < rs.length; k++) {
    const base = rs[k];
    let r: Resolved;
    if (base.k === 'addr') r = rAddr(base.rva + value.disp);
    else if (base.k === 'stack') r = rStack(base.off + value.disp);
    else if (base.k === 'cell') r = rCellptr(base.rva, value.disp);
    // Plain arithmetic on a constant (`lea esi, [esi+0]` padding, `add reg, imm`).
    else if (base.k === 'const') r = rConst((base.v + value.disp) >>> 0, 'register-copy', base.at);
    else if (base.k === 'cellptr') r = rCellptr(base.cell, base.disp + value.disp);
    else r = base.k === 'unknown' ? base : unknown('address arithmetic on a non-address');
    out[k] = r;
  }
  return out;
}
