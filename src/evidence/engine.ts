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
 *  5. KMDF: the WdfFunctions table (found through WdfVersionBind's bind info) is a target
 *     cell; calls through `[table + 8*index]` are calls of KMDF functions.
 *  6. Every reference the prefilter found is accounted for: a call site was analysed in
 *     its function, or an unresolved entry says why not.
 */
import type { PeImage } from '../pe/types.js';
import { loadRoutines, type Routine } from '../tag/routines.js';
import type { Backend, CodeFunction, References } from './sites/backend.js';
import type { LoweredFunction, Resolved, Value } from './ir.js';
import { readTag, SiteRecorder } from './sites/outcomes.js';
import type { Evidence, ExtractionResult } from './types.js';
import { valuesAt, valuesOf } from './values.js';
import { inferWrapper, type Wrapper } from './wrappers.js';

/** What a call resolves to. */
type Callee =
  | { k: 'routine'; routine: Routine }
  /** An in-image function that forwards its parameter `param` into a routine's tag. */
  | { k: 'wrapper'; wrapper: Wrapper }
  /** An in-image function that passes a field of the structure its parameter points at as the tag. */
  | { k: 'field'; user: FieldUser }
  /** A constructor that stores a routine's address into a structure (a custom allocator). */
  | { k: 'ctor'; stores: RoutineStore[] };

/** `l->Allocate = ExAllocatePoolWithTag` in `InitLookaside(l, ...)`: a routine's address stored at `disp` of the structure parameter `ptrParam` points at. */
interface RoutineStore {
  start: number;
  ptrParam: number;
  disp: number;
  routine: Routine;
  /** The store instruction (where the reference is, for an unresolved entry). */
  at: number;
  /** A call through the stored pointer was followed to a tag. */
  used: boolean;
}

/** `CacheAlloc(c)`: calls `routine` with `c->field` (the field at `disp` of the structure parameter `param` points at) as the tag. */
interface FieldUser {
  start: number;
  param: number;
  disp: number;
  routine: Routine;
}

/** A store a function makes into a structure one of its parameters points at: `[param + disp] = values`. */
interface FieldStore {
  ptrParam: number;
  disp: number;
  values: Resolved[];
}

/** How many calls above a field user's call are searched for the constructor that filled its structure. */
const CTOR_SEARCH = 64;

const MAX_ROUNDS = 6;


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
  const table = loadRoutines();
  const rec = new SiteRecorder(backend.arch);

  // 1. Import slots of routines we know.
  const slotRoutine = new Map<number, Routine>();
  let kmdfBindSlot: number | null = null;
  for (const m of image.imports) {
    const module = m.module.toLowerCase();
    for (const f of m.functions) {
      if (!f.name) continue;
      const r = table.byModuleName.get(`${module}!${f.name}`) ?? table.byModuleName.get(`${normaliseModule(module)}!${f.name}`);
      if (r) slotRoutine.set(f.iatRva, r);
      if (normaliseModule(module) === table.kmdfBind.module && f.name === table.kmdfBind.import) kmdfBindSlot = f.iatRva;
    }
  }
  if (slotRoutine.size === 0 && kmdfBindSlot === null) return { ...rec.finish(), functionsDecoded: 0, callSites: 0, wrappers: 0, candidates: 0, candidatesAnalysed: 0 };

  /** Direct-call targets: import thunks and wrappers. */
  const thunks = new Map<number, Routine>();
  const wrappers = new Map<number, Wrapper>();
  const fieldUsers = new Map<number, FieldUser>();
  /** Constructors that store a routine's address into a structure, by start. */
  const ctors = new Map<number, RoutineStore[]>();
  const newCtors: RoutineStore[] = [];
  const newFieldUsers: FieldUser[] = [];
  /** The stores into parameter structures of each constructor looked at, by its start. */
  const fieldStores = new Map<number, FieldStore[]>();
  /** Cells whose loaded pointer is a function table (KMDF WdfFunctions). */
  const tableCells = new Set<number>();
  /** Every function decoded, by start: lowered once, whatever the number of its call sites or rounds. */
  const decoded = new Map<number, { fn: CodeFunction; lowered: LoweredFunction }>();
  /** Prefilter hits on routine slots and thunks: `at` (the referencing bytes) -> the slot or thunk. */
  const candidates = new Map<number, number>();

  const decode = (fn: CodeFunction): LoweredFunction => {
    let d = decoded.get(fn.start);
    if (!d || d.fn.end < fn.end) {
      d = { fn, lowered: backend.lower(fn) };
      decoded.set(fn.start, d);
    }
    return d.lowered;
  };

  /** x86 code pushes addresses as immediates: a constant that is an image VA is an address. */
  const asAddress = (r: Resolved): Resolved => {
    if (r.k !== 'const' || backend.ptrSize !== 4) return r;
    const rva = backend.vaToRva(r.v);
    return rva === null ? r : { k: 'addr', rva };
  };

  /** Image cells and addresses a function's instructions name (loads, `lea`s, constants): what its indirect calls can reach. */
  const namedCache = new WeakMap<LoweredFunction, Set<number>>();
  const named = (l: LoweredFunction): Set<number> => {
    let s = namedCache.get(l);
    if (s) return s;
    s = new Set();
    const add = (v: Value): void => {
      if (v.k === 'load' || v.k === 'addr') s!.add(v.rva);
      else if (v.k === 'const') {
        const rva = backend.vaToRva(v.v);
        if (rva !== null) s!.add(rva);
      } else if (v.k === 'either') {
        add(v.a);
        add(v.b);
      }
    };
    for (const insn of l.insns) {
      for (const w of insn.writes) add(w.value);
      if (insn.call?.k === 'value') add(insn.call.value);
    }
    namedCache.set(l, s);
    return s;
  };
  /** Can an indirect call in `l` reach a routine? Only if the function names a slot, thunk, wrapper or function table. */
  let pages: Set<number> | null = null;
  let pagesFor = -1;
  const mayCallRoutine = (l: LoweredFunction): boolean => {
    // The 4 KiB pages of every target (an ARM64 `adrp` names the page; the `ldr` offset comes
    // through a register), made again only when a thunk, wrapper or table was added.
    const size = slotRoutine.size + thunks.size + wrappers.size + fieldUsers.size + ctors.size + tableCells.size;
    if (!pages || pagesFor !== size) {
      pages = new Set();
      for (const t of [...slotRoutine.keys(), ...thunks.keys(), ...wrappers.keys(), ...fieldUsers.keys(), ...ctors.keys(), ...tableCells]) pages.add(t >>> 12);
      pagesFor = size;
    }
    const byPage = backend.arch === 'arm64';
    for (const rva of named(l)) if (slotRoutine.has(rva) || thunks.has(rva) || wrappers.has(rva) || fieldUsers.has(rva) || ctors.has(rva) || tableCells.has(rva) || (byPage && pages.has(rva >>> 12))) return true;
    return false;
  };

  function calleeOf(l: LoweredFunction, i: number): { callee: Callee; tableIndex?: number } | null {
    const t = l.insns[i].call!;
    if (t.k === 'value' && !mayCallRoutine(l)) return null;
    const targets: Resolved[] = t.k === 'mem' ? [{ k: 'cell', rva: t.rva }] : t.k === 'direct' ? [{ k: 'addr', rva: t.rva }] : valuesOf(l, i, t.value, backend.abi);
    for (const r of targets) {
      if (r.k === 'cell') {
        const routine = slotRoutine.get(r.rva);
        if (routine) return { callee: { k: 'routine', routine } };
      } else if (r.k === 'addr' || r.k === 'const') {
        const rva = r.k === 'addr' ? r.rva : backend.vaToRva(r.v);
        if (rva === null) continue;
        const th = thunks.get(rva);
        if (th) return { callee: { k: 'routine', routine: th } };
        const w = wrappers.get(rva);
        if (w) return { callee: { k: 'wrapper', wrapper: w } };
        const fu = fieldUsers.get(rva);
        if (fu) return { callee: { k: 'field', user: fu } };
        const ct = ctors.get(rva);
        if (ct) return { callee: { k: 'ctor', stores: ct } };
      } else if (r.k === 'table' && tableCells.has(r.cell) && r.disp >= 0 && r.disp % backend.ptrSize === 0) {
        const index = r.disp / backend.ptrSize;
        const routine = table.kmdfByIndex.get(index);
        if (routine) return { callee: { k: 'routine', routine }, tableIndex: index };
      }
    }
    return null;
  }

  /** Handle one call of a routine (directly or through wrappers). Returns a new wrapper, if any. */
  function handleCall(l: LoweredFunction, i: number, fn: CodeFunction, callee: Callee, tableIndex: number | undefined): Wrapper | null {
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    if (callee.k === 'field') {
      rec.site(callee.user.routine, insn.rva, fn.start);
      fieldCall(l, i, fn, callee.user);
      return null;
    }
    if (callee.k === 'ctor') {
      for (const rs of callee.stores) ctorCall(l, i, fn, rs);
      return null;
    }
    const routine = callee.k === 'routine' ? callee.routine : callee.wrapper.routine;
    const chain = callee.k === 'wrapper' ? [callee.wrapper.start, ...callee.wrapper.chain] : [];
    const conv = callee.k === 'routine' ? routine.x86Convention : 'stdcall';
    const at = (n: number, wide: readonly number[] = []) => backend.argLoc(n, insn.sp, wide, conv);
    const valuesAtArg = (n: number, wide: readonly number[] = []): Resolved[] => {
      const loc = at(n, wide);
      return loc ? valuesAt(l, i, loc, backend.abi) : [{ k: 'unknown', why: 'stack pointer unknown at the call' }];
    };

    if (callee.k === 'routine') {
      if (routine.condition) {
        // Another function code of a multiplexed routine (StorPortExtendedFunction) takes no tag.
        const c = valuesAtArg(routine.condition.arg, routine.x86WideArgs);
        if (!c.some((v) => v.k === 'const' && v.v === routine.condition!.equals)) return null;
      }
      rec.site(routine, insn.rva, fn.start);
      if (routine.sharedTag) {
        rec.shared(routine, insn.rva, fnStart, routine.sharedTag.ulong);
        return null;
      }
      if (routine.tagStruct) {
        structTag(l, i, fn, routine, valuesAtArg(routine.tagStruct.arg, routine.x86WideArgs).map(asAddress));
        return null;
      }
    } else rec.site(routine, insn.rva, fn.start);
    if (routine.tagArg === null) return null;
    const argN = callee.k === 'routine' ? routine.tagArg : callee.wrapper.param;
    const reading = readTag(valuesAtArg(argN, callee.k === 'routine' ? routine.x86WideArgs : []), backend.abi);
    const extra: Partial<Evidence> = { ...(chain.length ? { wrappers: chain } : {}), ...(tableIndex !== undefined ? { tableIndex } : {}) };
    rec.tags(routine, insn.rva, fnStart, reading, extra, callee.k === 'wrapper' ? 'wrapper' : tableIndex !== undefined ? 'function-table' : undefined);
    if (reading.params.length === 0) {
      // `CacheAlloc(c)`: the tag is a field of the structure a parameter points at; the
      // callers' structures (and the constructors that filled them) hold the tags.
      const f = reading.fields[0];
      if (f && reading.tags.length === 0 && fnStart !== null && !fieldUsers.has(fnStart) && !wrappers.has(fnStart) && callee.k === 'routine') {
        newFieldUsers.push({ start: fnStart, param: f.param, disp: f.disp, routine });
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
    return wrappers.has(fnStart) || thunks.has(fnStart) ? null : inferWrapper(reading, fnStart, routine, chain);
  }

  /** The stores a function makes into the structures its parameters point at (a constructor's work). */
  function storesOf(start: number): FieldStore[] {
    let st = fieldStores.get(start);
    if (st) return st;
    st = [];
    fieldStores.set(start, st);
    const fn = backend.functionStartingAt(start);
    if (!fn) return st;
    const l = decode(fn);
    for (let idx = 0; idx < l.insns.length; idx++) {
      for (const store of l.insns[idx].stores ?? []) {
        for (const base of valuesAt(l, idx, store.base, backend.abi)) {
          if (base.k === 'param') st.push({ ptrParam: base.n, disp: store.disp, values: valuesOf(l, idx, store.value, backend.abi) });
        }
      }
    }
    return st;
  }

  /**
   * A call of a field user (`CacheAlloc(&cache)`): the tag is what the structure holds at the
   * field. Stores in this function come first (`cache.Tag = 'hcaC'` before the call); else the
   * constructor called above with the same structure (`InitCache(&cache, 'hcaC')`) and what it
   * stores there, from its own parameters: the tag is at that call.
   */
  function fieldCall(l: LoweredFunction, i: number, fn: CodeFunction, u: FieldUser): void {
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const loc = backend.argLoc(u.param, insn.sp, []);
    const ptrs = loc ? valuesAt(l, i, loc, backend.abi).map(asAddress) : [];
    const cellOf = (p: Resolved, disp: number): string | null => (p.k === 'addr' ? `m:${p.rva + disp}` : p.k === 'stack' ? `s:${p.off + disp}` : null);
    const direct: Resolved[] = [];
    for (const p of ptrs) {
      const c = cellOf(p, u.disp);
      if (c) direct.push(...valuesAt(l, i, c, backend.abi).filter((v) => v.k === 'const'));
    }
    if (direct.length) {
      rec.tags(u.routine, insn.rva, fnStart, readTag(direct, backend.abi), { wrappers: [u.start] }, 'struct-field');
      return;
    }
    const same = (a: Resolved) => ptrs.some((p) => (p.k === 'addr' && a.k === 'addr' && p.rva === a.rva) || (p.k === 'stack' && a.k === 'stack' && p.off === a.off));
    for (let j = i - 1, calls = 0; j >= 0 && calls < CTOR_SEARCH; j--) {
      const c = l.insns[j];
      if (!c.call || c.tail) continue;
      calls++;
      if (c.call.k !== 'direct' || thunks.has(c.call.rva) || wrappers.has(c.call.rva) || fieldUsers.has(c.call.rva)) continue;
      for (let k = 1; k <= 4; k++) {
        const at = backend.argLoc(k, c.sp, []);
        if (!at || !valuesAt(l, j, at, backend.abi).map(asAddress).some(same)) continue;
        const values: Resolved[] = [];
        for (const st of storesOf(c.call.rva)) {
          if (st.ptrParam !== k || st.disp !== u.disp) continue;
          for (const v of st.values) {
            if (v.k !== 'param') values.push(v);
            else {
              const q = backend.argLoc(v.n, c.sp, []);
              if (q) values.push(...valuesAt(l, j, q, backend.abi));
            }
          }
        }
        const reading = readTag(values, backend.abi);
        if (reading.tags.length) {
          rec.site(u.routine, c.rva, fn.start);
          rec.tags(u.routine, c.rva, fnStart, { ...reading, params: [], fields: [] }, { wrappers: [u.start, c.call.rva] }, 'struct-field');
          rec.forwarded(u.routine, insn.rva);
          return;
        }
      }
    }
    rec.unresolved(u.routine, insn.rva, fnStart, `field +0x${u.disp.toString(16)} of the structure passed to 0x${u.start.toString(16)}: not set where the analysis sees it`);
  }

  const slotPages = new Set([...slotRoutine.keys()].map((t) => t >>> 12));
  /** The function loads an import slot of a routine (on ARM64: names its page): it may store the routine's address. */
  const namesSlot = (l: LoweredFunction): boolean => {
    for (const rva of named(l)) if (slotRoutine.has(rva) || (backend.arch === 'arm64' && slotPages.has(rva >>> 12))) return true;
    return false;
  };

  /** Stores of a routine's address (loaded from its import slot) into a structure a parameter points at. */
  function routineStores(l: LoweredFunction, start: number): RoutineStore[] {
    const out: RoutineStore[] = [];
    for (let idx = 0; idx < l.insns.length; idx++) {
      for (const store of l.insns[idx].stores ?? []) {
        const cell = valuesOf(l, idx, store.value, backend.abi).find((v) => v.k === 'cell' && slotRoutine.has(v.rva));
        if (!cell || cell.k !== 'cell') continue;
        const routine = slotRoutine.get(cell.rva)!;
        for (const base of valuesAt(l, idx, store.base, backend.abi)) {
          if (base.k === 'param') out.push({ start, ptrParam: base.n, disp: store.disp, routine, at: l.insns[idx].rva, used: false });
        }
      }
    }
    return out;
  }

  /** Two pointer value sets name the same structure (an image address, or a stack slot of this function). */
  const samePointer = (a: readonly Resolved[], b: readonly Resolved[]): boolean =>
    a.some((p) => b.some((q) => (p.k === 'addr' && q.k === 'addr' && p.rva === q.rva) || (p.k === 'stack' && q.k === 'stack' && p.off === q.off)));

  /**
   * A call of a constructor that stores a routine's address into the structure it is given
   * (`InitLookaside(&l, size, 'kLuC')`): the functions called below with the same structure
   * that call through that field (`LookasideAlloc(&l)`: `l->Allocate(pool, l->Size, l->Tag)`)
   * pass as the tag what the constructor stored, from its own parameters: the tag is at this
   * call.
   */
  function ctorCall(l: LoweredFunction, i: number, fn: CodeFunction, rs: RoutineStore): void {
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const routine = rs.routine;
    if (routine.tagArg === null) return;
    const at = backend.argLoc(rs.ptrParam, insn.sp, []);
    const ptrs = at ? valuesAt(l, i, at, backend.abi).map(asAddress) : [];
    if (!ptrs.some((p) => p.k === 'addr' || p.k === 'stack')) return;
    for (let j = i + 1, calls = 0; j < l.insns.length && calls < CTOR_SEARCH; j++) {
      const c = l.insns[j];
      if (!c.call) continue;
      calls++;
      if (c.call.k !== 'direct' || thunks.has(c.call.rva) || ctors.has(c.call.rva)) continue;
      for (let m = 1; m <= 4; m++) {
        const am = backend.argLoc(m, c.sp, []);
        if (!am || !samePointer(valuesAt(l, j, am, backend.abi).map(asAddress), ptrs)) continue;
        const userFn = backend.functionStartingAt(c.call.rva);
        if (!userFn) continue;
        const lu = decode(userFn);
        for (let k = 0; k < lu.insns.length; k++) {
          const uc = lu.insns[k].call;
          if (!uc || uc.k !== 'value') continue;
          if (!valuesOf(lu, k, uc.value, backend.abi).some((v) => v.k === 'field' && v.param === m && v.disp === rs.disp)) continue;
          // A call through the stored pointer: its tag argument, in terms of the structure.
          const tl = backend.argLoc(routine.tagArg, lu.insns[k].sp, routine.x86WideArgs, routine.x86Convention);
          const values: Resolved[] = [];
          for (const v of tl ? valuesAt(lu, k, tl, backend.abi) : []) {
            if (v.k === 'const') values.push(v);
            else if (v.k === 'field' && v.param === m) {
              for (const st of storesOf(rs.start)) {
                if (st.ptrParam !== rs.ptrParam || st.disp !== v.disp) continue;
                for (const x of st.values) {
                  if (x.k !== 'param') values.push(x);
                  else {
                    const q = backend.argLoc(x.n, insn.sp, []);
                    if (q) values.push(...valuesAt(l, i, q, backend.abi));
                  }
                }
              }
            }
          }
          const reading = readTag(values, backend.abi);
          if (reading.tags.length === 0) continue;
          rs.used = true;
          rec.site(routine, insn.rva, fn.start);
          rec.tags(routine, insn.rva, fnStart, { ...reading, params: [], fields: [] }, { wrappers: [c.call.rva, rs.start] }, 'struct-field');
          return;
        }
      }
    }
  }

  /** NDIS pools: the PoolTag field of the parameters struct the routine takes by pointer. */
  function structTag(l: LoweredFunction, i: number, fn: CodeFunction, routine: Routine, pointers: Resolved[]): void {
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const st = table.structs.get(routine.tagStruct!.struct);
    if (!st || !st.tagField) return;
    const fieldOff = st.offset[backend.arch as 'x86' | 'x64' | 'arm64'];
    const values: Resolved[] = [];
    for (const p of pointers) {
      if (p.k === 'stack') values.push(...valuesAt(l, i, `s:${p.off + fieldOff}`, backend.abi));
      else if (p.k === 'addr') {
        const v = backend.abi.readImage(p.rva + fieldOff, 4);
        if (v !== null) values.push({ k: 'const', v, via: 'memory', at: insn.rva });
      } else values.push({ k: 'unknown', why: `${st.name} pointer: ${p.k === 'unknown' ? p.why : p.k}` });
    }
    const reading = readTag(values, backend.abi);
    reading.params = []; // a field of a caller's struct is not this function's parameter
    if (reading.tags.length === 0) rec.unresolved(routine, insn.rva, fnStart, `${st.name}.${st.tagField}: ${reading.reasons.join('; ') || 'not set'}`);
    else rec.tags(routine, insn.rva, fnStart, reading, {}, 'struct-field');
  }

  function findKmdfTable(l: LoweredFunction, i: number): void {
    const insn = l.insns[i];
    const t = insn.call!;
    const r: Resolved[] = t.k === 'mem' ? [{ k: 'cell', rva: t.rva }] : t.k === 'value' ? valuesOf(l, i, t.value, backend.abi) : [];
    if (!r.some((x) => x.k === 'cell' && x.rva === kmdfBindSlot)) return;
    // WDF_BIND_INFO { ULONG Size; PWCHAR Component; WDF_VERSION Version (3 ULONGs); ULONG FuncCount; PWDFFUNC *FuncTable; ... }
    const funcTableOff = backend.ptrSize === 8 ? 32 : 24;
    const loc = backend.argLoc(3, insn.sp, []);
    if (!loc) return;
    for (const p of valuesAt(l, i, loc, backend.abi).map(asAddress)) {
      if (p.k === 'addr') {
        const cell = backend.readPointerRva(p.rva + funcTableOff);
        if (cell !== null) tableCells.add(cell);
      } else if (p.k === 'stack') {
        for (const v of valuesAt(l, i, `s:${p.off + funcTableOff}`, backend.abi)) if (v.k === 'addr') tableCells.add(v.rva);
      }
    }
  }

  // 2-4. Rounds: find functions referencing the current targets, decode, resolve.
  let targets = new Set<number>(slotRoutine.keys());
  if (kmdfBindSlot !== null) targets.add(kmdfBindSlot);
  const scannedTargets = new Set<number>();
  const codeTargets = new Set<number>();
  const handledCalls = new Set<string>();
  const unknownCalls = new Map<string, number>();
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
      const l = decode(fn);
      for (let i = 0; i < l.insns.length; i++) {
        if (!l.insns[i].call) continue;
        // A call handled in an earlier round keeps its outcome; only calls that named nothing known are looked at again.
        const key = `${l.start}:${l.insns[i].rva}`;
        if (handledCalls.has(key)) continue;
        // KMDF: WdfVersionBind(DriverObject, RegistryPath, &BindInfo, &Globals) tells the table cell.
        if (kmdfBindSlot !== null && !tableCells.size) findKmdfTable(l, i);
        // A call that named nothing known names nothing known again until a target is added.
        const version = thunks.size + wrappers.size + fieldUsers.size + ctors.size + tableCells.size;
        if (unknownCalls.get(key) === version) continue;
        const c = calleeOf(l, i);
        if (!c) {
          unknownCalls.set(key, version);
          continue;
        }
        handledCalls.add(key);
        const w = handleCall(l, i, fn, c.callee, c.tableIndex);
        if (w) newWrappers.push(w);
      }
      // A constructor that stores a routine's address (a reference the prefilter found) into a structure.
      if (fn.knownStart && !ctors.has(fn.start) && namesSlot(l) && l.insns.some((x) => x.stores)) {
        const rs = routineStores(l, fn.start);
        if (rs.length) {
          newCtors.push(...rs);
          for (const r of rs) rec.uses(r.routine, fn.start);
        }
      }
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
      if (!wrappers.has(w.start)) {
        wrappers.set(w.start, w);
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

  // 5. Every reference the prefilter saw is accounted for: a function with a call site of
  // that routine holds it, or it is reported with the reason it led nowhere.
  let analysed = 0;
  for (const [at, target] of candidates) {
    const routine = slotRoutine.get(target) ?? thunks.get(target)!;
    const holder = [...decoded.values()].find((d) => at >= d.fn.start && at < d.fn.end && rec.hasSiteIn(routine, d.fn.start));
    if (holder) {
      analysed++;
      continue;
    }
    const inside = [...decoded.values()].find((d) => at >= d.fn.start && at < d.fn.end);
    rec.unresolved(
      routine,
      at,
      inside?.fn.knownStart ? inside.fn.start : null,
      inside
        ? `the routine's address is used at 0x${at.toString(16)}, but no call through it was followed (stored, or called through a pointer the analysis lost)`
        : `a reference at 0x${at.toString(16)} in code that function discovery did not reach`,
    );
  }

  for (const list of ctors.values()) {
    for (const rs of list) {
      if (!rs.used) rec.unresolved(rs.routine, rs.at, rs.start, `the routine's address is stored into field +0x${rs.disp.toString(16)} of the structure parameter ${rs.ptrParam} points at (a custom allocator); no call through it was followed to a tag`);
    }
  }

  const { evidence, unresolved } = rec.finish();
  return { evidence, unresolved, functionsDecoded: decoded.size, callSites: rec.sites.size, wrappers: wrappers.size, candidates: candidates.size, candidatesAnalysed: analysed };
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
