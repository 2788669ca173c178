/**
 * x86 and x64 lowering: instructions decoded by iced-x86 (`decode/x86.ts`), as IR
 * (`ir.ts`), with the stack pointer tracked relative to function entry, and the calling
 * conventions (`x86Abi`, `x64ArgLoc`, `x86ArgLoc`).
 *
 * The decoder runs with IP = RVA, so RIP-relative operands and branch targets come out as
 * RVAs; x86 absolute addresses are VAs and are turned into RVAs with the image base.
 */
import { loadIced, whenIcedLoads, type Iced } from '../decode/x86.js';
import { copyOf, MAX_STACK_PARAM, newInsn, seal, slotLoc, UNKNOWN, type AbiInfo, type CallTarget, type Insn, type Loc, type LoweredFunction, type Value } from '../ir.js';

/** Register -> family name (`rax`, `r8`), and whether a write to it replaces the whole family. */
let regFamily: (string | null)[] = [];
let regFull: boolean[] = [];
let M: Record<string, number> = {};
let REG_RIP = -1;
/** Implicit register writes by mnemonic (from `IMPLICIT`). */
let implicitOf: (string[] | undefined)[] = [];
/** The operand kinds the lowering tests. */
let OK: Record<'Register' | 'Memory' | 'NearBranch16' | 'NearBranch32' | 'NearBranch64' | 'Immediate8' | 'Immediate32to64', number> = {} as never;
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
  OK = { Register: O.Register, Memory: O.Memory, NearBranch16: O.NearBranch16, NearBranch32: O.NearBranch32, NearBranch64: O.NearBranch64, Immediate8: O.Immediate8, Immediate32to64: O.Immediate32to64 };
  reg64 = [];
  for (const [name, value] of Object.entries(R)) if (typeof value === 'number') reg64[value] = /^R(AX|BX|CX|DX|SI|DI|SP|BP|\d+)$/.test(name);
  MN_ALL = Mn;
  // Conditional jumps by mnemonic (what `isJccShortOrNear` says, without a call into wasm per instruction).
  JCC = new Uint8Array(Math.max(...Object.values(Mn).filter((v): v is number => typeof v === 'number')) + 1);
  for (const n of ['Ja', 'Jae', 'Jb', 'Jbe', 'Je', 'Jg', 'Jge', 'Jl', 'Jle', 'Jne', 'Jno', 'Jnp', 'Jns', 'Jo', 'Jp', 'Js']) JCC[Mn[n]] = 1;
  CMOV = new Set(Object.entries(Mn).filter(([k, v]) => typeof v === 'number' && /^Cmov[a-z]+$/.test(k)).map(([, v]) => v));
}

/** The whole Mnemonic enum, for building tables once (not for the hot path). */
let MN_ALL: Record<string, number> = {};
/** `cmovcc`: the destination keeps its value or takes the source's. */
let CMOV: Set<number> = new Set();
/** 1 for the mnemonics of conditional jumps (`jcc rel8/rel32`). */
let JCC = new Uint8Array(0);

/**
 * Forward-jump states by offset from the function start (`lowerX86`'s `jumpStateAt`): one
 * buffer for every function, grown when needed; the entries a function set are cleared
 * before the next starts, so it costs nothing per byte of the function.
 */
let jumpStateScratch = new Int32Array(1 << 16);
const jumpStateDirty: number[] = [];

/** Mnemonics that never write their first operand. */
let NO_WRITE: Set<number> | null = null;
function noWrite(): Set<number> {
  if (!NO_WRITE) {
    NO_WRITE = new Set(
      ['Cmp', 'Test', 'Bt', 'Push', 'Call', 'Jmp', 'Ret', 'Nop', 'Int3', 'Int', 'Ud2', 'Hlt', 'Lfence', 'Mfence', 'Sfence', 'Pause', 'Prefetchnta', 'Prefetcht0', 'Prefetcht1', 'Prefetcht2', 'Ucomiss', 'Ucomisd', 'Comiss', 'Comisd', 'Ptest', 'Clflush', 'Invlpg', 'Wrmsr', 'Out', 'Outsb', 'Outsw', 'Outsd', 'Lock'].map((n) => MN_ALL[n]).filter((v) => v !== undefined),
    );
  }
  return NO_WRITE;
}

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
  const x = loadIced();
  const from = start - codeRva;
  const to = Math.min(code.length, end - codeRva);
  const insns: Insn[] = [];
  const exits: number[] = [];
  if (from < 0 || from >= to) return { start, insns };
  const decoder = new x.Decoder(img.bitness, code.subarray(from, to), x.DecoderOptions.None);
  decoder.ip = BigInt(start);
  const ins = new x.Instruction();
  const base32 = Number(img.imageBase & 0xffffffffn);
  const ptr = img.bitness === 64 ? 8 : 4;
  const noWr = noWrite();
  let sp: number | null = 0;
  let fp: number | null = null;
  // x86: bytes pushed since the last call (stdcall callees pop their arguments).
  let pushed = 0;
  let afterCall: { sp: number | null } | null = null;
  /** Registers that hold a stack address (`mov eax, esp`, `lea eax, [esp+8]`): family -> offset. */
  const alias = new Map<string, number>();
  /** The frame pointer the prologue set (`mov ebp, esp`), kept through the whole function. */
  let frameFp: number | null = null;
  /** Stack state at forward jumps, by target: the state code after a `ret`/`jmp` starts with. */
  const jumpStates: { sp: number; fp: number | null }[] = [];
  /** By offset from `start`: 1 + index into `jumpStates` of the first forward jump there, or 0. */
  for (const o of jumpStateDirty) jumpStateScratch[o] = 0;
  jumpStateDirty.length = 0;
  if (jumpStateScratch.length < to - from) jumpStateScratch = new Int32Array(to - from);
  const jumpStateAt = jumpStateScratch;
  const span = to - from;
  /** The previous instruction was a `ret` or `jmp`: this one is reached by a jump only. */
  let dead: 'ret' | 'jmp' | null = null;
  /** The callee-saved registers written so far (`savedBit`): one not among them still holds the caller's value. */
  let writtenSaved = 0;
  let epoch = 0;

  const spReg = 'rsp';
  const fpReg = 'rbp';

  /** The location of a memory operand, or null when it is not one we track. */
  function memLoc(): Loc | null {
    const b = ins.memoryBase;
    const idx = ins.memoryIndex;
    const disp = Number(ins.memoryDisplacement & 0xffffffffn) | 0;
    if (b === REG_RIP) return `m:${Number(ins.memoryDisplacement & 0xffffffffn)}`;
    if (b === REG_NONE && idx === REG_NONE && img.bitness === 32) {
      const rva = ((disp >>> 0) - base32) >>> 0;
      return rva < img.sizeOfImage ? `m:${rva}` : null;
    }
    if (idx !== REG_NONE) return null;
    const fam = regFamily[b];
    if (fam === spReg) return sp === null ? null : slotLoc(sp + disp);
    if (fam === fpReg && fp !== null) return slotLoc(fp + disp);
    const a = fam ? alias.get(fam) : undefined;
    if (a !== undefined) return slotLoc(a + disp);
    return null;
  }
  /** The value read by a memory operand of `size` bytes. */
  function memValue(size: number, signed = false): Value {
    const loc = memLoc();
    if (loc) {
      if (loc.startsWith('m:')) return { k: 'load', rva: Number(loc.slice(2)), size };
      return { k: 'copy', loc };
    }
    const b = ins.memoryBase;
    if (ins.memoryIndex === REG_NONE && b !== REG_NONE && regFamily[b]) {
      return { k: 'deref', base: regFamily[b]!, disp: Number(ins.memoryDisplacement & 0xffffffffn) | 0, size };
    }
    // `[base + idx*scale + disp]`: a jump table's entry (jumptables.ts); x86 `[table + idx*4]` has no base.
    const idx = regFamily[ins.memoryIndex];
    if (idx && (b === REG_NONE || regFamily[b])) {
      const raw = Number(ins.memoryDisplacement & 0xffffffffn);
      return { k: 'indexed', base: b === REG_NONE ? null : regFamily[b]!, index: idx, scale: ins.memoryIndexScale, disp: b === REG_NONE ? raw >>> 0 : raw | 0, size, signed };
    }
    return UNKNOWN;
  }
  function immValue(op: number): Value {
    return { k: 'const', v: Number(ins.immediate(op) & 0xffffffffn) >>> 0 };
  }
  function opValue(op: number, size: number): Value {
    const kind = ins.opKind(op);
    if (kind === OK.Register) {
      const r = ins.opRegister(op);
      const fam = regFamily[r];
      // The stack and frame pointers as values are stack addresses (a struct passed by pointer).
      if (fam === spReg) return sp === null ? UNKNOWN : { k: 'stack', off: sp };
      if (fam === fpReg && fp !== null) return { k: 'stack', off: fp };
      return fam && regFull[r] ? copyOf(fam) : UNKNOWN;
    }
    if (kind === OK.Memory) return memValue(size);
    if (kind >= OK.Immediate8 && kind <= OK.Immediate32to64) return immValue(op);
    return UNKNOWN;
  }
  function branchTarget(): CallTarget | null {
    const kind = ins.op0Kind;
    if (kind === OK.NearBranch32 || kind === OK.NearBranch64 || kind === OK.NearBranch16) {
      return { k: 'direct', rva: ins.nearBranch32 >>> 0 };
    }
    if (kind === OK.Memory) {
      const loc = memLoc();
      if (loc && loc.startsWith('m:')) return { k: 'mem', rva: Number(loc.slice(2)) };
      return { k: 'value', value: memValue(ptr) };
    }
    if (kind === OK.Register) return { k: 'value', value: opValue(0, ptr) };
    return null;
  }

  while (decoder.canDecode) {
    decoder.decodeOut(ins);
    const rva = ins.ip32 >>> 0;
    const insn = newInsn(rva, sp);
    const mn = ins.mnemonic;
    const opCount = ins.opCount;
    const k0 = opCount > 0 ? ins.op0Kind : -1;
    const r0 = k0 === OK.Register ? ins.op0Register : REG_NONE;
    const fam0 = r0 !== REG_NONE ? regFamily[r0] : null;

    // Code after a `ret` (an epilogue in the middle of a function, then switch cases) is
    // entered by a jump: take the stack state of a forward jump to it, or else start the
    // stack pointer afresh in a new epoch (its slots, far below any real frame, name no
    // parameter) with the prologue's frame pointer, so that arguments pushed there resolve.
    // After a `jmp` the state above is kept (a rotated loop's body has the same frame) unless
    // it was lost.
    const js = rva - start < span && jumpStateAt[rva - start] ? jumpStates[jumpStateAt[rva - start] - 1] : undefined;
    // Code after a `jmp` that a forward jump reaches takes that jump's state too (the
    // other arm of an if/else: `je L; push 'ShP1'; jmp J; L: push 'ShP2'`).
    if (dead === 'ret' || (dead === 'jmp' && js) || ((dead === 'jmp' || js) && sp === null)) {
      if (js) {
        sp = js.sp;
        fp = js.fp;
      } else {
        sp = -EPOCH * ++epoch;
        fp = frameFp;
      }
      insn.sp = sp;
      pushed = 0;
      afterCall = null;
      alias.clear();
    }
    dead = null;
    const jcc = JCC[mn] === 1;
    if (jcc || mn === M.Jmp) {
      const t = ins.nearBranch32 >>> 0;
      const direct = ins.op0Kind === OK.NearBranch32 || ins.op0Kind === OK.NearBranch64 || ins.op0Kind === OK.NearBranch16;
      if (direct && t >= start && t < end) insn.jump = t;
      else if (direct && mn !== M.Jmp) exits.push(t);
      if (direct && t > rva && t - start < span && sp !== null && !jumpStateAt[t - start]) {
        jumpStateAt[t - start] = jumpStates.push({ sp, fp });
        jumpStateDirty.push(t - start);
      }
    }
    if (mn === M.Ret || mn === M.Retf || mn === M.Jmp) insn.noFall = true;
    if (mn === M.Ret || mn === M.Retf) dead = 'ret';
    else if (mn === M.Jmp) dead = 'jmp';

    if (afterCall && img.bitness === 32) {
      // cdecl: the caller pops with `add esp, N` right after the call.
      if (mn === M.Add && fam0 === spReg && ins.op1Kind !== OK.Register) {
        sp = afterCall.sp === null ? null : afterCall.sp + (Number(ins.immediate(1) & 0xffffffffn) | 0);
        insn.sp = afterCall.sp;
        afterCall = null;
        insns.push(seal(insn));
        continue;
      }
    }
    afterCall = null;

    if (mn === M.Call) {
      const t = branchTarget();
      if (t) insn.call = t;
      insns.push(seal(insn));
      if (img.bitness === 32) {
        afterCall = { sp };
        sp = sp === null ? null : sp + pushed; // stdcall: the callee popped what was pushed
      }
      pushed = 0;
      continue;
    }
    if (mn === M.Jmp) {
      const t = branchTarget();
      // A jump out of the function (or through memory) is a tail call.
      if (t && (t.k !== 'direct' || t.rva < start || t.rva >= end)) {
        insn.call = t;
        insn.tail = true;
      }
      insns.push(seal(insn));
      continue;
    }
    if (mn === M.Push) {
      const size = img.bitness === 64 ? 8 : 4;
      const v = opValue(0, size);
      if (sp !== null) {
        sp -= size;
        insn.writes.push({ loc: slotLoc(sp), value: v });
      }
      // A callee-saved register pushed while it still holds the caller's value is saved,
      // not passed: the callee of the next call does not pop it.
      if (!(fam0 && savedBit(fam0) && (writtenSaved & savedBit(fam0)) === 0)) pushed += size;
      insns.push(seal(insn));
      continue;
    }
    if (mn === M.Pop) {
      const size = img.bitness === 64 ? 8 : 4;
      if (fam0) insn.writes.push({ loc: fam0, value: sp === null ? UNKNOWN : copyOf(slotLoc(sp)) });
      if (fam0 === fpReg) fp = null;
      if (sp !== null) sp += size;
      pushed = Math.max(0, pushed - size);
      insns.push(seal(insn));
      continue;
    }
    if (mn === M.Leave) {
      sp = fp === null ? null : fp + ptr;
      insn.writes.push({ loc: fpReg, value: UNKNOWN });
      fp = null;
      insns.push(seal(insn));
      continue;
    }

    // Stack and frame pointer arithmetic.
    if (fam0 === spReg) {
      if ((mn === M.Sub || mn === M.Add) && ins.op1Kind !== OK.Register && ins.op1Kind !== OK.Memory) {
        const imm = Number(ins.immediate(1) & 0xffffffffn) | 0;
        if (sp !== null) sp += mn === M.Sub ? -imm : imm;
      } else if (mn === M.Mov && ins.op1Kind === OK.Register && regFamily[ins.op1Register] === fpReg) {
        sp = fp;
      } else if (mn === M.Lea && regFamily[ins.memoryBase] === fpReg && ins.memoryIndex === REG_NONE) {
        sp = fp === null ? null : fp + (Number(ins.memoryDisplacement & 0xffffffffn) | 0);
      } else if (mn === M.Lea && regFamily[ins.memoryBase] === spReg && ins.memoryIndex === REG_NONE) {
        // `lea esp, [esp+k]`; MSVC's 3-byte padding `lea esp, [esp]` inside functions.
        if (sp !== null) sp += Number(ins.memoryDisplacement & 0xffffffffn) | 0;
      } else {
        sp = null;
      }
      insns.push(seal(insn));
      continue;
    }
    if (fam0 === fpReg && regFull[r0]) {
      if (mn === M.Mov && ins.op1Kind === OK.Register && regFamily[ins.op1Register] === spReg) {
        fp = sp;
        if (frameFp === null) frameFp = fp;
        writtenSaved |= savedBit(fpReg);
        insns.push(seal(insn));
        continue;
      }
      if (mn === M.Lea && regFamily[ins.memoryBase] === spReg && ins.memoryIndex === REG_NONE) {
        fp = sp === null ? null : sp + (Number(ins.memoryDisplacement & 0xffffffffn) | 0);
        if (frameFp === null) frameFp = fp;
        writtenSaved |= savedBit(fpReg);
        insns.push(seal(insn));
        continue;
      }
      fp = null; // rbp used as a general register from here on
    }

    if (mn === M.Mov) {
      const size = memSize(x, ins, ptr);
      if (k0 === OK.Register) {
        if (fam0) {
          let v: Value = regFull[r0] ? opValue(1, size) : UNKNOWN;
          // Keep the upper half of 64-bit constants (a struct field may be stored as the
          // high half of one 8-byte store); 32-bit writes zero it.
          if (v.k === 'const') v = { k: 'const', v: v.v, hi: reg64[r0] ? Number((ins.immediate(1) >> 32n) & 0xffffffffn) : 0 };
          insn.writes.push({ loc: fam0, value: v });
        }
      } else if (k0 === OK.Memory) {
        const loc = memLoc();
        if (loc) {
          const v = size >= 4 ? opValue(1, size) : (UNKNOWN);
          insn.writes.push({ loc, value: v });
          if (size === 8 && loc.startsWith('s:')) {
            const hiLoc = slotLoc(Number(loc.slice(2)) + 4);
            const hi: Value =
              v.k === 'const' ? { k: 'const', v: Number((ins.immediate(1) >> 32n) & 0xffffffffn) } : v.k === 'copy' ? { k: 'high', loc: v.loc } : UNKNOWN;
            insn.writes.push({ loc: hiLoc, value: hi });
          }
        } else if (size >= 4 && ins.memoryIndex === REG_NONE && regFamily[ins.memoryBase]) {
          (insn.stores ??= []).push({ base: regFamily[ins.memoryBase]!, disp: Number(ins.memoryDisplacement & 0xffffffffn) | 0, value: opValue(1, size) });
        }
      }
    } else if (mn === M.Lea) {
      if (fam0) {
        let v: Value = UNKNOWN;
        if (ins.memoryBase === REG_RIP) v = { k: 'addr', rva: Number(ins.memoryDisplacement & 0xffffffffn) };
        else if (ins.memoryBase === REG_NONE && ins.memoryIndex === REG_NONE && img.bitness === 32) {
          v = { k: 'addr', rva: ((Number(ins.memoryDisplacement & 0xffffffffn) >>> 0) - base32) >>> 0 };
        } else if (ins.memoryIndex === REG_NONE && regFamily[ins.memoryBase] === spReg && sp !== null) {
          v = { k: 'stack', off: sp + (Number(ins.memoryDisplacement & 0xffffffffn) | 0) };
        } else if (ins.memoryIndex === REG_NONE && regFamily[ins.memoryBase] === fpReg && fp !== null) {
          v = { k: 'stack', off: fp + (Number(ins.memoryDisplacement & 0xffffffffn) | 0) };
        } else if (ins.memoryIndex === REG_NONE && regFamily[ins.memoryBase]) {
          v = { k: 'offset', base: regFamily[ins.memoryBase]!, disp: Number(ins.memoryDisplacement & 0xffffffffn) | 0 };
        }
        insn.writes.push({ loc: fam0, value: regFull[r0] ? v : UNKNOWN });
      }
    } else if ((mn === M.Movsxd || mn === M.Movzx) && fam0 && regFull[r0] && ins.op1Kind === OK.Memory && ins.memoryIndex !== REG_NONE) {
      // `movsxd rax, [rcx + rax*4]`: a relative jump table's entry; `movzx eax, byte [r9 + rax + t]`:
      // the index table in front of one (MSVC).
      insn.writes.push({ loc: fam0, value: mn === M.Movsxd ? memValue(4, true) : memValue(memSize(x, ins, 8), false) });
    } else if (mn === M.Add && fam0 && regFull[r0] && ins.op1Kind === OK.Register && regFamily[ins.op1Register] && regFull[ins.op1Register]) {
      // `add rax, rcx`: a jump table's base plus its entry.
      insn.writes.push({ loc: fam0, value: { k: 'sum', a: fam0, b: regFamily[ins.op1Register]!, shift: 0 } });
    } else if (CMOV.has(mn) && fam0) {
      const size = memSize(x, ins, ptr);
      insn.writes.push({ loc: fam0, value: regFull[r0] ? { k: 'either', a: opValue(1, size), b: copyOf(fam0) } : UNKNOWN });
    } else if ((mn === M.Add || mn === M.Sub) && fam0 && regFull[r0] && ins.op1Kind >= OK.Immediate8 && ins.op1Kind <= OK.Immediate32to64) {
      const imm = Number(ins.immediate(1) & 0xffffffffn) | 0;
      insn.writes.push({ loc: fam0, value: { k: 'offset', base: fam0, disp: mn === M.Add ? imm : -imm } });
    } else if (mn === M.Xor && fam0 && ins.op1Kind === OK.Register && regFamily[ins.op1Register] === fam0) {
      insn.writes.push({ loc: fam0, value: { k: 'const', v: 0 } });
    } else if (mn === M.Xchg) {
      const a = fam0;
      const b = ins.op1Kind === OK.Register ? regFamily[ins.op1Register] : null;
      if (a && b) {
        // Not modelled as a swap: both become unknown.
        insn.writes.push({ loc: a, value: UNKNOWN }, { loc: b, value: UNKNOWN });
      } else if (a) insn.writes.push({ loc: a, value: UNKNOWN });
    } else if (opCount > 0 && !noWr.has(mn) && !jcc) {
      // Any other instruction that writes its first operand makes it unknown.
      if (fam0) insn.writes.push({ loc: fam0, value: UNKNOWN });
      else if (k0 === OK.Memory) {
        const loc = memLoc();
        if (loc) insn.writes.push({ loc, value: UNKNOWN });
      }
    }
    // `cmp reg, imm`: what bounds a jump table's index.
    if (mn === M.Cmp && fam0 && ins.op1Kind >= OK.Immediate8 && ins.op1Kind <= OK.Immediate32to64) insn.compare = { loc: fam0, imm: Number(ins.immediate(1) & 0xffffffffn) >>> 0 };
    const implicit = implicitOf[mn];
    if (implicit) for (const f of implicit) insn.writes.push({ loc: f, value: UNKNOWN });
    // Track registers that hold stack addresses, so that `[eax+0Ch]` after `mov eax, esp`
    // is a stack slot.
    const ws = insn.writes;
    for (let k = 0; k < ws.length; k++) {
      const w = ws[k];
      if (w.loc.charCodeAt(1) === 58) continue; // `s:` and `m:` (no register family has ':' there)
      const bit = savedBit(w.loc);
      if (bit) writtenSaved |= bit;
      const v = w.value;
      if (alias.size === 0 && v.k !== 'stack') continue;
      const a = v.k === 'stack' ? v.off : v.k === 'offset' && alias.has(v.base) ? alias.get(v.base)! + v.disp : v.k === 'copy' ? alias.get(v.loc) : undefined;
      if (a !== undefined) alias.set(w.loc, a);
      else alias.delete(w.loc);
    }
    insns.push(seal(insn));
  }
  return { start, insns, exits };
}

/** The size of the memory operand in bytes (the sizes we care about; 8 otherwise), `none` without one. */
function memSize(x: Iced, ins: InstanceType<Iced['Instruction']>, none: number): number {
  // MemorySize enum: only the sizes we care about.
  const ms = ins.memorySize;
  const MS = x.MemorySize;
  if (!ms) return none;
  if (ms === MS.UInt64 || ms === MS.Int64 || ms === MS.QwordOffset) return 8;
  if (ms === MS.UInt32 || ms === MS.Int32 || ms === MS.DwordOffset) return 4;
  if (ms === MS.UInt16 || ms === MS.Int16 || ms === MS.WordOffset) return 2;
  if (ms === MS.UInt8 || ms === MS.Int8) return 1;
  return 8;
}

export function x86Abi(bitness: 32 | 64, readImage: AbiInfo['readImage'], isImportSlot: AbiInfo['isImportSlot'], isWritable: AbiInfo['isWritable']): AbiInfo {
  return bitness === 64
    ? { clobbered: X64_ABI_CLOBBERED, paramAt: x64ParamAt, readImage, isImportSlot, isWritable }
    : { clobbered: X86_ABI_CLOBBERED, paramAt: x86ParamAt, readImage, isImportSlot, isWritable };
}

// The tables above are built from iced's enums when it loads (here, at the end, once every binding they fill exists).
whenIcedLoads(initTables);
