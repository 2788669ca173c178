/**
 * The IR of the call-site engine: a tiny, architecture-neutral model of the instructions
 * that matter for recovering constant arguments at call sites.
 *
 * The lowerings (x86/x64 in `lower/x86.ts` over iced-x86, ARM64 in `lower/arm64.ts` over
 * our decoder) turn each decoded instruction of a function into an `Insn`: the locations
 * it writes and what it writes there, its branch targets, and, for calls and tail jumps,
 * the call target. `cfg.ts` cuts the instructions into basic blocks, and `values.ts`
 * answers "which values can `loc` hold just before instruction `i`?" over that graph.
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
  /**
   * A load indexed by a register, `[base + index * scale + disp]` (`base` null: an absolute
   * address, x86): a jump table's entry (`jumptables.ts`). Its value is not known.
   */
  | { k: 'indexed'; base: Loc | null; index: Loc; scale: number; disp: number; size: number; signed: boolean }
  /** `a + (b << shift)` of two registers: a jump table's target, its base plus the entry. Not a known value. */
  | { k: 'sum'; a: Loc; b: Loc; shift: number }
  /** One of two values, chosen at run time: `cmov`, `csel` (the other arm is often the old value). */
  | { k: 'either'; a: Value; b: Value }
  | { k: 'unknown' };

export type CallTarget =
  /** A call through an image memory cell (IAT slot or function-pointer global). */
  | { k: 'mem'; rva: number }
  /** A direct call/branch to code at `rva` (a thunk, a wrapper, any function). */
  | { k: 'direct'; rva: number }
  /** An indirect call through a register, or through memory at `[base+disp]`. */
  | { k: 'value'; value: Value };

/** An instruction's writes: `[loc0, value0, loc1, value1, ...]`. */
export type Writes = (Loc | Value)[];

export interface Insn {
  rva: number;
  /**
   * Writes, in order, flat: location, value, location, value... (`writeLoc`/`writeValue`
   * read pair k at index 2k; no object per write).
   */
  writes: Writes;
  /** Set for calls, and for tail jumps (`jmp [iat]`, `b thunk`) which pass arguments too. */
  call?: CallTarget;
  tail?: boolean;
  /** Stack pointer relative to function entry before this instruction, when known. */
  sp: number | null;
  /** Target RVA of a direct branch inside the function (conditional or not). */
  jump?: number;
  /** Targets of an indirect jump through a jump table of the image. */
  targets?: number[];
  /**
   * Stores through a register that is not the stack or frame pointer (`[base + disp] = value`):
   * what a constructor leaves in the structure it is given (`c->Tag = tag`).
   */
  stores?: { base: Loc; disp: number; value: Value }[];
  /** Control never falls through to the next instruction (`ret`, `jmp`, ARM64 `b`/`br`/`ret`). */
  noFall?: boolean;
  /** `cmp loc, imm` (x86 `cmp`, ARM64 `cmp`/`subs zr`): the bound of a jump table's index. */
  compare?: { loc: Loc; imm: number };
}

export interface LoweredFunction {
  start: number;
  insns: Insn[];
  /** Targets of direct branches that leave the decoded range (a function chunk placed elsewhere, or a tail jump). */
  exits?: number[];
  /**
   * What the analyses derive from the instructions, made once and kept with the function
   * (`cfg.ts`, `values.ts`); absent until first asked for (`derivedOf`).
   */
  derived?: Derived;
}

/** A lowered function, as every lowering makes it: one shape (`derived` present, undefined until asked for). */
export function lowered(start: number, insns: Insn[], exits: number[] | undefined): LoweredFunction {
  return { start, insns, exits, derived: undefined };
}

/**
 * What the analyses keep with a function: one class, every field present from the start, so
 * that the code reading it sees one shape whichever analysis came first.
 */
export class Derived {
  cfg: unknown = undefined;
  defs: Map<Loc, readonly (readonly number[])[]> | undefined = undefined;
  /** Instructions and blocks the reaching-definitions passes of this function have walked (`values.ts` bounds it). */
  rdWork = 0;
  /** The instructions that write each location, ascending (writes never change once lowered). */
  writers: Map<Loc, number[]> | undefined = undefined;
  /**
   * The calls that clobber (not tail calls), ascending. Whoever drops a call from a lowered
   * function (`engine.ts`, an ARM64 /GS helper) sets this back to undefined.
   */
  calls: number[] | undefined = undefined;
}

/** The analyses' store of `fn`, made on first use. */
export function derivedOf(fn: LoweredFunction): Derived {
  let d = fn.derived;
  if (d === undefined) fn.derived = d = new Derived();
  return d;
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
  /** The field at `disp` of the structure parameter `param` points at (`c->Tag` in `CacheAlloc(c)`). */
  | { k: 'field'; param: number; disp: number }
  | { k: 'unknown'; why: string };

/**
 * Every `Resolved` is made by the functions below, as one class with every field of every
 * kind (unused fields undefined), for the same reason as `ValueNode`: the value sets the
 * analysis joins, and everything that reads them, see one shape.
 */
class ResolvedNode {
  constructor(
    readonly k: Resolved['k'],
    readonly v: number | undefined,
    readonly via: 'immediate' | 'register-copy' | 'stack-slot' | 'memory' | undefined,
    readonly at: number | undefined,
    readonly hi: number | undefined,
    readonly n: number | undefined,
    readonly rva: number | undefined,
    readonly cell: number | undefined,
    readonly disp: number | undefined,
    readonly off: number | undefined,
    readonly param: number | undefined,
    readonly why: string | undefined,
  ) {}
}
type Via = 'immediate' | 'register-copy' | 'stack-slot' | 'memory';
export const rConst = (v: number, via: Via, at: number, hi?: number): Resolved => new ResolvedNode('const', v, via, at, hi, U, U, U, U, U, U, U) as unknown as Resolved;
export const rParam = (n: number): Resolved => new ResolvedNode('param', U, U, U, U, n, U, U, U, U, U, U) as unknown as Resolved;
export const rCell = (rva: number): Resolved => new ResolvedNode('cell', U, U, U, U, U, rva, U, U, U, U, U) as unknown as Resolved;
export const rCellptr = (cell: number, disp: number): Resolved => new ResolvedNode('cellptr', U, U, U, U, U, U, cell, disp, U, U, U) as unknown as Resolved;
export const rTable = (cell: number, disp: number): Resolved => new ResolvedNode('table', U, U, U, U, U, U, cell, disp, U, U, U) as unknown as Resolved;
export const rAddr = (rva: number): Resolved => new ResolvedNode('addr', U, U, U, U, U, rva, U, U, U, U, U) as unknown as Resolved;
export const rStack = (off: number): Resolved => new ResolvedNode('stack', U, U, U, U, U, U, U, U, off, U, U) as unknown as Resolved;
export const rField = (param: number, disp: number): Resolved => new ResolvedNode('field', U, U, U, U, U, U, U, disp, U, param, U) as unknown as Resolved;
export const rUnknown = (why: string): Resolved => new ResolvedNode('unknown', U, U, U, U, U, U, U, U, U, U, why) as unknown as Resolved;

/**
 * The highest parameter number a stack slot may stand for. A slot above the entry stack
 * pointer beyond it is not a parameter but a sign that the function start is wrong (a
 * `.pdata` fragment whose prologue belongs to its parent: `[sp, #568]` there is a local).
 */
export const MAX_STACK_PARAM = 16;

/**
 * Every `Value` is made by the functions below, as one class (the fields a kind does not use
 * are undefined): one hidden class for all values, so that the analyses that read them
 * (`values.ts`, `structs.ts`, the engine) see one shape, not one per kind. A value is never
 * mutated once made, so values may be shared.
 *
 * Compact: the fields of every kind share seven slots (three numbers, two locations or
 * values, one more), and the names the analyses read are getters over them. No kind uses two
 * names that share a slot:
 *   n0: v (const), rva (load, addr), disp (deref, offset, indexed), imm (insert, logic), off (stack)
 *   n1: hi (const), size (load, deref, indexed), shift (insert, sum)
 *   n2: scale (indexed)
 *   l0: loc (high, copy), base (deref, insert, logic, offset, indexed), a (sum, either)
 *   l1: index (indexed), b (sum, either)
 *   x:  op (logic), signed (indexed)
 * TypeScript's union lets a reader name a field only where its kind has it. A value was 160
 * bytes with a slot per name; it is 80.
 */
class ValueNode {
  constructor(
    readonly k: Value['k'],
    readonly n0: number | undefined,
    readonly n1: number | undefined,
    readonly n2: number | undefined,
    readonly l0: Loc | Value | null | undefined,
    readonly l1: Loc | Value | undefined,
    readonly x: 'and' | 'orr' | 'eor' | boolean | undefined,
  ) {}
  get v(): number | undefined {
    return this.n0;
  }
  get rva(): number | undefined {
    return this.n0;
  }
  get disp(): number | undefined {
    return this.n0;
  }
  get imm(): number | undefined {
    return this.n0;
  }
  get off(): number | undefined {
    return this.n0;
  }
  get hi(): number | undefined {
    return this.n1;
  }
  get size(): number | undefined {
    return this.n1;
  }
  get shift(): number | undefined {
    return this.n1;
  }
  get scale(): number | undefined {
    return this.n2;
  }
  get loc(): Loc | Value | null | undefined {
    return this.l0;
  }
  get base(): Loc | Value | null | undefined {
    return this.l0;
  }
  get a(): Loc | Value | null | undefined {
    return this.l0;
  }
  get index(): Loc | Value | undefined {
    return this.l1;
  }
  get b(): Loc | Value | undefined {
    return this.l1;
  }
  get op(): 'and' | 'orr' | 'eor' | boolean | undefined {
    return this.x;
  }
  get signed(): 'and' | 'orr' | 'eor' | boolean | undefined {
    return this.x;
  }
}
const U = undefined;
const node = (k: Value['k']): ValueNode => new ValueNode(k, U, U, U, U, U, U);
/** A constant; `hi`, the upper 32 bits, when the instruction gives them. */
export const vConst = (v: number, hi?: number): Value => new ValueNode('const', v, hi, U, U, U, U) as unknown as Value;
export const vHigh = (loc: Loc): Value => new ValueNode('high', U, U, U, loc, U, U) as unknown as Value;
export const vLoad = (rva: number, size: number): Value => new ValueNode('load', rva, size, U, U, U, U) as unknown as Value;
export const vDeref = (base: Loc, disp: number, size: number): Value => new ValueNode('deref', disp, size, U, base, U, U) as unknown as Value;
export const vInsert = (base: Loc, imm: number, shift: number): Value => new ValueNode('insert', imm, shift, U, base, U, U) as unknown as Value;
export const vAddr = (rva: number): Value => new ValueNode('addr', rva, U, U, U, U, U) as unknown as Value;
export const vStack = (off: number): Value => new ValueNode('stack', off, U, U, U, U, U) as unknown as Value;
export const vLogic = (op: 'and' | 'orr' | 'eor', base: Loc, imm: number): Value => new ValueNode('logic', imm, U, U, base, U, op) as unknown as Value;
export const vOffset = (base: Loc, disp: number): Value => new ValueNode('offset', disp, U, U, base, U, U) as unknown as Value;
export const vIndexed = (base: Loc | null, index: Loc, scale: number, disp: number, size: number, signed: boolean): Value =>
  new ValueNode('indexed', disp, size, scale, base, index, signed) as unknown as Value;
export const vSum = (a: Loc, b: Loc, shift: number): Value => new ValueNode('sum', U, shift, U, a, b, U) as unknown as Value;
export const vEither = (a: Value, b: Value): Value => new ValueNode('either', U, U, U, a, b, U) as unknown as Value;

/**
 * Shared values and interned location names. A lowering makes millions of these; one
 * object per distinct value (and one string per distinct slot) keeps the garbage, and
 * the cost of comparing location names (same string object: one pointer test), down.
 */
export const UNKNOWN: Value = node('unknown') as unknown as Value;

const MAX_INTERNED = 1 << 16;
const slotNames = new Map<number, Loc>();
/** The location of the stack slot at `off` from the entry stack pointer: `s:off`. */
export function slotLoc(off: number): Loc {
  let s = slotNames.get(off);
  if (s === undefined) {
    s = `s:${off}`;
    // Hostile code can name any offset: past the cap, names are made but not kept.
    if (slotNames.size < MAX_INTERNED) slotNames.set(off, s);
  }
  return s;
}

const copies = new Map<Loc, Value>();
/** `{ k: 'copy', loc }`, one object per location. */
export function copyOf(loc: Loc): Value {
  let v = copies.get(loc);
  if (v === undefined) {
    v = new ValueNode('copy', U, U, U, loc, U, U) as unknown as Value;
    if (copies.size < MAX_INTERNED) copies.set(loc, v);
  }
  return v;
}

/**
 * A new instruction with every field present, so that every `Insn` has one shape and the
 * analyses' loops over them stay monomorphic.
 */
export function newInsn(rva: number, sp: number | null): Insn {
  // The writes gather in one scratch array until `seal` copies them out (and empties it).
  clearScratch();
  return new InsnNode(rva, scratch, sp) as unknown as Insn;
}

/** What few instructions have: jump-table targets, stores through a register, a compare. */
class InsnRare {
  targets: number[] | undefined = undefined;
  stores: { base: Loc; disp: number; value: Value }[] | undefined = undefined;
  compare: { loc: Loc; imm: number } | undefined = undefined;
}

/**
 * The one class of every `Insn`: the fields every instruction reads in slots of their own,
 * `tail` and `noFall` as bits of `flags`, and the rare fields in an `InsnRare` made when one is
 * first set. The names the analyses read and set are accessors over them (an instruction was 13
 * slots; it is 8).
 */
class InsnNode {
  call: CallTarget | undefined = undefined;
  jump: number | undefined = undefined;
  private flags = 0;
  private rare: InsnRare | undefined = undefined;
  constructor(
    readonly rva: number,
    public writes: Insn['writes'],
    public sp: number | null,
  ) {}
  get tail(): true | undefined {
    return (this.flags & 1) !== 0 ? true : undefined;
  }
  set tail(v: boolean | undefined) {
    this.flags = v ? this.flags | 1 : this.flags & ~1;
  }
  get noFall(): true | undefined {
    return (this.flags & 2) !== 0 ? true : undefined;
  }
  set noFall(v: boolean | undefined) {
    this.flags = v ? this.flags | 2 : this.flags & ~2;
  }
  get targets(): number[] | undefined {
    return this.rare === undefined ? undefined : this.rare.targets;
  }
  set targets(v: number[] | undefined) {
    this.rareFor(v).targets = v;
  }
  get stores(): InsnRare['stores'] {
    return this.rare === undefined ? undefined : this.rare.stores;
  }
  set stores(v: InsnRare['stores']) {
    this.rareFor(v).stores = v;
  }
  get compare(): InsnRare['compare'] {
    return this.rare === undefined ? undefined : this.rare.compare;
  }
  set compare(v: InsnRare['compare']) {
    this.rareFor(v).compare = v;
  }
  private rareFor(v: unknown): InsnRare {
    if (this.rare === undefined) {
      const r = new InsnRare();
      if (v !== undefined) this.rare = r;
      return r; // setting undefined where nothing was set: nothing to keep
    }
    return this.rare;
  }
}

const NO_WRITES = Object.freeze([]) as unknown as Insn['writes'];
const scratch: Insn['writes'] = [];
/**
 * The instruction is complete: its writes move out of the lowering's scratch array into
 * an array of their exact size (a pushed-to array reserves room for 17), or the shared
 * empty one. Every instruction a lowering makes with `newInsn` must pass here before the next. Lowered functions live
 * for the whole image; this halves what they hold.
 */
export function seal(insn: Insn): Insn {
  const w = insn.writes;
  insn.writes = w.length === 0 ? NO_WRITES : w.length === 2 ? [w[0], w[1]] : w.slice();
  if (w === scratch) clearScratch();
  return insn;
}

/**
 * Empty the scratch array by popping: `length = 0` would drop its backing store (a call into
 * the runtime), and the next instruction's first write would allocate a new one.
 */
function clearScratch(): void {
  while (scratch.length !== 0) scratch.pop();
}

/**
 * Zeroed typed arrays for what the analyses keep per function (the graph's arrays, the
 * engine's per-instruction marks), cut from shared slabs: an `ArrayBuffer` of its own per
 * array costs a trip to the runtime and a backing store, and was the graph's largest cost.
 * A slab lives as long as one array cut from it; each stretch is handed out once.
 */
const SLAB = 1 << 18;
let slab = new ArrayBuffer(SLAB);
let slabAt = 0;

/** Room for `bytes` (a multiple of 4) in the current slab, or a buffer of its own when large; sets `cutAt`. */
function cut(bytes: number): ArrayBuffer {
  if (bytes > SLAB / 8) {
    cutAt = 0;
    return new ArrayBuffer(bytes);
  }
  if (slabAt + bytes > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabAt = 0;
  }
  cutAt = slabAt;
  slabAt += bytes;
  return slab;
}
let cutAt = 0;

export function zeroedInt32(length: number): Int32Array {
  const buf = cut(4 * length);
  return new Int32Array(buf, cutAt, length);
}

export function zeroedUint8(length: number): Uint8Array {
  const buf = cut((length + 3) & ~3);
  return new Uint8Array(buf, cutAt, length);
}
