/**
 * The call-site engine: one algorithm over per-architecture backends (capa-style); the
 * rooms it uses are described in README.md beside this file.
 *
 *  1. Targets: the IAT slots of imported tag-taking routines (data/routines.json).
 *  2. A byte prefilter (`sites/`) finds code that references a target and so the
 *     functions worth decoding; only those are decoded and lowered (`lower/`), once each.
 *  3. Every call or tail jump whose target resolves to a routine is a call site; the value
 *     analysis (`values.ts` over `cfg.ts`) gives the set of values its tag argument can
 *     hold, and `sites/outcomes.ts` records one evidence record per possible tag.
 *  4. A parameter of the function among those values makes it a wrapper (`wrappers.ts`):
 *     its start becomes a new target and its callers are searched the same way, until
 *     nothing new turns up (wrappers of wrappers).
 *     A field of a parameter's structure among them (`CacheAlloc(c)`: `c->Tag`) makes it a
 *     field user: at its callers, the tag is what was stored there, above the call or by
 *     the constructor called with the same structure. A constructor that stores a
 *     routine's address into a structure is followed to the function calling through it.
 *  5. KMDF: the WdfFunctions table (found through WdfVersionBind's bind info) is a target
 *     cell; calls through `[table + 8*index]` are calls of KMDF functions.
 *  6. Every reference the prefilter found is accounted for: a call site was analysed in
 *     its function, or an unresolved entry says why not.
 */
import type { PeImage } from '../pe/types.js';
import { loadRoutines, type Routine } from '../tag/routines.js';
import type { Backend, CodeFunction, References } from './sites/backend.js';
import { rAddr, rCell, rConst, rUnknown, slotLoc, zeroedInt32, zeroedUint8, type Loc, type LoweredFunction, type Resolved, type Value } from './ir.js';
import { argumentValues, readArgument, readTag, SiteRecorder, type ArgReading } from './sites/outcomes.js';
import { decodePool } from '../tag/pool.js';
import type { Evidence, ExtractionResult } from './types.js';
import { valuesAt, valuesOf } from './values.js';
import { StructureFlow, type FieldUser, type RoutineStore, type StructEngine } from './structs.js';
import { addWrapper, inferWrapper, type Wrapper, type WrapperArgs } from './wrappers.js';

/** What a call resolves to. */
type Callee =
  | { k: 'routine'; routine: Routine }
  /** An in-image function that forwards its parameter `param` into a routine's tag. */
  | { k: 'wrapper'; wrapper: Wrapper }
  /** An in-image function that passes a field of the structure its parameter points at as the tag. */
  | { k: 'field'; user: FieldUser }
  /** A constructor that stores a routine's address into a structure (a custom allocator). */
  | { k: 'ctor'; stores: RoutineStore[] };

/**
 * Every `Callee` is one class with every field (those of other kinds undefined), and the
 * answer of `calleeOf` always has its `tableIndex`: the engine's loop over calls sees one
 * shape of each, whatever the callee (a shape per kind made it deoptimise on "wrong map").
 */
class CalleeNode {
  constructor(
    readonly k: Callee['k'],
    readonly routine: Routine | undefined,
    readonly wrapper: Wrapper | undefined,
    readonly user: FieldUser | undefined,
    readonly stores: RoutineStore[] | undefined,
  ) {}
}
const callRoutine = (routine: Routine, tableIndex?: number): { callee: Callee; tableIndex: number | undefined } => ({ callee: new CalleeNode('routine', routine, undefined, undefined, undefined) as Callee, tableIndex });
const callWrapper = (wrapper: Wrapper): { callee: Callee; tableIndex: number | undefined } => ({ callee: new CalleeNode('wrapper', undefined, wrapper, undefined, undefined) as Callee, tableIndex: undefined });
const callField = (user: FieldUser): { callee: Callee; tableIndex: number | undefined } => ({ callee: new CalleeNode('field', undefined, undefined, user, undefined) as Callee, tableIndex: undefined });
const callCtor = (stores: RoutineStore[]): { callee: Callee; tableIndex: number | undefined } => ({ callee: new CalleeNode('ctor', undefined, undefined, undefined, stores) as Callee, tableIndex: undefined });



const MAX_ROUNDS = 6;
/** The longest function taken for a /GS helper that keeps the argument registers (instructions). */
const MAX_SCRATCH_LEAF = 8;

/** A function decoded once per image, with what the rounds know of each of its calls (by instruction index). */
interface Decoded {
  fn: CodeFunction;
  lowered: LoweredFunction;
  /** 1: the call's outcome is recorded. */
  handled: Uint8Array;
  /** 1 + the target count at which the call last named nothing known (asked again only when a target is added). */
  namedNothingAt: Int32Array;
}


export interface CallSiteResult extends Pick<ExtractionResult, 'evidence' | 'unresolved'> {
  functionsDecoded: number;
  callSites: number;
  wrappers: number;
  /** References to a routine's import slot (or its thunk) in executable code, found by the prefilter. */
  candidates: number;
  /** Those that the analysis reached (every other one is reported unresolved, with its reason). */
  candidatesAnalysed: number;
}

export function findCallSiteEvidence(image: PeImage, backend: Backend): CallSiteResult {
  return new CallSiteEngine(image, backend).run();
}

/**
 * One image's analysis: the targets found so far (slots, thunks, wrappers, field users,
 * constructors, function tables), the functions decoded, and the rounds over them. Steps 1
 * to 6 of the module comment are `constructor` (1), `rounds` and `analyseFunction` (2-5),
 * `account` (6).
 */
class CallSiteEngine implements StructEngine {
  private readonly table = loadRoutines();
  private readonly rec: SiteRecorder;
  /** Import slots of the routines we know. */
  private readonly slotRoutine = new Map<number, Routine>();
  private kmdfBindSlot: number | null = null;
  /** Direct-call targets: import thunks and wrappers. */
  private readonly thunks = new Map<number, Routine>();
  private readonly wrappers = new Map<number, Wrapper>();
  private readonly fieldUsers = new Map<number, FieldUser>();
  /** Constructors that store a routine's address into a structure, by start. */
  private readonly ctors = new Map<number, RoutineStore[]>();
  private readonly newCtors: RoutineStore[] = [];
  private readonly newFieldUsers: FieldUser[] = [];
  /** Cells whose loaded pointer is a function table (KMDF WdfFunctions). */
  private readonly tableCells = new Set<number>();
  /** Every function decoded, by start: lowered once, whatever the number of its call sites or rounds. */
  private readonly decoded = new Map<number, Decoded>();
  /** Wrappers and field users with at least one call the rounds followed. */
  private readonly forwardersCalled = new Set<number>();
  /** Prefilter hits on routine slots and thunks: `at` (the referencing bytes) -> the slot or thunk. */
  private readonly candidates = new Map<number, number>();
  private readonly structs: StructureFlow;
  /** Image cells and addresses each function names (an array: iterated without a Set iterator's garbage). */
  private readonly namedCache = new WeakMap<LoweredFunction, readonly number[]>();
  /** The answer of `mayCallRoutine` per function, with the target count it was given for. */
  private readonly mayCache = new WeakMap<LoweredFunction, { size: number; may: boolean }>();
  /** The 4 KiB pages of every target, and the target count they were made for. */
  private pages: Set<number> | null = null;
  /** `isScratchLeaf` answers by function start (ARM64 /GS helpers). */
  private readonly scratchLeaves = new Map<number, boolean>();
  private pagesFor = -1;

  constructor(
    private readonly image: PeImage,
    private readonly backend: Backend,
  ) {
    this.rec = new SiteRecorder(backend.arch);
    // 1. Import slots of routines we know.
    for (const m of image.imports) {
      const module = m.module.toLowerCase();
      for (const f of m.functions) {
        if (!f.name) continue;
        const r = this.table.byModuleName.get(`${module}!${f.name}`) ?? this.table.byModuleName.get(`${normaliseModule(module)}!${f.name}`);
        if (r) this.slotRoutine.set(f.iatRva, r);
        if (normaliseModule(module) === this.table.kmdfBind.module && f.name === this.table.kmdfBind.import) this.kmdfBindSlot = f.iatRva;
      }
    }
    const { rec, slotRoutine, thunks, wrappers, fieldUsers, ctors } = this;
    this.structs = new StructureFlow({ backend, rec, slotRoutine, thunks, wrappers, fieldUsers, ctors, engine: this, sections: image.sections });
  }

  run(): CallSiteResult {
    if (this.slotRoutine.size === 0 && this.kmdfBindSlot === null) return { ...this.rec.finish(), functionsDecoded: 0, callSites: 0, wrappers: 0, candidates: 0, candidatesAnalysed: 0 };
    this.rounds();
    const analysed = this.account();
    const { evidence, unresolved } = this.rec.finish();
    return { evidence, unresolved, functionsDecoded: this.decoded.size, callSites: this.rec.sites.size, wrappers: this.wrappers.size, candidates: this.candidates.size, candidatesAnalysed: analysed };
  }

  /** The number of targets known: what a call that named nothing known is asked again for. */
  private get targetCount(): number {
    return this.slotRoutine.size + this.thunks.size + this.wrappers.size + this.fieldUsers.size + this.ctors.size + this.tableCells.size;
  }

  private decodedEntry(fn: CodeFunction): Decoded {
    let d = this.decoded.get(fn.start);
    if (!d || d.fn.end < fn.end) {
      const lowered = this.backend.lower(fn);
      if (this.backend.arch === 'arm64') this.keepArgumentsAcrossHelpers(lowered);
      d = { fn, lowered, handled: zeroedUint8(lowered.insns.length), namedNothingAt: zeroedInt32(lowered.insns.length) };
      this.decoded.set(fn.start, d);
    }
    return d;
  }

  /**
   * ARM64 MSVC's /GS helpers (`__security_push_cookie`: `sub sp, sp, #16`, load the cookie
   * into x17, store it, `ret`) touch only x16/x17 and the stack: a `bl` to one is no call
   * that clobbers the argument registers (the parameters read after it are still the
   * function's). Such a call is dropped from the lowered function.
   */
  private keepArgumentsAcrossHelpers(l: LoweredFunction): void {
    const insns = l.insns;
    for (let i = 0; i < insns.length; i++) {
      const c = insns[i].call;
      if (!c || c.k !== 'direct' || insns[i].tail) continue;
      let leaf = this.scratchLeaves.get(c.rva);
      if (leaf === undefined) this.scratchLeaves.set(c.rva, (leaf = this.isScratchLeaf(c.rva)));
      if (leaf) {
        insns[i].call = undefined;
        if (l.derived !== undefined) l.derived.calls = undefined; // the clobbering calls changed
      }
    }
  }

  /** A short leaf that writes only the intra-procedure-call scratch registers (x16, x17) and its own stack, then returns. */
  private isScratchLeaf(rva: number): boolean {
    const fn = this.backend.functionStartingAt(rva);
    if (!fn || fn.end - fn.start > 4 * MAX_SCRATCH_LEAF) return false;
    const l = this.backend.lower(fn);
    const n = l.insns.length;
    if (n === 0 || n > MAX_SCRATCH_LEAF || !l.insns[n - 1].noFall) return false;
    for (let i = 0; i < n; i++) {
      const x = l.insns[i];
      if (x.call || x.stores || x.jump !== undefined || x.targets || (x.noFall && i < n - 1)) return false;
      for (let k = 0; k < x.writes.length; k += 2) {
        const loc = x.writes[k] as Loc;
        if (!(loc === 'x16' || loc === 'x17' || loc === 'w16' || loc === 'w17' || loc.startsWith('s:'))) return false;
      }
    }
    return true;
  }

  decode(fn: CodeFunction): LoweredFunction {
    return this.decodedEntry(fn).lowered;
  }

  /** x86 code pushes addresses as immediates: a constant that is an image VA is an address. */
  asAddress(r: Resolved): Resolved {
    if (r.k !== 'const' || this.backend.ptrSize !== 4) return r;
    const rva = this.backend.vaToRva(r.v);
    return rva === null ? r : rAddr(rva);
  }

  /** The values argument `n` of the call `l.insns[i]` may hold. */
  private valuesAtArg(l: LoweredFunction, i: number, n: number, wide: readonly number[], conv: 'stdcall' | 'fastcall'): Resolved[] {
    const loc = this.backend.argLoc(n, l.insns[i].sp, wide, conv);
    return loc ? valuesAt(l, i, loc, this.backend.abi) : [rUnknown('stack pointer unknown at the call')];
  }

  /** Image cells and addresses a function's instructions name (loads, `lea`s, constants): what its indirect calls can reach. */
  named(l: LoweredFunction): readonly number[] {
    const cached = this.namedCache.get(l);
    if (cached) return cached;
    const backend = this.backend;
    const s = new Set<number>();
    const insns = l.insns;
    for (let i = 0; i < insns.length; i++) {
      const insn = insns[i];
      for (let k = 1; k < insn.writes.length; k += 2) addNamed(s, backend, insn.writes[k] as Value);
      if (insn.call?.k === 'value') addNamed(s, backend, insn.call.value);
    }
    const list = Array.from(s);
    this.namedCache.set(l, list);
    return list;
  }

  /** Can an indirect call in `l` reach a routine? Only if the function names a slot, thunk, wrapper or function table. */
  private mayCallRoutine(l: LoweredFunction): boolean {
    const size = this.targetCount;
    const c = this.mayCache.get(l);
    if (c && c.size === size) return c.may;
    const may = this.namesTarget(l, size);
    this.mayCache.set(l, { size, may });
    return may;
  }

  private namesTarget(l: LoweredFunction, size: number): boolean {
    const { slotRoutine, thunks, wrappers, fieldUsers, ctors, tableCells } = this;
    // The 4 KiB pages of every target (an ARM64 `adrp` names the page; the `ldr` offset comes
    // through a register), made again only when a thunk, wrapper or table was added.
    if (!this.pages || this.pagesFor !== size) {
      this.pages = new Set();
      for (const t of [...slotRoutine.keys(), ...thunks.keys(), ...wrappers.keys(), ...fieldUsers.keys(), ...ctors.keys(), ...tableCells]) this.pages.add(t >>> 12);
      this.pagesFor = size;
    }
    const pages = this.pages;
    const byPage = this.backend.arch === 'arm64';
    for (const rva of this.named(l)) if (slotRoutine.has(rva) || thunks.has(rva) || wrappers.has(rva) || fieldUsers.has(rva) || ctors.has(rva) || tableCells.has(rva) || (byPage && pages.has(rva >>> 12))) return true;
    return false;
  }

  private calleeOf(l: LoweredFunction, i: number): { callee: Callee; tableIndex: number | undefined } | null {
    const { backend, slotRoutine, thunks, wrappers, fieldUsers, ctors, tableCells, table } = this;
    const t = l.insns[i].call!;
    if (t.k === 'value' && !this.mayCallRoutine(l)) return null;
    const targets: Resolved[] = t.k === 'mem' ? [rCell(t.rva)] : t.k === 'direct' ? [rAddr(t.rva)] : valuesOf(l, i, t.value, backend.abi);
    for (const r of targets) {
      if (r.k === 'cell') {
        const routine = slotRoutine.get(r.rva);
        if (routine) return callRoutine(routine);
      } else if (r.k === 'addr' || r.k === 'const') {
        const rva = r.k === 'addr' ? r.rva : backend.vaToRva(r.v);
        if (rva === null) continue;
        const th = thunks.get(rva);
        if (th) return callRoutine(th);
        const w = wrappers.get(rva);
        if (w) return callWrapper(w);
        const fu = fieldUsers.get(rva);
        if (fu) return callField(fu);
        const ct = ctors.get(rva);
        if (ct) return callCtor(ct);
      } else if (r.k === 'table' && tableCells.has(r.cell) && r.disp >= 0 && r.disp % backend.ptrSize === 0) {
        const index = r.disp / backend.ptrSize;
        const routine = table.kmdfByIndex.get(index);
        if (routine) return callRoutine(routine, index);
      }
    }
    return null;
  }

  /** Handle one call of a routine (directly or through wrappers). Returns a new wrapper, if any. */
  private handleCall(l: LoweredFunction, i: number, fn: CodeFunction, callee: Callee, tableIndex: number | undefined): Wrapper | null {
    const { backend, rec, structs, fieldUsers, wrappers, thunks, newFieldUsers } = this;
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    if (callee.k === 'field') {
      this.forwardersCalled.add(callee.user.start);
      rec.site(callee.user.routine, insn.rva, fn.start);
      structs.fieldCall(l, i, fn, callee.user);
      return null;
    }
    if (callee.k === 'ctor') {
      for (const rs of callee.stores) structs.ctorCall(l, i, fn, rs);
      return null;
    }
    if (callee.k === 'wrapper') this.forwardersCalled.add(callee.wrapper.start);
    const routine = callee.k === 'routine' ? callee.routine : callee.wrapper.routine;
    const chain = callee.k === 'wrapper' ? [callee.wrapper.start, ...callee.wrapper.chain] : [];
    const conv = callee.k === 'routine' ? routine.x86Convention : 'stdcall';
    const valuesAtArg = (n: number, wide: readonly number[] = []): Resolved[] => this.valuesAtArg(l, i, n, wide, conv);

    if (callee.k === 'routine') {
      if (routine.condition) {
        // Another function code of a multiplexed routine (StorPortExtendedFunction) takes no tag.
        const c = valuesAtArg(routine.condition.arg, routine.x86WideArgs);
        if (!c.some((v) => v.k === 'const' && v.v === routine.condition!.equals)) return null;
      }
      rec.site(routine, insn.rva, fn.start);
      if (routine.sharedTag) {
        rec.shared(routine, insn.rva, fnStart, routine.sharedTag.ulong, allocationFields(routine, this.allocationArgs(routine, callee, valuesAtArg)));
        return null;
      }
      if (routine.tagStruct) {
        this.structTag(l, i, fn, routine, valuesAtArg(routine.tagStruct.arg, routine.x86WideArgs).map((r) => this.asAddress(r)));
        return null;
      }
    } else rec.site(routine, insn.rva, fn.start);
    if (routine.tagArg === null) return null;
    const argN = callee.k === 'routine' ? routine.tagArg : callee.wrapper.param;
    const reading = readTag(valuesAtArg(argN, callee.k === 'routine' ? routine.x86WideArgs : []), backend.abi);
    const args = this.allocationArgs(routine, callee, valuesAtArg);
    const extra: Partial<Evidence> = { ...(chain.length ? { wrappers: chain } : {}), ...(tableIndex !== undefined ? { tableIndex } : {}), ...allocationFields(routine, args) };
    rec.tags(routine, insn.rva, fnStart, reading, extra, callee.k === 'wrapper' ? 'wrapper' : tableIndex !== undefined ? 'function-table' : undefined);
    if (reading.params.length === 0) {
      // `CacheAlloc(c)`: the tag is a field of the structure a parameter points at; the
      // callers' structures (and the constructors that filled them) hold the tags.
      const f = reading.fields[0];
      if (f && reading.tags.length === 0 && fnStart !== null && !fieldUsers.has(fnStart) && !wrappers.has(fnStart) && callee.k === 'routine') {
        newFieldUsers.push({ start: fnStart, param: f.param, disp: f.disp, routine, site: insn.rva });
        rec.forwarded(routine, insn.rva);
      }
      return null;
    }
    if (fnStart === null) {
      if (reading.tags.length === 0) rec.unresolved(routine, insn.rva, null, `parameter ${reading.params[0]} of a function whose start is unknown`);
      return null;
    }
    // The function forwards its parameter: its callers hold the tags.
    rec.forwarded(routine, insn.rva);
    return wrappers.has(fnStart) || thunks.has(fnStart) ? null : inferWrapper(reading, fnStart, routine, chain, insn.rva, args);
  }

  /**
   * The pool and size arguments of an allocation call (`pool` and `sizeArg` in
   * data/routines.json). At a wrapper's call, the wrapper's own reading, with each parameter
   * it forwards read at this call (the tag's way, `readTag`).
   */
  private allocationArgs(routine: Routine, callee: Callee, valuesAtArg: (n: number, wide?: readonly number[]) => Resolved[]): WrapperArgs {
    const abi = this.backend.abi;
    if (callee.k === 'wrapper') {
      const inner = callee.wrapper.args;
      if (!inner) return {};
      const through = (r: ArgReading | undefined): ArgReading | undefined => {
        if (!r || r.params.length === 0) return r;
        const out: ArgReading = { values: [...r.values], params: [], reasons: [...r.reasons] };
        for (const p of r.params) {
          const at = readArgument(valuesAtArg(p), abi);
          out.values.push(...at.values);
          out.params.push(...at.params);
          out.reasons.push(...at.reasons);
        }
        out.values = [...new Set(out.values)].sort((a, b) => a - b);
        return out;
      };
      return { ...(inner.pool ? { pool: through(inner.pool) } : {}), ...(inner.size ? { size: through(inner.size) } : {}) };
    }
    const out: WrapperArgs = {};
    const src = routine.pool;
    if (src) {
      if (src.arg !== null) out.pool = readArgument(valuesAtArg(src.arg, routine.x86WideArgs), abi);
      else if (src.orArg === null) out.pool = { values: [src.fixed!], params: [], reasons: [] };
      else {
        // ExInitialize[N]PagedLookasideList: the list's own pool, with the Flags argument OR'ed in.
        const flags = readArgument(valuesAtArg(src.orArg, routine.x86WideArgs), abi);
        const values = flags.values.length ? flags.values.map((f) => (src.fixed! | f) >>> 0) : [src.fixed!];
        const reasons = flags.params.length || flags.reasons.length ? [`its Flags: ${[...flags.params.map((n) => `parameter ${n} of the function`), ...flags.reasons].join('; ')}`] : [];
        out.pool = { values: [...new Set(values)].sort((a, b) => a - b), params: [], reasons };
      }
    }
    if (routine.sizeArg !== null) out.size = readArgument(valuesAtArg(routine.sizeArg, routine.x86WideArgs), abi);
    return out;
  }

  /** NDIS pools: the PoolTag field of the parameters struct the routine takes by pointer. */
  private structTag(l: LoweredFunction, i: number, fn: CodeFunction, routine: Routine, pointers: Resolved[]): void {
    const { backend, rec, table } = this;
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const st = table.structs.get(routine.tagStruct!.struct);
    if (!st || !st.tagField) return;
    const fieldOff = st.offset[backend.arch as 'x86' | 'x64' | 'arm64'];
    const values: Resolved[] = [];
    for (const p of pointers) {
      if (p.k === 'stack') values.push(...valuesAt(l, i, slotLoc(p.off + fieldOff), backend.abi));
      else if (p.k === 'addr') {
        const v = backend.abi.readImage(p.rva + fieldOff, 4);
        if (v !== null) values.push(rConst(v, 'memory', insn.rva));
      } else values.push(rUnknown(`${st.name} pointer: ${p.k === 'unknown' ? p.why : p.k}`));
    }
    const reading = readTag(values, backend.abi);
    reading.params = []; // a field of a caller's struct is not this function's parameter
    if (reading.tags.length === 0) rec.unresolved(routine, insn.rva, fnStart, `${st.name}.${st.tagField}: ${reading.reasons.join('; ') || 'not set'}`);
    else rec.tags(routine, insn.rva, fnStart, reading, {}, 'struct-field');
  }

  private findKmdfTable(l: LoweredFunction, i: number): void {
    const { backend, tableCells, kmdfBindSlot } = this;
    const insn = l.insns[i];
    const t = insn.call!;
    const r: Resolved[] = t.k === 'mem' ? [rCell(t.rva)] : t.k === 'value' ? valuesOf(l, i, t.value, backend.abi) : [];
    if (!r.some((x) => x.k === 'cell' && x.rva === kmdfBindSlot)) return;
    // WDF_BIND_INFO { ULONG Size; PWCHAR Component; WDF_VERSION Version (3 ULONGs); ULONG FuncCount; PWDFFUNC *FuncTable; ... }
    const funcTableOff = backend.ptrSize === 8 ? 32 : 24;
    const loc = backend.argLoc(3, insn.sp, []);
    if (!loc) return;
    for (const p of valuesAt(l, i, loc, backend.abi).map((r) => this.asAddress(r))) {
      if (p.k === 'addr') {
        const cell = backend.readPointerRva(p.rva + funcTableOff);
        if (cell !== null) tableCells.add(cell);
      } else if (p.k === 'stack') {
        for (const v of valuesAt(l, i, slotLoc(p.off + funcTableOff), backend.abi)) if (v.k === 'addr') tableCells.add(v.rva);
      }
    }
  }

  /** Every call of one function that reaches a target, and the routine stores a constructor makes. */
  private analyseFunction(fn: CodeFunction, newWrappers: Wrapper[]): void {
    const { rec, structs, thunks, wrappers, fieldUsers, ctors, tableCells, kmdfBindSlot, newCtors } = this;
    const d = this.decodedEntry(fn);
    const l = d.lowered;
    for (let i = 0; i < l.insns.length; i++) {
      if (!l.insns[i].call) continue;
      // A call handled in an earlier round keeps its outcome; only calls that named nothing known are looked at again.
      if (d.handled[i]) continue;
      // KMDF: WdfVersionBind(DriverObject, RegistryPath, &BindInfo, &Globals) tells the table cell.
      if (kmdfBindSlot !== null && !tableCells.size) this.findKmdfTable(l, i);
      // A call that named nothing known names nothing known again until a target is added.
      const version = thunks.size + wrappers.size + fieldUsers.size + ctors.size + tableCells.size;
      if (d.namedNothingAt[i] === version + 1) continue;
      const c = this.calleeOf(l, i);
      if (!c) {
        d.namedNothingAt[i] = version + 1;
        continue;
      }
      d.handled[i] = 1;
      const w = this.handleCall(l, i, fn, c.callee, c.tableIndex);
      if (w) newWrappers.push(w);
      // A wrapper of several routines: the call is a call of each.
      const also = c.callee.k === 'wrapper' ? c.callee.wrapper.also : undefined;
      if (also) {
        for (let k = 0; k < also.length; k++) {
          const w2 = this.handleCall(l, i, fn, callWrapper(also[k]).callee, undefined);
          if (w2) newWrappers.push(w2);
        }
      }
    }
    // A constructor that stores a routine's address (a reference the prefilter found) into a structure.
    if (fn.knownStart && !ctors.has(fn.start) && structs.namesSlot(l) && l.insns.some((x) => x.stores)) {
      const rs = structs.routineStores(l, fn.start);
      if (rs.length) {
        newCtors.push(...rs);
        for (const r of rs) rec.uses(r.routine, fn.start);
      }
    }
  }

  /** 2-5. Rounds: find functions referencing the current targets, decode, resolve, until no new target turns up. */
  private rounds(): void {
    const { slotRoutine, wrappers, fieldUsers, kmdfBindSlot } = this;
    let targets = new Set<number>(slotRoutine.keys());
    if (kmdfBindSlot !== null) targets.add(kmdfBindSlot);
    const scannedTargets = new Set<number>();
    const codeTargets = new Set<number>();
    for (let pass = 0; pass < 2; pass++) {
      this.roundsFrom(targets, scannedTargets, codeTargets);
      if (pass > 0) break;
      // Field users that no followed call reaches: through the pointers the image stores.
      const orphans: FieldUser[] = [];
      for (const f of fieldUsers.values()) if (!this.forwardersCalled.has(f.start)) orphans.push(f);
      if (orphans.length === 0) break;
      const found: Wrapper[] = [];
      for (const start of this.structs.throughPointers(orphans, found)) this.forwardersCalled.add(start);
      targets = new Set();
      for (const w of found) {
        if (!addWrapper(wrappers, w)) continue;
        codeTargets.add(w.start);
        if (!scannedTargets.has(w.start)) targets.add(w.start);
      }
      if (targets.size === 0) break;
    }
  }

  private roundsFrom(initial: Set<number>, scannedTargets: Set<number>, codeTargets: Set<number>): void {
    const { backend, slotRoutine, thunks, wrappers, fieldUsers, ctors, tableCells, candidates, newCtors, newFieldUsers } = this;
    let targets = initial;
    for (let round = 0; round < MAX_ROUNDS && targets.size > 0; round++) {
      for (const t of targets) scannedTargets.add(t);
      // Cells (import slots, function tables) are read by any instruction form; code (wrappers) is called directly.
      const cells = new Set([...targets].filter((t) => !codeTargets.has(t)));
      const code = new Set([...targets].filter((t) => codeTargets.has(t)));
      const found = merge(backend.findReferences(cells), backend.findReferences(code, { direct: true }));
      // Thunks first, so that calls to them resolve in this round.
      for (const th of found.thunks) {
        const r = slotRoutine.get(th.slot);
        if (r) thunks.set(th.rva, r);
      }
      const extraTargets = new Set<number>(found.thunks.map((t) => t.rva).filter((t) => !scannedTargets.has(t)));
      const more = extraTargets.size ? backend.findReferences(extraTargets, { direct: true }) : null;
      for (const t of extraTargets) scannedTargets.add(t);
      for (const ref of [...found.refs, ...(more?.refs ?? [])]) if (slotRoutine.has(ref.target) || thunks.has(ref.target)) candidates.set(ref.at, ref.target);

      const newWrappers: Wrapper[] = [];
      const thisRound = new Set<number>();
      for (const fn of [...found.functions, ...(more?.functions ?? [])]) {
        if (thisRound.has(fn.start)) continue;
        thisRound.add(fn.start);
        this.analyseFunction(fn, newWrappers);
      }
      targets = new Set();
      for (const r of newCtors.splice(0)) {
        const list = ctors.get(r.start);
        if (list) {
          list.push(r);
          continue;
        }
        ctors.set(r.start, [r]);
        codeTargets.add(r.start);
        if (!scannedTargets.has(r.start)) targets.add(r.start);
      }
      for (const f of newFieldUsers.splice(0)) {
        if (fieldUsers.has(f.start) || wrappers.has(f.start)) continue;
        fieldUsers.set(f.start, f);
        codeTargets.add(f.start);
        if (!scannedTargets.has(f.start)) targets.add(f.start);
      }
      for (const w of newWrappers) {
        if (addWrapper(wrappers, w)) {
          codeTargets.add(w.start);
          if (!scannedTargets.has(w.start)) targets.add(w.start);
        }
      }
      // A KMDF table found this round: search its users next round.
      for (const cell of tableCells) if (!scannedTargets.has(cell)) targets.add(cell);
      // The next round searches the callers of the new wrappers and the users of the table;
      // functions decoded before are reused from `decoded`, and repeated outcomes are dropped.
      if (targets.size === 0) break;
    }
  }

  /**
   * 6. Every reference the prefilter saw is accounted for: a function with a call site of
   * that routine holds it, or it is reported with the reason it led nowhere. Returns the
   * number analysed.
   */
  private account(): number {
    const { rec, slotRoutine, thunks, ctors, candidates, decoded } = this;
    let analysed = 0;
    // The decoded functions' bounds, in decoding order, as two arrays (a function holding a
    // reference is searched for once per reference).
    const all = [...decoded.values()];
    const starts = new Float64Array(all.length);
    const ends = new Float64Array(all.length);
    for (let k = 0; k < all.length; k++) {
      starts[k] = all[k].fn.start;
      ends[k] = all[k].fn.end;
    }
    for (const [at, target] of candidates) {
      const routine = slotRoutine.get(target) ?? thunks.get(target)!;
      let holder = false;
      let first = -1;
      for (let k = 0; k < all.length; k++) {
        if (at < starts[k] || at >= ends[k]) continue;
        if (first < 0) first = k;
        if (rec.hasSiteIn(routine, starts[k])) {
          holder = true;
          break;
        }
      }
      if (holder) {
        analysed++;
        continue;
      }
      const inside = first >= 0 ? all[first] : undefined;
      rec.unresolved(
        routine,
        at,
        inside?.fn.knownStart ? inside.fn.start : null,
        inside
          ? `the routine's address is used at 0x${at.toString(16)}, but no call through it was followed (stored, or called through a pointer the analysis lost)`
          : `a reference at 0x${at.toString(16)} in code that function discovery did not reach`,
      );
    }

    // A wrapper that no followed call reaches forwards its tag to callers the analysis does
    // not see (through a function pointer, or in other drivers when it is exported): its
    // call site is reported, not silently dropped.
    // The same for a field user (`CacheAlloc(c)` passing `c->Tag`).
    const exported = new Set(this.image.exports.filter((e) => !e.forwarder).map((e) => e.rva));
    // One shape for both kinds of forwarder.
    const forwarders: { start: number; routine: Routine; site: number; what: string; note?: string | null }[] = [];
    for (const w0 of this.wrappers.values()) {
      for (const w of w0.also ? [w0, ...w0.also] : [w0]) forwarders.push({ start: w.start, routine: w.routine, site: w.site, what: `parameter ${w.param} of the function at 0x${w.start.toString(16)}` });
    }
    for (const f of this.fieldUsers.values()) {
      forwarders.push({ start: f.start, routine: f.routine, site: f.site, what: `field +0x${f.disp.toString(16)} of the structure that parameter ${f.param} of the function at 0x${f.start.toString(16)} points at`, note: this.structs.pointerNote(f.start) });
    }
    for (const w of forwarders) {
      if (this.forwardersCalled.has(w.start) || rec.hasEvidenceAt(w.routine, w.site)) continue;
      rec.unforwarded(
        w.routine,
        w.site,
        w.start,
        exported.has(w.start)
          ? `the tag is ${w.what}, an exported function: its callers, in other images, pass it`
          : w.note
            ? `the tag is ${w.what}; ${w.note}`
            : `the tag is ${w.what}, and no call the analysis followed reaches that function (called through a pointer?)`,
      );
    }

    for (const list of ctors.values()) {
      for (const rs of list) {
        if (!rs.used) rec.unresolved(rs.routine, rs.at, rs.start, `the routine's address is stored into field +0x${rs.disp.toString(16)} of the structure parameter ${rs.ptrParam} points at (a custom allocator); no call through it was followed to a tag`);
      }
    }
    return analysed;
  }
}

/** The evidence fields of an allocation's pool and size readings. */
function allocationFields(routine: Routine, args: WrapperArgs): Partial<Evidence> {
  const out: Partial<Evidence> = {};
  if (args.pool && routine.pool) {
    const v = argumentValues(args.pool);
    const encoding = routine.pool.encoding;
    out.pool = { encoding, ...v, names: v.values.map((x) => decodePool(encoding, x).name), ...(routine.pool.arg === null ? { fixed: true } : {}) };
  }
  if (args.size) out.size = argumentValues(args.size);
  return out;
}

function merge(a: References, b: References): References {
  return { functions: [...a.functions, ...b.functions], thunks: [...a.thunks, ...b.thunks], refs: [...a.refs, ...b.refs] };
}

function normaliseModule(m: string): string {
  // Import tables sometimes omit the extension or use ntkrnlpa/ntkrnlmp names.
  const lower = m.toLowerCase();
  if (/^(ntoskrnl|ntkrnlpa|ntkrnlmp|ntkrpamp)(\.exe)?$/.test(lower)) return 'ntoskrnl.exe';
  if (!lower.includes('.')) return lower + '.sys';
  return lower;
}

/** Add the image cells and addresses the value `v` names to `s` (`CallSiteEngine.named`). */
function addNamed(s: Set<number>, backend: Backend, v: Value): void {
  if (v.k === 'load' || v.k === 'addr') s.add(v.rva);
  else if (v.k === 'const') {
    const rva = backend.vaToRva(v.v);
    if (rva !== null) s.add(rva);
  } else if (v.k === 'either') {
    addNamed(s, backend, v.a);
    addNamed(s, backend, v.b);
  }
}
