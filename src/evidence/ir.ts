/**
 * A tiny, architecture-neutral model of the instructions that matter for recovering
 * constant arguments at call sites, and the backward slice that recovers them.
 *
 * Backends (x86/x64 through iced-x86, ARM64 through our decoder) lower each decoded
 * instruction of a function into an `Insn`: the locations it writes and what it writes
 * there, and, for calls and tail jumps, the call target. The engine then asks
 * `resolve(fn, index, loc)`: "what value does `loc` hold just before instruction
 * `index`?", walking backwards through the function.
 *
 * The walk is linear (it ignores branches): the last write above the call wins. That is
 * right for straight-line argument set-up, for values kept in callee-saved registers
 * across a loop (the loop body does not write them), and for spills and reloads. It can
 * be wrong when two branches set the argument differently; calls clobber volatile
 * registers, which stops a walk that would otherwise cross them. One exception: code
 * that follows a `ret`/`jmp` is entered by jumps only, so when exactly one direct branch
 * of the function leads to it, the walk continues at that branch instead of crossing
 * into the unrelated code above (a block placed after the function's exit, a rotated
 * loop's body).
 *
 * Locations are strings: a register family (`rax`, `r8`, `x2`), a stack slot keyed by
 * its offset from the stack pointer at function entry (`s:-40`), a frame slot keyed by
 * its offset from the frame pointer (`f:12`), or a memory cell of the image (`m:0x1234`,
 * an RVA).
 */

export type Loc = string;

export type Value =
  /** A constant (the low 32 bits matter for tags; kept as an unsigned 32-bit number). */
  | { k: 'const'; v: number; hi?: number }
  /** The upper 32 bits of a 64-bit location (an 8-byte store puts them at slot + 4). */
  | { k: 'high'; loc: Loc }
  /** The value of another location at this point. */
  | { k: 'copy'; loc: Loc }
  /** A load from the image at `rva` (RIP-relative, absolute, adrp+ldr, literal pool). */
  | { k: 'load'; rva: number; size: number }
  /** A load through a register: `[base + disp]` where base is not the stack pointer. */
  | { k: 'deref'; base: Loc; disp: number; size: number }
  /** ARM64 movk: `base` with 16 bits replaced. */
  | { k: 'insert'; base: Loc; imm: number; shift: number }
  /** An address of the image (lea rip+disp, adrp(+add), mov reg, imm32 that is an address). */
  | { k: 'addr'; rva: number }
  /** The address of a stack slot (`lea rdx, [rsp+40h]`): a struct passed by pointer. */
  | { k: 'stack'; off: number }
  /** `base & imm`, `base | imm`, `base ^ imm` (low 32 bits): ARM64 logical immediates, x86 and/or/xor. */
  | { k: 'logic'; op: 'and' | 'orr' | 'eor'; base: Loc; imm: number }
  /** Address `base + disp` (ARM64 add immediate to an adrp result, x86 lea). */
  | { k: 'offset'; base: Loc; disp: number }
  | { k: 'unknown' };

export type CallTarget =
  /** A call through an image memory cell (IAT slot or function-pointer global). */
  | { k: 'mem'; rva: number }
  /** A direct call/branch to code at `rva` (a thunk, a wrapper, any function). */
  | { k: 'direct'; rva: number }
  /** An indirect call through a register, or through memory at `[base+disp]`. */
  | { k: 'value'; value: Value };

export interface Insn {
  rva: number;
  /** Writes, in order. */
  writes: { loc: Loc; value: Value }[];
  /** Set for calls, and for tail jumps (`jmp [iat]`, `b thunk`) which pass arguments too. */
  call?: CallTarget;
  tail?: boolean;
  /** Stack pointer relative to function entry before this instruction, when known. */
  sp: number | null;
  /** Target RVA of a direct branch inside the function (conditional or not). */
  jump?: number;
  /** Control never falls through to the next instruction (`ret`, `jmp`, ARM64 `b`/`br`/`ret`). */
  noFall?: boolean;
}

export interface LoweredFunction {
  start: number;
  insns: Insn[];
}

/** What an architecture contributes to the resolver. */
export interface AbiInfo {
  /** Locations a call clobbers (volatile registers, including the return register). */
  clobbered: ReadonlySet<Loc>;
  /** Parameter number (1-based) of a location at function entry, or 0. */
  paramAt(loc: Loc): number;
  /** Read `size` bytes of the image at `rva` as an unsigned number, or null. */
  readImage(rva: number, size: number): number | null;
  /** The cell is filled at load time (an IAT slot): its file contents mean nothing. */
  isImportSlot(rva: number): boolean;
  /** The cell is in a writable section: its file contents are only an initial value. */
  isWritable(rva: number): boolean;
}

export type Resolved =
  | { k: 'const'; v: number; via: 'immediate' | 'register-copy' | 'stack-slot' | 'memory'; at: number; hi?: number }
  | { k: 'param'; n: number }
  /** A pointer loaded from an image cell that is filled at run time (IAT slot, a global). */
  | { k: 'cell'; rva: number }
  /** A pointer loaded from `cell`, plus `disp` (gcc -O0: `add rax, 600h` before the load). */
  | { k: 'cellptr'; cell: number; disp: number }
  /** A value loaded from `[cell + disp]`: a function table read (KMDF's WdfFunctions). */
  | { k: 'table'; cell: number; disp: number }
  | { k: 'addr'; rva: number }
  /** The address of the stack slot `s:off` of this function. */
  | { k: 'stack'; off: number }
  | { k: 'unknown'; why: string };

/**
 * The highest parameter number a stack slot may stand for. A slot above the entry stack
 * pointer beyond it is not a parameter but a sign that the function start is wrong (a
 * `.pdata` fragment whose prologue belongs to its parent: `[sp, #568]` there is a local).
 */
export const MAX_STACK_PARAM = 16;

const MAX_DEPTH = 12;
/** How far back one walk may go, in instructions. */
const MAX_WALK = 4000;

/**
 * The value `loc` holds just before `fn.insns[index]` executes.
 */
export function resolve(fn: LoweredFunction, index: number, loc: Loc, abi: AbiInfo, depth = 0, hops = 0, linear = false): Resolved {
  if (depth > MAX_DEPTH) return { k: 'unknown', why: 'value passes through too many copies' };
  let steps = 0;
  let seen: Set<number> | null = null;
  for (let prev = index, i = linear ? index - 1 : pred(fn, index); i >= 0; prev = i, i = linear ? i - 1 : pred(fn, i)) {
    if (++steps > MAX_WALK) return { k: 'unknown', why: 'definition too far above the call' };
    // Once the walk has followed a branch it can come round a loop that does not write
    // `loc` (a rotated loop's body, entered through its condition): walk linearly then.
    if (i !== prev - 1) seen ??= new Set();
    if (seen) {
      if (seen.has(i)) return resolve(fn, index, loc, abi, depth, hops, true);
      seen.add(i);
    }
    const insn = fn.insns[i];
    // Walk the writes of one instruction from last to first.
    for (let w = insn.writes.length - 1; w >= 0; w--) {
      const wr = insn.writes[w];
      if (wr.loc !== loc) continue;
      return evaluate(fn, i, wr.value, abi, depth, hops, loc);
    }
    if (insn.call && !insn.tail && abi.clobbered.has(loc)) {
      return { k: 'unknown', why: `${loc} is overwritten by the call at 0x${insn.rva.toString(16)}` };
    }
  }
  const n = abi.paramAt(loc);
  if (n > 0) return { k: 'param', n };
  return { k: 'unknown', why: `${loc} is not set in the function` };
}

const jumpSources = new WeakMap<LoweredFunction, Map<number, number[]>>();

/**
 * The instruction executed before `fn.insns[i]` as the backward walk sees it: the previous
 * one, unless that one never falls through and exactly one direct branch of the function
 * leads to `i`; then that branch.
 */
function pred(fn: LoweredFunction, i: number): number {
  if (i <= 0 || !fn.insns[i - 1].noFall) return i - 1;
  let m = jumpSources.get(fn);
  if (!m) {
    m = new Map();
    fn.insns.forEach((x, k) => {
      if (x.jump === undefined) return;
      const l = m!.get(x.jump);
      if (l) l.push(k);
      else m!.set(x.jump, [k]);
    });
    jumpSources.set(fn, m);
  }
  const src = m.get(fn.insns[i].rva);
  return src && src.length === 1 ? src[0] : i - 1;
}

/** The value of an operand read by `fn.insns[index]` (e.g. the register a call goes through). */
export function resolveValue(fn: LoweredFunction, index: number, value: Value, abi: AbiInfo): Resolved {
  return evaluate(fn, index, value, abi, 0, 0, '$operand');
}

function evaluate(fn: LoweredFunction, i: number, value: Value, abi: AbiInfo, depth: number, hops: number, loc: Loc): Resolved {
  switch (value.k) {
    case 'const': {
      const via = hops === 0 ? (loc.startsWith('s:') || loc.startsWith('f:') ? 'stack-slot' : 'immediate') : 'register-copy';
      return { k: 'const', v: value.v >>> 0, via, at: fn.insns[i].rva, ...(value.hi !== undefined ? { hi: value.hi >>> 0 } : {}) };
    }
    case 'high': {
      const r = resolve(fn, i, value.loc, abi, depth + 1, hops + 1);
      if (r.k === 'const' && r.hi !== undefined) return { k: 'const', v: r.hi, via: 'stack-slot', at: r.at };
      return { k: 'unknown', why: `upper half of ${value.loc} is not a known constant` };
    }
    case 'copy': {
      const r = resolve(fn, i, value.loc, abi, depth + 1, hops + 1);
      if (r.k === 'const' && (value.loc.startsWith('s:') || value.loc.startsWith('f:') || loc.startsWith('s:') || loc.startsWith('f:'))) {
        return r.via === 'memory' ? r : { ...r, via: 'stack-slot' };
      }
      return r;
    }
    case 'load': {
      // An IAT slot, a writable cell, or a cell that is zero in the file is filled at run
      // time (imports, function-table globals): report the cell itself. Anything else is
      // a constant of the image (a read-only initializer, a literal pool).
      if (abi.isImportSlot(value.rva) || abi.isWritable(value.rva)) return { k: 'cell', rva: value.rva };
      const v = abi.readImage(value.rva, 4);
      const hi = value.size === 8 ? abi.readImage(value.rva + 4, 4) : 0;
      if (v === null || hi === null || (v === 0 && hi === 0)) return { k: 'cell', rva: value.rva };
      return { k: 'const', v: v >>> 0, via: 'memory', at: fn.insns[i].rva, ...(value.size === 8 ? { hi } : {}) };
    }
    case 'deref': {
      const base = resolve(fn, i, value.base, abi, depth + 1, hops + 1);
      if (base.k === 'cell') return { k: 'table', cell: base.rva, disp: value.disp };
      if (base.k === 'cellptr') return { k: 'table', cell: base.cell, disp: base.disp + value.disp };
      if (base.k === 'addr') return evaluate(fn, i, { k: 'load', rva: base.rva + value.disp, size: value.size }, abi, depth + 1, hops, loc);
      return { k: 'unknown', why: 'load through a pointer that is not an image address' };
    }
    case 'insert': {
      const base = resolve(fn, i, value.base, abi, depth + 1, hops);
      if (base.k !== 'const') return base.k === 'unknown' ? base : { k: 'unknown', why: 'movk onto a non-constant' };
      const mask = (0xffff << value.shift) >>> 0;
      return { ...base, v: (((base.v & ~mask) >>> 0) | ((value.imm << value.shift) >>> 0)) >>> 0, at: fn.insns[i].rva };
    }
    case 'logic': {
      const base = resolve(fn, i, value.base, abi, depth + 1, hops + 1);
      if (base.k !== 'const') return base.k === 'unknown' ? base : { k: 'unknown', why: `logical operation on ${value.base}, not a constant` };
      const v = value.op === 'and' ? base.v & value.imm : value.op === 'orr' ? base.v | value.imm : base.v ^ value.imm;
      return { k: 'const', v: v >>> 0, via: 'register-copy', at: fn.insns[i].rva };
    }
    case 'addr':
      return { k: 'addr', rva: value.rva };
    case 'stack':
      return { k: 'stack', off: value.off };
    case 'offset': {
      const base = resolve(fn, i, value.base, abi, depth + 1, hops + 1);
      if (base.k === 'addr') return { k: 'addr', rva: base.rva + value.disp };
      if (base.k === 'stack') return { k: 'stack', off: base.off + value.disp };
      if (base.k === 'cell') return { k: 'cellptr', cell: base.rva, disp: value.disp };
      // Plain arithmetic on a constant (`lea esi, [esi+0]` padding, `add reg, imm`).
      if (base.k === 'const') return { k: 'const', v: (base.v + value.disp) >>> 0, via: 'register-copy', at: base.at };
      if (base.k === 'cellptr') return { k: 'cellptr', cell: base.cell, disp: base.disp + value.disp };
      return { k: 'unknown', why: 'address arithmetic on a non-address' };
    }
    case 'unknown':
      return { k: 'unknown', why: `${loc} is computed at 0x${fn.insns[i].rva.toString(16)}` };
  }
}
