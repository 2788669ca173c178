/**
 * x86 and x64 lowering: instructions decoded by iced-x86 (`decode/x86.ts`), as IR
 * (`ir.ts`), with the stack pointer tracked relative to function entry, and the calling
 * conventions (`x86Abi`, `x64ArgLoc`, `x86ArgLoc`).
 *
 * The decoder runs with IP = RVA, so RIP-relative operands and branch targets come out as
 * RVAs; x86 absolute addresses are VAs and are turned into RVAs with the image base.
 */
import { loadIced, whenIcedLoads, type Iced } from '../decode/x86.js';
import { copyOf, lowered, MAX_STACK_PARAM, newInsn, seal, slotLoc, UNKNOWN, vAddr, vConst, vDeref, vEither, vHigh, vIndexed, vLoad, vOffset, vStack, vSum, type AbiInfo, type CallTarget, type Insn, type Loc, type LoweredFunction, type Value } from '../ir.js';

/** Register -> family name (`rax`, `r8`), and whether a write to it replaces the whole family. */
let regFamily: (string | null)[] = [];
let regFull: boolean[] = [];
let M: Record<string, number> = {};
let REG_RIP = -1;
/** Implicit register writes by mnemonic (from `IMPLICIT`). */
let implicitOf: (string[] | undefined)[] = [];
/** The operand kinds the lowering tests. */
type ImmKind = 'Immediate8' | 'Immediate8_2nd' | 'Immediate16' | 'Immediate32' | 'Immediate8to16' | 'Immediate8to32' | 'Immediate8to64' | 'Immediate32to64';
let OK: Record<'Register' | 'Memory' | 'NearBranch16' | 'NearBranch32' | 'NearBranch64' | ImmKind, number> = {} as never;
/** Register -> it is a 64-bit general register. */
let reg64: boolean[] = [];
let REG_NONE = 0;

function initTables(x: Iced): void {
  const R = x.Register as unknown as Record<string, number | string>;
  regFamily = [];
  regFull = [];
  for (const [name, value] of Object.entries(R)) {
    if (typeof value !== 'number') continue;
    let fam: string | null = null;
    let full = false;
    let m: RegExpMatchArray | null;
    if ((m = name.match(/^(R|E)?(AX|BX|CX|DX|SI|DI|SP|BP)$/))) {
      fam = 'r' + m[2].toLowerCase();
      full = m[1] !== undefined; // eax/rax replace the family (32-bit writes zero-extend)
    } else if ((m = name.match(/^([ABCD])[LH]$/))) {
      fam = 'r' + m[1].toLowerCase() + 'x';
    } else if ((m = name.match(/^(SP|BP|SI|DI)L$/))) {
      fam = 'r' + m[1].toLowerCase();
    } else if ((m = name.match(/^R(\d+)([DWL]?)$/))) {
      fam = 'r' + m[1];
      full = m[2] === '' || m[2] === 'D';
    }
    regFamily[value] = fam;
    regFull[value] = full;
  }
  REG_RIP = R.RIP as number;
  REG_NONE = R.None as number;
  const Mn = x.Mnemonic as unknown as Record<string, number>;
  // A small object of the mnemonics the lowering compares against: the enum itself has
  // ~1,800 entries and its property reads are slow on the hot path.
  M = Object.fromEntries(['Add', 'Call', 'Cmp', 'Jmp', 'Lea', 'Leave', 'Mov', 'Movsxd', 'Movzx', 'Pop', 'Push', 'Ret', 'Retf', 'Sub', 'Xchg', 'Xor'].map((n) => [n, Mn[n]])) as Record<string, number>;
  implicitOf = [];
  for (const [name, regs] of Object.entries(IMPLICIT)) if (typeof Mn[name] === 'number') implicitOf[Mn[name]] = regs;
  const O = x.OpKind as unknown as Record<string, number>;
  OK = {
    Register: O.Register,
    Memory: O.Memory,
    NearBranch16: O.NearBranch16,
    NearBranch32: O.NearBranch32,
    NearBranch64: O.NearBranch64,
    Immediate8: O.Immediate8,
    Immediate8_2nd: O.Immediate8_2nd,
    Immediate16: O.Immediate16,
    Immediate32: O.Immediate32,
    Immediate8to16: O.Immediate8to16,
    Immediate8to32: O.Immediate8to32,
    Immediate8to64: O.Immediate8to64,
    Immediate32to64: O.Immediate32to64,
  };
  reg64 = [];
  for (const [name, value] of Object.entries(R)) if (typeof value === 'number') reg64[value] = /^R(AX|BX|CX|DX|SI|DI|SP|BP|\d+)$/.test(name);
  MN_ALL = Mn;
  // Conditional jumps by mnemonic (what `isJccShortOrNear` says, without a call into wasm per instruction).
  JCC = new Uint8Array(Math.max(...Object.values(Mn).filter((v): v is number => typeof v === 'number')) + 1);
  for (const n of ['Ja', 'Jae', 'Jb', 'Jbe', 'Je', 'Jg', 'Jge', 'Jl', 'Jle', 'Jne', 'Jno', 'Jnp', 'Jns', 'Jo', 'Jp', 'Js']) JCC[Mn[n]] = 1;
  const mnCount = Math.max(...Object.values(Mn).filter((v): v is number => typeof v === 'number')) + 1;
  CMOV = new Uint8Array(mnCount);
  for (const [k, v] of Object.entries(Mn)) if (typeof v === 'number' && /^Cmov[a-z]+$/.test(k)) CMOV[v] = 1;
  NO_WRITE = new Uint8Array(mnCount);
  for (const n of NO_WRITE_NAMES) if (typeof Mn[n] === 'number') NO_WRITE[Mn[n]] = 1;
  const MS = x.MemorySize as unknown as Record<string, number>;
  MEM_BYTES = new Uint8Array(Math.max(...Object.values(MS).filter((v): v is number => typeof v === 'number')) + 1).fill(8);
  for (const [names, bytes] of [[['UInt64', 'Int64', 'QwordOffset'], 8], [['UInt32', 'Int32', 'DwordOffset'], 4], [['UInt16', 'Int16', 'WordOffset'], 2], [['UInt8', 'Int8'], 1]] as const) {
    for (const n of names) MEM_BYTES[MS[n]] = bytes;
  }
}

/** The whole Mnemonic enum, for building tables once (not for the hot path). */
let MN_ALL: Record<string, number> = {};
/** `cmovcc` (1 at the mnemonic's index): the destination keeps its value or takes the source's. */
let CMOV = new Uint8Array(0);
/** 1 for the mnemonics of conditional jumps (`jcc rel8/rel32`). */
let JCC = new Uint8Array(0);

/**
 * Forward-jump states by offset from the function start (`lowerX86`'s `jumpStateAt`): one
 * buffer for every function, grown when needed; the entries a function set are cleared
 * before the next starts, so it costs nothing per byte of the function.
 */
let jumpStateScratch = new Int32Array(1 << 16);
const jumpStateDirty: number[] = [];

/** Mnemonics that never write their first operand: 1 at their index. */
let NO_WRITE = new Uint8Array(0);
const NO_WRITE_NAMES = ['Cmp', 'Test', 'Bt', 'Push', 'Call', 'Jmp', 'Ret', 'Nop', 'Int3', 'Int', 'Ud2', 'Hlt', 'Lfence', 'Mfence', 'Sfence', 'Pause', 'Prefetchnta', 'Prefetcht0', 'Prefetcht1', 'Prefetcht2', 'Ucomiss', 'Ucomisd', 'Comiss', 'Comisd', 'Ptest', 'Clflush', 'Invlpg', 'Wrmsr', 'Out', 'Outsb', 'Outsw', 'Outsd', 'Lock'];
/** The size in bytes of a memory operand by iced's MemorySize (8 for every size the lowering does not tell apart). */
let MEM_BYTES = new Uint8Array(0);

/** Implicit register writes of instructions that matter around call set-up. */
const IMPLICIT: Record<string, string[]> = {
  Cdq: ['rdx'],
  Cqo: ['rdx'],
  Cwd: ['rdx'],
  Mul: ['rax', 'rdx'],
  Imul: ['rax', 'rdx'],
  Div: ['rax', 'rdx'],
  Idiv: ['rax', 'rdx'],
  Rdtsc: ['rax', 'rdx'],
  Rdtscp: ['rax', 'rdx', 'rcx'],
  Cpuid: ['rax', 'rbx', 'rcx', 'rdx'],
  Rdmsr: ['rax', 'rdx'],
  Movsb: ['rsi', 'rdi', 'rcx'],
  Movsw: ['rsi', 'rdi', 'rcx'],
  Movsd: ['rsi', 'rdi', 'rcx'],
  Movsq: ['rsi', 'rdi', 'rcx'],
  Stosb: ['rdi', 'rcx'],
  Stosw: ['rdi', 'rcx'],
  Stosd: ['rdi', 'rcx'],
  Stosq: ['rdi', 'rcx'],
  Cmpxchg: ['rax'],
  Xgetbv: ['rax', 'rdx'],
};

export const X64_ABI_CLOBBERED: ReadonlySet<Loc> = new Set(['rax', 'rcx', 'rdx', 'r8', 'r9', 'r10', 'r11']);
export const X86_ABI_CLOBBERED: ReadonlySet<Loc> = new Set(['rax', 'rcx', 'rdx']);
const X64_PARAM_REGS = ['rcx', 'rdx', 'r8', 'r9'];

/** Where argument `n` (1-based) of a call is, given the stack pointer at the call. */
export function x64ArgLoc(n: number, spAtCall: number | null): Loc | null {
  if (n <= 4) return X64_PARAM_REGS[n - 1];
  return spAtCall === null ? null : slotLoc(spAtCall + 8 * (n - 1));
}
/** x86 stack slot `slot` (1-based; a 64-bit argument takes two) at a call. */
export function x86ArgLoc(slot: number, spAtCall: number | null): Loc | null {
  return spAtCall === null ? null : slotLoc(spAtCall + 4 * (slot - 1));
}

export function x64ParamAt(loc: Loc): number {
  const i = X64_PARAM_REGS.indexOf(loc);
  if (i >= 0) return i + 1;
  if (loc.startsWith('s:')) {
    const off = Number(loc.slice(2));
    if (off >= 40 && off % 8 === 0 && off / 8 <= MAX_STACK_PARAM) return off / 8;
  }
  return 0;
}
export function x86ParamAt(loc: Loc): number {
  if (loc.startsWith('s:')) {
    const off = Number(loc.slice(2));
    if (off >= 4 && off % 4 === 0 && off / 4 <= MAX_STACK_PARAM) return off / 4;
  }
  return 0;
}

/** The callee-saved registers of both conventions (`rbx`, `rsi`, `rdi`, `rbp`) as a bit each, 0 for any other location. */
function savedBit(loc: Loc): number {
  return loc === 'rbx' ? 1 : loc === 'rsi' ? 2 : loc === 'rdi' ? 4 : loc === 'rbp' ? 8 : 0;
}
/** Distance between stack-pointer epochs (see `lowerX86`); far beyond any real frame. */
const EPOCH = 1 << 20;

export interface X86Image {
  bitness: 32 | 64;
  imageBase: bigint;
  sizeOfImage: number;
}

/**
 * Decode `[start, end)` (RVAs) from `code` (the bytes of the section that starts at
 * `codeRva`) and lower it. Decoding stops at `end` or at the end of the section.
 */
export function lowerX86(img: X86Image, code: Uint8Array, codeRva: number, start: number, end: number): LoweredFunction {
  const from = start - codeRva;
  const to = Math.min(code.length, end - codeRva);
  if (from < 0 || from >= to) return lowered(start, [], undefined);
  lowerer ??= new X86Lowerer();
  return lowerer.lower(img, code.subarray(from, to), start, end);
}

/** One lowering per thread, reused for every function (no closures or state objects made per function). */
let lowerer: X86Lowerer | null = null;

/**
 * What the lowering reads of one decoded instruction, copied out of iced-x86 once: each
 * getter of iced's `Instruction` is a call into WebAssembly (and a BigInt for displacements and
 * immediates), and an object of plain integer fields keeps the lowering's code monomorphic.
 * Memory fields are read only when an operand is a memory operand (or for `lea`), immediates
 * only when an operand is one.
 */
class X86Fields {
  rva = 0;
  mn = 0;
  opCount = 0;
  /** Operand kinds of operands 0 and 1 (-1: absent). */
  k0 = -1;
  k1 = -1;
  /** Registers of operands 0 and 1 (REG_NONE when not a register). */
  r0 = 0;
  r1 = 0;
  /** The memory operand: base and index registers, scale, displacement as unsigned and signed 32 bits. */
  hasMem = false;
  base = 0;
  index = 0;
  scale = 1;
  dispU = 0;
  dispS = 0;
  /** iced's MemorySize of the memory operand (0: none). */
  memSize = 0;
  /** Immediates of operands 0 and 1: low 32 bits unsigned, and the next 32 bits. */
  imm0 = 0;
  imm1 = 0;
  imm1Hi = 0;
  nearBranch = 0;

  fill(ins: IcedInstruction): void {
    this.rva = ins.ip32 >>> 0;
    const mn = ins.mnemonic;
    this.mn = mn;
    const n = ins.opCount;
    this.opCount = n;
    const k0 = n > 0 ? ins.op0Kind : -1;
    const k1 = n > 1 ? ins.op1Kind : -1;
    this.k0 = k0;
    this.k1 = k1;
    this.r0 = k0 === OK.Register ? ins.op0Register : REG_NONE;
    this.r1 = k1 === OK.Register ? ins.op1Register : REG_NONE;
    const mem = k0 === OK.Memory || k1 === OK.Memory || mn === M.Lea;
    this.hasMem = mem;
    if (mem) {
      this.base = ins.memoryBase;
      this.index = ins.memoryIndex;
      this.scale = ins.memoryIndexScale;
      const d = Number(ins.memoryDisplacement & 0xffffffffn);
      this.dispU = d;
      this.dispS = d | 0;
      this.memSize = ins.memorySize;
    } else {
      this.base = REG_NONE;
      this.index = REG_NONE;
      this.scale = 1;
      this.dispU = 0;
      this.dispS = 0;
      this.memSize = 0;
    }
    this.imm0 = k0 >= OK.Immediate8 && k0 <= OK.Immediate32to64 ? immediateLo(ins, k0, 0) : 0;
    if (k1 >= OK.Immediate8 && k1 <= OK.Immediate32to64) {
      this.imm1 = immediateLo(ins, k1, 1);
      this.imm1Hi = immHi;
    } else {
      this.imm1 = 0;
      this.imm1Hi = 0;
    }
    this.nearBranch = k0 === OK.NearBranch32 || k0 === OK.NearBranch64 || k0 === OK.NearBranch16 ? ins.nearBranch32 >>> 0 : 0;
  }
}

type IcedInstruction = InstanceType<Iced['Instruction']>;

/** The upper 32 bits of the immediate `immediateLo` read last. */
let immHi = 0;
export const immediateHi = (): number => immHi;

/**
 * The low 32 bits (unsigned) of immediate operand `op`, of kind `k`, as iced's `immediate(op)`
 * gives them (the value zero- or sign-extended to 64 bits as the kind says), and its upper 32
 * bits in `immHi`: read through the kind's own getter, a number, where `immediate()` makes two
 * BigInts per call. Only a full 64-bit immediate (`mov r64, imm64`) still takes the BigInt.
 */
export function immediateLo(ins: IcedInstruction, k: number, op: number): number {
  let v: number;
  switch (k) {
    case OK.Immediate8:
      immHi = 0;
      return ins.immediate8 & 0xff;
    case OK.Immediate8_2nd:
      immHi = 0;
      return ins.immediate8_2nd & 0xff;
    case OK.Immediate16:
      immHi = 0;
      return ins.immediate16 & 0xffff;
    case OK.Immediate32:
      immHi = 0;
      return ins.immediate32 >>> 0;
    case OK.Immediate8to16:
      v = ins.immediate8to16 | 0;
      break;
    case OK.Immediate8to32:
    case OK.Immediate8to64: // the same byte, sign-extended further
      v = ins.immediate8to32 | 0;
      break;
    case OK.Immediate32to64:
      v = ins.immediate32 | 0;
      break;
    default: {
      const b = ins.immediate(op);
      immHi = Number((b >> 32n) & 0xffffffffn);
      return Number(b & 0xffffffffn) >>> 0;
    }
  }
  immHi = v < 0 ? 0xffffffff : 0;
  return v >>> 0;
}

/** A stack state at a forward jump: what code reached only by that jump starts with. */
interface JumpState {
  sp: number;
  fp: number | null;
}

/**
 * The lowering of one function at a time: the stack state as fields, one method per group of
 * instructions. `lower` resets every field it uses, so one instance serves every function.
 */
class X86Lowerer {
  private readonly f = new X86Fields();
  private bitness: 32 | 64 = 64;
  private base32 = 0;
  private sizeOfImage = 0;
  private ptr = 8;
  private start = 0;
  private end = 0;
  private sp: number | null = 0;
  private fp: number | null = null;
  /** x86: bytes pushed since the last call (stdcall callees pop their arguments). */
  private pushed = 0;
  /** After a call (x86): the stack pointer at the call, for a cdecl `add esp, N` right after it. */
  private afterCall = false;
  private afterCallSp: number | null = null;
  /** Registers that hold a stack address (`mov eax, esp`, `lea eax, [esp+8]`): family -> offset. */
  private readonly alias = new Map<string, number>();
  /** The frame pointer the prologue set (`mov ebp, esp`), kept through the whole function. */
  private frameFp: number | null = null;
  /** The callee-saved registers written so far (`savedBit`): one not among them still holds the caller's value. */
  private writtenSaved = 0;
  private epoch = 0;

  lower(img: X86Image, bytes: Uint8Array, start: number, end: number): LoweredFunction {
    const x = loadIced();
    const insns: Insn[] = [];
    const exits: number[] = [];
    const decoder = new x.Decoder(img.bitness, bytes, x.DecoderOptions.None);
    decoder.ip = BigInt(start);
    const ins = new x.Instruction();
    this.bitness = img.bitness;
    this.base32 = Number(img.imageBase & 0xffffffffn);
    this.sizeOfImage = img.sizeOfImage;
    this.ptr = img.bitness === 64 ? 8 : 4;
    this.start = start;
    this.end = end;
    this.sp = 0;
    this.fp = null;
    this.pushed = 0;
    this.afterCall = false;
    this.afterCallSp = null;
    if (this.alias.size !== 0) this.alias.clear(); // clear() allocates a new table, even for an empty map
    this.frameFp = null;
    this.writtenSaved = 0;
    this.epoch = 0;
    /** Stack state at forward jumps, by target: the state code after a `ret`/`jmp` starts with. */
    const jumpStates: JumpState[] = [];
    // By offset from `start`: 1 + index into `jumpStates` of the first forward jump there, or 0.
    for (const o of jumpStateDirty) jumpStateScratch[o] = 0;
    jumpStateDirty.length = 0;
    const span = bytes.length;
    if (jumpStateScratch.length < span) jumpStateScratch = new Int32Array(span);
    const jumpStateAt = jumpStateScratch;
    /** The previous instruction was a `ret` (1) or `jmp` (2): this one is reached by a jump only. */
    let dead = 0;
    const f = this.f;
    try {
      while (decoder.canDecode) {
        decoder.decodeOut(ins);
        f.fill(ins);
        const rva = f.rva;
        const insn = newInsn(rva, this.sp);
        const mn = f.mn;

        // Code after a `ret` (an epilogue in the middle of a function, then switch cases) is
        // entered by a jump: take the stack state of a forward jump to it, or else start the
        // stack pointer afresh in a new epoch (its slots, far below any real frame, name no
        // parameter) with the prologue's frame pointer, so that arguments pushed there resolve.
        // After a `jmp` the state above is kept (a rotated loop's body has the same frame) unless
        // it was lost.
        const js = rva - start < span && jumpStateAt[rva - start] ? jumpStates[jumpStateAt[rva - start] - 1] : undefined;
        // Code after a `jmp` that a forward jump reaches takes that jump's state too (the
        // other arm of an if/else: `je L; push 'ShP1'; jmp J; L: push 'ShP2'`).
        if (dead === 1 || (dead === 2 && js) || ((dead === 2 || js) && this.sp === null)) {
          if (js) {
            this.sp = js.sp;
            this.fp = js.fp;
          } else {
            this.sp = -EPOCH * ++this.epoch;
            this.fp = this.frameFp;
          }
          insn.sp = this.sp;
          this.pushed = 0;
          this.afterCall = false;
          if (this.alias.size !== 0) this.alias.clear();
        }
        dead = 0;
        const jcc = JCC[mn] === 1;
        if (jcc || mn === M.Jmp) {
          const t = f.nearBranch;
          const k0 = f.k0;
          const direct = k0 === OK.NearBranch32 || k0 === OK.NearBranch64 || k0 === OK.NearBranch16;
          if (direct && t >= start && t < end) insn.jump = t;
          else if (direct && mn !== M.Jmp) exits.push(t);
          if (direct && t > rva && t - start < span && this.sp !== null && !jumpStateAt[t - start]) {
            jumpStateAt[t - start] = jumpStates.push({ sp: this.sp, fp: this.fp });
            jumpStateDirty.push(t - start);
          }
        }
        if (mn === M.Ret || mn === M.Retf || mn === M.Jmp) insn.noFall = true;
        if (mn === M.Ret || mn === M.Retf) dead = 1;
        else if (mn === M.Jmp) dead = 2;
        insns.push(seal(this.step(insn, jcc)));
      }
    } finally {
      decoder.free();
      ins.free();
    }
    return lowered(start, insns, exits);
  }

  /** The writes, call and compare of one instruction (its jump and fall-through are set). */
  private step(insn: Insn, jcc: boolean): Insn {
    const f = this.f;
    const mn = f.mn;
    const fam0 = f.r0 !== REG_NONE ? regFamily[f.r0] : null;
    if (this.afterCall && this.bitness === 32) {
      // cdecl: the caller pops with `add esp, N` right after the call.
      if (mn === M.Add && fam0 === SP && f.k1 !== OK.Register) {
        const at = this.afterCallSp;
        this.sp = at === null ? null : at + (f.imm1 | 0);
        insn.sp = at;
        this.afterCall = false;
        return insn;
      }
    }
    this.afterCall = false;
    if (mn === M.Call) return this.call(insn);
    if (mn === M.Jmp) return this.jmp(insn);
    if (mn === M.Push) return this.push(insn, fam0);
    if (mn === M.Pop) return this.pop(insn, fam0);
    if (mn === M.Leave) {
      this.sp = this.fp === null ? null : this.fp + this.ptr;
      insn.writes.push(FP, UNKNOWN);
      this.fp = null;
      return insn;
    }
    // Stack and frame pointer arithmetic.
    if (fam0 === SP) return this.spArith(insn);
    if (fam0 === FP && regFull[f.r0] && this.fpSet(insn)) return insn;
    this.writes(insn, fam0, jcc);
    // `cmp reg, imm`: what bounds a jump table's index.
    if (mn === M.Cmp && fam0 && f.k1 >= OK.Immediate8 && f.k1 <= OK.Immediate32to64) insn.compare = { loc: fam0, imm: f.imm1 };
    const implicit = implicitOf[mn];
    if (implicit) for (const r of implicit) insn.writes.push(r, UNKNOWN);
    this.trackAliases(insn);
    return insn;
  }

  private call(insn: Insn): Insn {
    const t = this.branchTarget();
    if (t) insn.call = t;
    if (this.bitness === 32) {
      this.afterCall = true;
      this.afterCallSp = this.sp;
      this.sp = this.sp === null ? null : this.sp + this.pushed; // stdcall: the callee popped what was pushed
    }
    this.pushed = 0;
    return insn;
  }

  private jmp(insn: Insn): Insn {
    const t = this.branchTarget();
    // A jump out of the function (or through memory) is a tail call.
    if (t && (t.k !== 'direct' || t.rva < this.start || t.rva >= this.end)) {
      insn.call = t;
      insn.tail = true;
    }
    return insn;
  }

  private push(insn: Insn, fam0: string | null): Insn {
    const size = this.bitness === 64 ? 8 : 4;
    const v = this.opValue(0, size);
    if (this.sp !== null) {
      this.sp -= size;
      insn.writes.push(slotLoc(this.sp), v);
    }
    // A callee-saved register pushed while it still holds the caller's value is saved,
    // not passed: the callee of the next call does not pop it.
    if (!(fam0 && savedBit(fam0) && (this.writtenSaved & savedBit(fam0)) === 0)) this.pushed += size;
    return insn;
  }

  private pop(insn: Insn, fam0: string | null): Insn {
    const size = this.bitness === 64 ? 8 : 4;
    if (fam0) insn.writes.push(fam0, this.sp === null ? UNKNOWN : copyOf(slotLoc(this.sp)));
    if (fam0 === FP) this.fp = null;
    if (this.sp !== null) this.sp += size;
    this.pushed = Math.max(0, this.pushed - size);
    return insn;
  }

  /** An instruction that writes the stack pointer. */
  private spArith(insn: Insn): Insn {
    const f = this.f;
    const mn = f.mn;
    if ((mn === M.Sub || mn === M.Add) && f.k1 !== OK.Register && f.k1 !== OK.Memory) {
      const imm = f.imm1 | 0;
      if (this.sp !== null) this.sp += mn === M.Sub ? -imm : imm;
    } else if (mn === M.Mov && f.k1 === OK.Register && regFamily[f.r1] === FP) {
      this.sp = this.fp;
    } else if (mn === M.Lea && regFamily[f.base] === FP && f.index === REG_NONE) {
      this.sp = this.fp === null ? null : this.fp + f.dispS;
    } else if (mn === M.Lea && regFamily[f.base] === SP && f.index === REG_NONE) {
      // `lea esp, [esp+k]`; MSVC's 3-byte padding `lea esp, [esp]` inside functions.
      if (this.sp !== null) this.sp += f.dispS;
    } else {
      this.sp = null;
    }
    return insn;
  }

  /** `mov ebp, esp` or `lea ebp, [esp+k]` sets the frame pointer (true); any other write to it loses it. */
  private fpSet(insn: Insn): boolean {
    const f = this.f;
    const mn = f.mn;
    if (mn === M.Mov && f.k1 === OK.Register && regFamily[f.r1] === SP) {
      this.fp = this.sp;
      if (this.frameFp === null) this.frameFp = this.fp;
      this.writtenSaved |= savedBit(FP);
      return true;
    }
    if (mn === M.Lea && regFamily[f.base] === SP && f.index === REG_NONE) {
      this.fp = this.sp === null ? null : this.sp + f.dispS;
      if (this.frameFp === null) this.frameFp = this.fp;
      this.writtenSaved |= savedBit(FP);
      return true;
    }
    this.fp = null; // rbp used as a general register from here on
    void insn;
    return false;
  }

  /** What an ordinary instruction writes to its first operand. */
  private writes(insn: Insn, fam0: string | null, jcc: boolean): void {
    const f = this.f;
    const mn = f.mn;
    const r0 = f.r0;
    if (mn === M.Mov) this.mov(insn, fam0);
    else if (mn === M.Lea) {
      if (fam0) insn.writes.push(fam0, regFull[r0] ? this.leaValue() : UNKNOWN);
    } else if ((mn === M.Movsxd || mn === M.Movzx) && fam0 && regFull[r0] && f.k1 === OK.Memory && f.index !== REG_NONE) {
      // `movsxd rax, [rcx + rax*4]`: a relative jump table's entry; `movzx eax, byte [r9 + rax + t]`:
      // the index table in front of one (MSVC).
      insn.writes.push(fam0, mn === M.Movsxd ? this.memValue(4, true) : this.memValue(memBytes(f.memSize, 8), false));
    } else if (mn === M.Add && fam0 && regFull[r0] && f.k1 === OK.Register && regFamily[f.r1] && regFull[f.r1]) {
      // `add rax, rcx`: a jump table's base plus its entry.
      insn.writes.push(fam0, vSum(fam0, regFamily[f.r1]!, 0));
    } else if (CMOV[mn] === 1 && fam0) {
      const size = memBytes(f.memSize, this.ptr);
      insn.writes.push(fam0, regFull[r0] ? vEither(this.opValue(1, size), copyOf(fam0)) : UNKNOWN);
    } else if ((mn === M.Add || mn === M.Sub) && fam0 && regFull[r0] && f.k1 >= OK.Immediate8 && f.k1 <= OK.Immediate32to64) {
      const imm = f.imm1 | 0;
      insn.writes.push(fam0, vOffset(fam0, mn === M.Add ? imm : -imm));
    } else if (mn === M.Xor && fam0 && f.k1 === OK.Register && regFamily[f.r1] === fam0) {
      insn.writes.push(fam0, vConst(0));
    } else if (mn === M.Xchg) {
      const b = f.k1 === OK.Register ? regFamily[f.r1] : null;
      if (fam0 && b) {
        // Not modelled as a swap: both become unknown.
        insn.writes.push(fam0, UNKNOWN, b, UNKNOWN);
      } else if (fam0) insn.writes.push(fam0, UNKNOWN);
    } else if (f.opCount > 0 && NO_WRITE[mn] !== 1 && !jcc) {
      // Any other instruction that writes its first operand makes it unknown.
      if (fam0) insn.writes.push(fam0, UNKNOWN);
      else if (f.k0 === OK.Memory) {
        const loc = this.memLoc();
        if (loc) insn.writes.push(loc, UNKNOWN);
      }
    }
  }

  private mov(insn: Insn, fam0: string | null): void {
    const f = this.f;
    const size = memBytes(f.memSize, this.ptr);
    if (f.k0 === OK.Register) {
      if (fam0) {
        let v: Value = regFull[f.r0] ? this.opValue(1, size) : UNKNOWN;
        // Keep the upper half of 64-bit constants (a struct field may be stored as the
        // high half of one 8-byte store); 32-bit writes zero it.
        if (v.k === 'const') v = vConst(v.v, reg64[f.r0] ? f.imm1Hi : 0);
        insn.writes.push(fam0, v);
      }
    } else if (f.k0 === OK.Memory) {
      const loc = this.memLoc();
      if (loc) {
        const v = size >= 4 ? this.opValue(1, size) : UNKNOWN;
        insn.writes.push(loc, v);
        if (size === 8 && loc.startsWith('s:')) {
          const hiLoc = slotLoc(Number(loc.slice(2)) + 4);
          const hi: Value = v.k === 'const' ? vConst(f.imm1Hi) : v.k === 'copy' ? vHigh(v.loc) : UNKNOWN;
          insn.writes.push(hiLoc, hi);
        }
      } else if (size >= 4 && f.index === REG_NONE && regFamily[f.base]) {
        (insn.stores ??= []).push({ base: regFamily[f.base]!, disp: f.dispS, value: this.opValue(1, size) });
      }
    }
  }

  private leaValue(): Value {
    const f = this.f;
    if (f.base === REG_RIP) return vAddr(f.dispU);
    if (f.base === REG_NONE && f.index === REG_NONE && this.bitness === 32) return vAddr(((f.dispU >>> 0) - this.base32) >>> 0);
    if (f.index !== REG_NONE) return UNKNOWN;
    const fam = regFamily[f.base];
    if (fam === SP && this.sp !== null) return vStack(this.sp + f.dispS);
    if (fam === FP && this.fp !== null) return vStack(this.fp + f.dispS);
    if (fam) return vOffset(fam, f.dispS);
    return UNKNOWN;
  }

  /** Track registers that hold stack addresses, so that `[eax+0Ch]` after `mov eax, esp` is a stack slot. */
  private trackAliases(insn: Insn): void {
    const alias = this.alias;
    const ws = insn.writes;
    for (let k = 0; k < ws.length; k += 2) {
      const loc = ws[k] as Loc;
      if (loc.charCodeAt(1) === 58) continue; // `s:` and `m:` (no register family has ':' there)
      const bit = savedBit(loc);
      if (bit) this.writtenSaved |= bit;
      const v = ws[k + 1] as Value;
      if (alias.size === 0 && v.k !== 'stack') continue;
      const a = v.k === 'stack' ? v.off : v.k === 'offset' && alias.has(v.base) ? alias.get(v.base)! + v.disp : v.k === 'copy' ? alias.get(v.loc) : undefined;
      if (a !== undefined) alias.set(loc, a);
      else alias.delete(loc);
    }
  }

  /** The location of the memory operand, or null when it is not one we track. */
  private memLoc(): Loc | null {
    const f = this.f;
    const b = f.base;
    const idx = f.index;
    if (b === REG_RIP) return `m:${f.dispU}`;
    if (b === REG_NONE && idx === REG_NONE && this.bitness === 32) {
      const rva = ((f.dispS >>> 0) - this.base32) >>> 0;
      return rva < this.sizeOfImage ? `m:${rva}` : null;
    }
    if (idx !== REG_NONE) return null;
    const fam = regFamily[b];
    if (fam === SP) return this.sp === null ? null : slotLoc(this.sp + f.dispS);
    if (fam === FP && this.fp !== null) return slotLoc(this.fp + f.dispS);
    const a = fam ? this.alias.get(fam) : undefined;
    if (a !== undefined) return slotLoc(a + f.dispS);
    return null;
  }

  /** The value read by the memory operand, of `size` bytes. */
  private memValue(size: number, signed = false): Value {
    const f = this.f;
    const loc = this.memLoc();
    if (loc) {
      if (loc.startsWith('m:')) return vLoad(Number(loc.slice(2)), size);
      return copyOf(loc);
    }
    const b = f.base;
    if (f.index === REG_NONE && b !== REG_NONE && regFamily[b]) return vDeref(regFamily[b]!, f.dispS, size);
    // `[base + idx*scale + disp]`: a jump table's entry (jumptables.ts); x86 `[table + idx*4]` has no base.
    const idx = regFamily[f.index];
    if (idx && (b === REG_NONE || regFamily[b])) {
      return vIndexed(b === REG_NONE ? null : regFamily[b]!, idx, f.scale, b === REG_NONE ? f.dispU >>> 0 : f.dispS, size, signed);
    }
    return UNKNOWN;
  }

  /** The value of operand `op` (0 or 1). */
  private opValue(op: number, size: number): Value {
    const f = this.f;
    const kind = op === 0 ? f.k0 : f.k1;
    if (kind === OK.Register) {
      const r = op === 0 ? f.r0 : f.r1;
      const fam = regFamily[r];
      // The stack and frame pointers as values are stack addresses (a struct passed by pointer).
      if (fam === SP) return this.sp === null ? UNKNOWN : vStack(this.sp);
      if (fam === FP && this.fp !== null) return vStack(this.fp);
      return fam && regFull[r] ? copyOf(fam) : UNKNOWN;
    }
    if (kind === OK.Memory) return this.memValue(size);
    if (kind >= OK.Immediate8 && kind <= OK.Immediate32to64) return vConst(op === 0 ? f.imm0 : f.imm1);
    return UNKNOWN;
  }

  private branchTarget(): CallTarget | null {
    const f = this.f;
    const kind = f.k0;
    if (kind === OK.NearBranch32 || kind === OK.NearBranch64 || kind === OK.NearBranch16) return { k: 'direct', rva: f.nearBranch };
    if (kind === OK.Memory) {
      const loc = this.memLoc();
      if (loc && loc.startsWith('m:')) return { k: 'mem', rva: Number(loc.slice(2)) };
      return { k: 'value', value: this.memValue(this.ptr) };
    }
    if (kind === OK.Register) return { k: 'value', value: this.opValue(0, this.ptr) };
    return null;
  }
}

const SP = 'rsp';
const FP = 'rbp';

/** The size in bytes of a memory operand of iced's MemorySize `ms` (the sizes we care about; 8 otherwise), `none` without one. */
function memBytes(ms: number, none: number): number {
  if (!ms) return none;
  return ms < MEM_BYTES.length ? MEM_BYTES[ms] : 8;
}

export function x86Abi(bitness: 32 | 64, readImage: AbiInfo['readImage'], isImportSlot: AbiInfo['isImportSlot'], isWritable: AbiInfo['isWritable']): AbiInfo {
  return bitness === 64
    ? { clobbered: X64_ABI_CLOBBERED, paramAt: x64ParamAt, readImage, isImportSlot, isWritable }
    : { clobbered: X86_ABI_CLOBBERED, paramAt: x86ParamAt, readImage, isImportSlot, isWritable };
}

// The tables above are built from iced's enums when it loads (here, at the end, once every binding they fill exists).
whenIcedLoads(initTables);
