/**
 * Tags that travel through a structure (issue 9, item 6): parameter -> field -> argument,
 * across functions.
 *
 * - A *field user* passes a field of the structure its parameter points at as the tag
 *   (`CacheAlloc(c)`: `ExAllocatePoolWithTag(.., c->Tag)`). At its callers the tag is what
 *   the structure holds there: stored above the call, or by the constructor called with the
 *   same structure (`InitCache(&c, 'hcaC')`) from its own parameters.
 * - A *constructor* that stores a routine's address into the structure it is given
 *   (`l->Allocate = ExAllocatePoolWithTag`) is followed to the function called below with the
 *   same structure that calls through that field (`LookasideAlloc(&l)`); its tag argument is
 *   again read from what the constructor stored.
 *
 * - A field user that no followed call reaches, whose address the image stores (an object
 *   type's `Initialize`, a callback table's entry), is followed through the pointer
 *   (`throughPointers`): from the handle or table the address is registered with, to the
 *   calls that pass it to a function calling through it, where the structure is filled.
 *
 * In the first two cases the evidence is at the constructor's call, where the literal is. The search
 * for the constructor follows call order in the caller (`CTOR_SEARCH` calls), not the graph,
 * and the same structure means the same image address or the same stack slot.
 */
import type { Routine } from '../tag/routines.js';
import { slotLoc, type Loc, type Resolved, type LoweredFunction, type Value } from './ir.js';
import type { Section } from '../pe/types.js';
import type { Backend, CodeFunction } from './sites/backend.js';
import { describe, readTag, type SiteRecorder } from './sites/outcomes.js';
import { valuesAt, valuesOf } from './values.js';
import type { Wrapper } from './wrappers.js';

/** How far into a structure a function pointer may sit (a registration's structure, a callback table). */
const MAX_STRUCT_SPAN = 0x100;
/** Arguments looked at for a structure's pointer or an object type's handle. */
const MAX_ARGS = 6;
/** Where x64's guard dispatch (`__guard_dispatch_icall_fptr`) takes the call's target. */
const GUARD_TARGET: Loc = 'rax';

/** `CacheAlloc(c)`: calls `routine` with `c->field` (the field at `disp` of the structure parameter `param` points at) as the tag. */
export interface FieldUser {
  start: number;
  param: number;
  disp: number;
  routine: Routine;
  /** The call in the function that passes the field as the tag. */
  site: number;
}

/** A store a function makes into a structure one of its parameters points at: `[param + disp] = values`. */
export interface FieldStore {
  ptrParam: number;
  disp: number;
  values: Resolved[];
}

/** How many calls above a field user's call are searched for the constructor that filled its structure. */
const CTOR_SEARCH = 64;

/** `l->Allocate = ExAllocatePoolWithTag` in `InitLookaside(l, ...)`: a routine's address stored at `disp` of the structure parameter `ptrParam` points at. */
export interface RoutineStore {
  start: number;
  ptrParam: number;
  disp: number;
  routine: Routine;
  /** The store instruction (where the reference is, for an unresolved entry). */
  at: number;
  /** A call through the stored pointer was followed to a tag. */
  used: boolean;
}

/** What the structure flow needs from the engine's rounds. */
export interface StructContext {
  backend: Backend;
  rec: SiteRecorder;
  slotRoutine: ReadonlyMap<number, Routine>;
  thunks: ReadonlyMap<number, Routine>;
  wrappers: ReadonlyMap<number, Wrapper>;
  fieldUsers: ReadonlyMap<number, FieldUser>;
  ctors: ReadonlyMap<number, RoutineStore[]>;
  /** The engine: its cache of lowered functions and what it knows of them. */
  engine: StructEngine;
  /** The image's sections (callback tables in data sections). */
  sections: readonly Section[];
}

/** What the structure flow asks the engine (methods of the engine itself: no closures made per image). */
export interface StructEngine {
  /** Lower a function once (the engine's cache). */
  decode(fn: CodeFunction): LoweredFunction;
  /** x86 pushes addresses as immediates: a constant that is an image VA as an address. */
  asAddress(r: Resolved): Resolved;
  /** Image cells and addresses a function names. */
  named(l: LoweredFunction): readonly number[];
}

/**
 * The structure flow of one image: one object per image whose methods the engine calls (no
 * functions made per image), with what it has learnt of constructors.
 */
export class StructureFlow {
  private readonly backend: Backend;
  private readonly rec: SiteRecorder;
  private readonly slotRoutine: ReadonlyMap<number, Routine>;
  private readonly thunks: ReadonlyMap<number, Routine>;
  private readonly wrappers: ReadonlyMap<number, Wrapper>;
  private readonly fieldUsers: ReadonlyMap<number, FieldUser>;
  private readonly ctors: ReadonlyMap<number, RoutineStore[]>;
  private readonly engine: StructEngine;
  /** The stores into parameter structures of each constructor looked at, by its start. */
  private readonly fieldStores = new Map<number, FieldStore[]>();
  /** The 4 KiB pages and the in-page offsets of the routines' slots (ARM64 `adrp` + `ldr xN, [xM, #off]`). */
  private readonly slotPages: Set<number>;
  private readonly slotOffsets: Set<number>;
  private readonly namesSlotCache = new WeakMap<LoweredFunction, boolean>();
  private readonly sections: readonly Section[];
  /** `dispatcherParam` answers, by `callee:handleArg:slot:param`. */
  private readonly dispatchers = new Map<string, readonly number[]>();
  /** Why a field user reached through a pointer gave no tag, by its start (for its unresolved entry). */
  private readonly pointerNotes = new Map<number, string>();
  /** The first dispatch call seen for the field user being followed, and why its field gave no tag. */
  private missedAt = -1;
  private missedWhy = '';

  constructor(ctx: StructContext) {
    this.backend = ctx.backend;
    this.rec = ctx.rec;
    this.slotRoutine = ctx.slotRoutine;
    this.thunks = ctx.thunks;
    this.wrappers = ctx.wrappers;
    this.fieldUsers = ctx.fieldUsers;
    this.ctors = ctx.ctors;
    this.engine = ctx.engine;
    this.sections = ctx.sections;
    this.slotPages = new Set([...ctx.slotRoutine.keys()].map((t) => t >>> 12));
    this.slotOffsets = new Set([...ctx.slotRoutine.keys()].map((t) => t & 0xfff));
  }

  /** The stores a function makes into the structures its parameters point at (a constructor's work). */
  private storesOf(start: number): FieldStore[] {
    const backend = this.backend;
    let st = this.fieldStores.get(start);
    if (st) return st;
    st = [];
    this.fieldStores.set(start, st);
    const fn = backend.functionStartingAt(start);
    if (!fn) return st;
    const l = this.engine.decode(fn);
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
  fieldCall(l: LoweredFunction, i: number, fn: CodeFunction, u: FieldUser): void {
    const { backend, rec, thunks, wrappers, fieldUsers, engine } = this;
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const loc = backend.argLoc(u.param, insn.sp, []);
    const ptrs = loc ? valuesAt(l, i, loc, backend.abi).map((r) => engine.asAddress(r)) : [];
    const direct: Resolved[] = [];
    for (const p of ptrs) {
      const c = cellOf(p, u.disp);
      if (c) direct.push(...valuesAt(l, i, c, backend.abi).filter((v) => v.k === 'const'));
    }
    if (direct.length) {
      rec.tags(u.routine, insn.rva, fnStart, readTag(direct, backend.abi), { wrappers: [u.start] }, 'struct-field');
      return;
    }
    for (let j = i - 1, calls = 0; j >= 0 && calls < CTOR_SEARCH; j--) {
      const c = l.insns[j];
      if (!c.call || c.tail) continue;
      calls++;
      if (c.call.k !== 'direct' || thunks.has(c.call.rva) || wrappers.has(c.call.rva) || fieldUsers.has(c.call.rva)) continue;
      for (let k = 1; k <= 4; k++) {
        const at = backend.argLoc(k, c.sp, []);
        if (!at || !samePointer(valuesAt(l, j, at, backend.abi).map((r) => engine.asAddress(r)), ptrs)) continue;
        const values: Resolved[] = [];
        for (const st of this.storesOf(c.call.rva)) {
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

  private loadsSlot(v: Value): boolean {
    return v.k === 'load'
      ? this.slotRoutine.has(v.rva)
      : v.k === 'deref'
        ? this.backend.arch === 'arm64' && this.slotOffsets.has(v.disp & 0xfff)
        : v.k === 'either' && (this.loadsSlot(v.a) || this.loadsSlot(v.b));
  }

  /**
   * The function loads an import slot of a routine, so it may store the routine's address:
   * x86/x64 name the slot itself; on ARM64 the function names the slot's page (`adrp`) and
   * loads from that page at the slot's offset. A cheap test before any value is asked for.
   */
  namesSlot(l: LoweredFunction): boolean {
    let v = this.namesSlotCache.get(l);
    if (v === undefined) this.namesSlotCache.set(l, (v = this.loadsASlot(l)));
    return v;
  }

  private loadsASlot(l: LoweredFunction): boolean {
    let page = false;
    const named = this.engine.named(l);
    for (let i = 0; i < named.length; i++) {
      const rva = named[i];
      if (this.slotRoutine.has(rva)) return true;
      if (this.backend.arch === 'arm64' && this.slotPages.has(rva >>> 12)) page = true;
    }
    if (!page) return false;
    // Index loops: the iterators of a `for...of` here were a large part of the engine's garbage.
    const insns = l.insns;
    for (let i = 0; i < insns.length; i++) {
      const ws = insns[i].writes;
      for (let k = 1; k < ws.length; k += 2) if (this.loadsSlot(ws[k] as Value)) return true;
    }
    return false;
  }

  /**
   * The locations that may hold a value loaded from a routine's slot, flow-insensitively:
   * written with such a load (or, off ARM64, with any load through a register, which may
   * point at the slot), or with a copy of such a location. A store of anything else cannot
   * store a routine's address, and is not asked about (most functions that call a routine
   * also fill structures).
   */
  private slotHolders(l: LoweredFunction): ReadonlySet<Loc> {
    const held = new Set<Loc>();
    const insns = l.insns;
    for (let changed = true, pass = 0; changed && pass < 16; pass++) {
      changed = false;
      for (let i = 0; i < insns.length; i++) {
        const ws = insns[i].writes;
        for (let k = 0; k < ws.length; k += 2) {
          const loc = ws[k] as Loc;
          if (!held.has(loc) && this.mayHoldSlot(ws[k + 1] as Value, held)) {
            held.add(loc);
            changed = true;
          }
        }
      }
    }
    return held;
  }

  private mayHoldSlot(v: Value, held: ReadonlySet<Loc>): boolean {
    return (
      this.loadsSlot(v) ||
      (v.k === 'deref' && this.backend.arch !== 'arm64') ||
      (v.k === 'copy' && held.has(v.loc)) ||
      (v.k === 'either' && (this.mayHoldSlot(v.a, held) || this.mayHoldSlot(v.b, held)))
    );
  }

  /** Stores of a routine's address (loaded from its import slot) into a structure a parameter points at. */
  routineStores(l: LoweredFunction, start: number): RoutineStore[] {
    const { backend, slotRoutine } = this;
    const out: RoutineStore[] = [];
    let held: ReadonlySet<Loc> | null = null;
    for (let idx = 0; idx < l.insns.length; idx++) {
      for (const store of l.insns[idx].stores ?? []) {
        held ??= this.slotHolders(l);
        if (!this.mayHoldSlot(store.value, held)) continue;
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

  /**
   * A call of a constructor that stores a routine's address into the structure it is given
   * (`InitLookaside(&l, size, 'kLuC')`): the functions called below with the same structure
   * that call through that field (`LookasideAlloc(&l)`: `l->Allocate(pool, l->Size, l->Tag)`)
   * pass as the tag what the constructor stored, from its own parameters: the tag is at this
   * call.
   */
  ctorCall(l: LoweredFunction, i: number, fn: CodeFunction, rs: RoutineStore): void {
    const { backend, rec, thunks, ctors, engine } = this;
    const insn = l.insns[i];
    const fnStart = fn.knownStart ? fn.start : null;
    const routine = rs.routine;
    if (routine.tagArg === null) return;
    const at = backend.argLoc(rs.ptrParam, insn.sp, []);
    const ptrs = at ? valuesAt(l, i, at, backend.abi).map((r) => engine.asAddress(r)) : [];
    if (!ptrs.some((p) => p.k === 'addr' || p.k === 'stack')) return;
    for (let j = i + 1, calls = 0; j < l.insns.length && calls < CTOR_SEARCH; j++) {
      const c = l.insns[j];
      if (!c.call) continue;
      calls++;
      if (c.call.k !== 'direct' || thunks.has(c.call.rva) || ctors.has(c.call.rva)) continue;
      for (let m = 1; m <= 4; m++) {
        const am = backend.argLoc(m, c.sp, []);
        if (!am || !samePointer(valuesAt(l, j, am, backend.abi).map((r) => engine.asAddress(r)), ptrs)) continue;
        const userFn = backend.functionStartingAt(c.call.rva);
        if (!userFn) continue;
        const lu = engine.decode(userFn);
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
              for (const st of this.storesOf(rs.start)) {
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
  /**
   * Field users that no followed call reaches but whose address the image takes
   * (`typeInfo.Initialize = KphpInitializePagedLookasideObject`, a callback table in
   * `.rdata`): the function is called through a pointer. The pointer is followed by what
   * names it:
   * - a structure on the stack that holds the address is passed to a registering call
   *   (`KphCreateObjectType(&name, &typeInfo, &KphpPagedLookasideObjectType)`); the
   *   writable globals passed with it are the handles of what was registered, and a call
   *   that passes a handle's value (`KphCreateObject(KphpPagedLookasideObjectType, size,
   *   &obj, &init)`) reaches the function through the callee's indirect call that forwards
   *   one of the callee's parameters as the field user's structure parameter;
   * - a table in the image holds the address (`static const OPS ops = { .Init = F }`); a
   *   call that passes the table (`Dispatch(&ops, &params)`) reaches the function when the
   *   callee calls through exactly that entry of the table it is given.
   * At such a call, the tag is the field of the structure passed there: a constant, or a
   * parameter of the caller, which makes the caller a wrapper (its callers' literals are the
   * tags). Returns the starts of the field users reached; new wrappers go to `out`.
   */
  throughPointers(orphans: readonly FieldUser[], out: Wrapper[]): number[] {
    const reached: number[] = [];
    for (let n = 0; n < orphans.length; n++) {
      const u = orphans[n];
      // Handles (writable globals registered with a structure holding the address) and table entries.
      const handles = new Set<number>();
      /** Possible table starts -> the offset of the function's entry in the table. */
      const tables = new Map<number, number>();
      this.dataPointersTo(u.start, tables);
      const regs = this.backend.findReferences(new Set([u.start]), { exact: true });
      for (let k = 0; k < regs.functions.length; k++) this.registrations(regs.functions[k], u.start, handles, tables);
      if (handles.size === 0 && tables.size === 0) continue;
      const targets = new Set<number>(handles);
      for (const t of tables.keys()) targets.add(t);
      const users = this.backend.findReferences(targets, { exact: true });
      let any = false;
      this.missedAt = -1;
      this.missedWhy = '';
      for (let k = 0; k < users.functions.length; k++) if (this.dispatchCalls(users.functions[k], u, handles, tables, out)) any = true;
      if (any) reached.push(u.start);
      else if (this.missedAt >= 0) {
        this.pointerNotes.set(u.start, `the function is called through a pointer (its structure passed at 0x${this.missedAt.toString(16)}), where the structure's field gives no tag the analysis reads: ${this.missedWhy || 'not set'}`);
      } else if (handles.size) {
        const hs = [...handles].map((h) => `0x${h.toString(16)}`).join(', ');
        this.pointerNotes.set(u.start, `its address is registered with the global(s) ${hs}, and no call in the image passes that handle to a function calling through it (the object type is never instantiated here?)`);
      }
    }
    return reached;
  }

  /** Pointer-sized cells of the data sections that hold the function's address: table entries (each possible table start, with the entry's offset). */
  private dataPointersTo(fnRva: number, tables: Map<number, number>): void {
    const { backend } = this;
    const size = backend.ptrSize;
    for (let s = 0; s < this.sections.length; s++) {
      const sec = this.sections[s];
      if (sec.executable) continue;
      const end = sec.virtualAddress + Math.min(sec.virtualSize || sec.rawSize, sec.rawSize);
      for (let rva = sec.virtualAddress; rva + size <= end; rva += size) {
        if (backend.readPointerRva(rva) !== fnRva) continue;
        for (let off = 0; off < MAX_STRUCT_SPAN && off <= rva - sec.virtualAddress; off += size) if (!tables.has(rva - off)) tables.set(rva - off, off);
      }
    }
  }

  /**
   * In a function that names the address: where it is stored (a stack slot, an image cell,
   * a field of a structure) and, for a stack structure, the calls below that are given it
   * (call order, `CTOR_SEARCH` calls): their writable-global arguments are handles.
   */
  private registrations(fn: CodeFunction, fnRva: number, handles: Set<number>, tables: Map<number, number>): void {
    const { backend, engine } = this;
    const l = engine.decode(fn);
    const insns = l.insns;
    // A function the prefilter gave (on ARM64: any that names the address's page) but whose
    // values never name the address itself cannot store it: no query for it.
    if (!this.mayNameAddress(l, fnRva)) return;
    let stored = false;
    let named = -1;
    for (let i = 0; i < insns.length; i++) {
      const ws = insns[i].writes;
      for (let w = 0; w < ws.length; w += 2) {
        const loc = ws[w] as Loc;
        const v = ws[w + 1] as Value;
        if (!loc.startsWith('s:') && !loc.startsWith('m:')) {
          if (named < 0 && (v.k === 'addr' || v.k === 'const') && this.holdsAddress(l, i, v, fnRva)) named = i;
          continue;
        }
        if (!this.holdsAddress(l, i, v, fnRva)) continue;
        stored = true;
        if (loc.startsWith('m:')) this.addTable(Number(loc.slice(2)), tables);
        else this.registeredBelow(l, i, Number(loc.slice(2)), handles);
      }
      const st = insns[i].stores;
      if (!st) continue;
      for (let w = 0; w < st.length; w++) {
        if (!this.holdsAddress(l, i, st[w].value, fnRva)) continue;
        stored = true;
        for (const b of valuesAt(l, i, st[w].base, backend.abi)) {
          const p = engine.asAddress(b);
          if (p.k === 'addr') this.addTable(p.rva + st[w].disp, tables);
          else if (p.k === 'stack') this.registeredBelow(l, i, p.off + st[w].disp, handles);
        }
      }
    }
    // The address taken into a register and stored in a way the lowering does not model
    // (gcc packs two pointers with `punpcklqdq` and stores them with `movups`): the first
    // call below given a structure on the stack registers it.
    if (!stored && named >= 0) this.registeredBelow(l, named, null, handles);
  }

  /** Whether any value the function writes may be the address `fnRva` (flow-insensitively, before any query). */
  private mayNameAddress(l: LoweredFunction, fnRva: number): boolean {
    const insns = l.insns;
    for (let i = 0; i < insns.length; i++) {
      const ws = insns[i].writes;
      for (let w = 1; w < ws.length; w += 2) if (this.namesAddress(ws[w] as Value, fnRva)) return true;
      const st = insns[i].stores;
      if (st) for (let w = 0; w < st.length; w++) if (this.namesAddress(st[w].value, fnRva)) return true;
    }
    return false;
  }

  private namesAddress(v: Value, fnRva: number): boolean {
    switch (v.k) {
      case 'addr':
        return v.rva === fnRva || (v.rva & 0xfff) === (fnRva & 0xfff);
      case 'offset':
        return (v.disp & 0xfff) === (fnRva & 0xfff);
      case 'const': {
        const rva = this.backend.vaToRva(v.v);
        return rva === fnRva;
      }
      case 'load':
        return true; // a pointer read from the image (a table of functions): asked
      case 'either':
        return this.namesAddress(v.a, fnRva) || this.namesAddress(v.b, fnRva);
      default:
        return false;
    }
  }

  private holdsAddress(l: LoweredFunction, i: number, v: Value, fnRva: number): boolean {
    if (v.k === 'unknown' || v.k === 'deref' || v.k === 'indexed' || v.k === 'sum') return false;
    const vs = valuesOf(l, i, v, this.backend.abi);
    for (let k = 0; k < vs.length; k++) {
      const r = this.engine.asAddress(vs[k]);
      if (r.k === 'addr' && r.rva === fnRva) return true;
    }
    return false;
  }

  private addTable(entry: number, tables: Map<number, number>): void {
    for (let off = 0; off < MAX_STRUCT_SPAN && off <= entry; off += this.backend.ptrSize) if (!tables.has(entry - off)) tables.set(entry - off, off);
  }

  /** The calls below `i` given a stack structure that covers the slot at `off` (any, when null): their writable-global arguments. */
  private registeredBelow(l: LoweredFunction, i: number, off: number | null, handles: Set<number>): void {
    const { backend, engine } = this;
    for (let j = i + 1, calls = 0; j < l.insns.length && calls < CTOR_SEARCH; j++) {
      const c = l.insns[j];
      if (!c.call) continue;
      calls++;
      let given = false;
      const globals: number[] = [];
      for (let a = 1; a <= MAX_ARGS; a++) {
        const at = backend.argLoc(a, c.sp, []);
        if (!at) continue;
        for (const r of valuesAt(l, j, at, backend.abi)) {
          const p = engine.asAddress(r);
          if (p.k === 'stack' && (off === null || (p.off <= off && off < p.off + MAX_STRUCT_SPAN))) given = true;
          else if (p.k === 'addr' && backend.abi.isWritable(p.rva)) globals.push(p.rva);
        }
      }
      if (!given) continue;
      for (let g = 0; g < globals.length; g++) handles.add(globals[g]);
      return;
    }
  }

  /**
   * The calls in `fn` that pass a handle's value or a table: when the callee forwards the
   * structure to the field user, the tag is at the call. Returns whether any was followed.
   */
  private dispatchCalls(fn: CodeFunction, u: FieldUser, handles: ReadonlySet<number>, tables: ReadonlyMap<number, number>, out: Wrapper[]): boolean {
    const { backend, engine } = this;
    const l = engine.decode(fn);
    let any = false;
    // Most functions the prefilter gives here (on ARM64: every function that names the page
    // of a handle) load no handle and name no table: no argument of theirs can be one, and
    // asking the value analysis about every argument of every call costs more than the rest
    // of the image's analysis.
    if (!this.mayNameHandleOrTable(l, handles, tables)) return false;
    for (let j = 0; j < l.insns.length; j++) {
      const c = l.insns[j];
      if (!c.call || c.call.k !== 'direct') continue;
      const callee = c.call.rva;
      for (let a = 1; a <= MAX_ARGS; a++) {
        const at = backend.argLoc(a, c.sp, []);
        if (!at) continue;
        let slot = -1;
        for (const r of valuesAt(l, j, at, backend.abi)) {
          const p = engine.asAddress(r);
          if (p.k === 'cell' && handles.has(p.rva)) {
            if (slot === -1) slot = -2;
          } else if (p.k === 'addr' && tables.has(p.rva)) slot = tables.get(p.rva)!;
        }
        if (slot === -1) continue;
        const qs = this.dispatcherParams(callee, a, slot, u.param);
        let followed = false;
        for (let n = 0; n < qs.length && !followed; n++) followed = this.dispatchCall(l, j, fn, u, callee, qs[n], out);
        if (!followed) continue;
        any = true;
        break;
      }
    }
    return any;
  }

  /**
   * Whether any value the function writes may resolve to a handle's cell or a table's address:
   * a load of the cell, a load `[page + off]` at a handle's offset in its page (ARM64 `adrp` +
   * `ldr`, or any base), the table's address (`lea`, `adrp` + `add` at its offset in the page,
   * an x86 immediate VA). A flow-insensitive test on the written values, before any query.
   */
  private mayNameHandleOrTable(l: LoweredFunction, handles: ReadonlySet<number>, tables: ReadonlyMap<number, number>): boolean {
    const handleLow = new Set<number>();
    for (const h of handles) handleLow.add(h & 0xfff);
    const tableLow = new Set<number>();
    for (const t of tables.keys()) tableLow.add(t & 0xfff);
    const insns = l.insns;
    for (let i = 0; i < insns.length; i++) {
      const ws = insns[i].writes;
      for (let w = 1; w < ws.length; w += 2) if (this.namesHandleOrTable(ws[w] as Value, handles, tables, handleLow, tableLow)) return true;
    }
    return false;
  }

  private namesHandleOrTable(v: Value, handles: ReadonlySet<number>, tables: ReadonlyMap<number, number>, handleLow: ReadonlySet<number>, tableLow: ReadonlySet<number>): boolean {
    switch (v.k) {
      case 'load':
        return handles.has(v.rva) || tables.has(v.rva);
      case 'deref':
        return handleLow.has(v.disp & 0xfff) || tableLow.has(v.disp & 0xfff);
      case 'addr':
        return tables.has(v.rva) || tableLow.has(v.rva & 0xfff);
      case 'offset':
        return tableLow.has(v.disp & 0xfff) || handleLow.has(v.disp & 0xfff);
      case 'const': {
        const rva = this.backend.vaToRva(v.v);
        return rva !== null && (tables.has(rva) || handles.has(rva));
      }
      case 'either':
        return this.namesHandleOrTable(v.a, handles, tables, handleLow, tableLow) || this.namesHandleOrTable(v.b, handles, tables, handleLow, tableLow);
      default:
        return false;
    }
  }

  /** At the call `l.insns[j]` of `callee`, which passes argument `q` to the field user as its structure: the tag in that structure's field. */
  private dispatchCall(l: LoweredFunction, j: number, fn: CodeFunction, u: FieldUser, callee: number, q: number, out: Wrapper[]): boolean {
    const { backend, engine, rec } = this;
    const c = l.insns[j];
    const fnStart = fn.knownStart ? fn.start : null;
    const ptrLoc = backend.argLoc(q, c.sp, []);
    if (!ptrLoc) return false;
    const values: Resolved[] = [];
    let why = '';
    let structure = false;
    for (const r of valuesAt(l, j, ptrLoc, backend.abi)) {
      const cell = cellOf(engine.asAddress(r), u.disp);
      if (!cell) continue;
      structure = true;
      for (const v of valuesAt(l, j, cell, backend.abi)) {
        if (v.k === 'const' || v.k === 'param') values.push(v);
        else {
          const d = describe(v);
          if (!why.includes(d)) why = why ? `${why}; ${d}` : d;
        }
      }
    }
    const reading = readTag(values, backend.abi);
    if (reading.tags.length === 0 && (reading.params.length === 0 || fnStart === null)) {
      if (structure && this.missedAt < 0) {
        this.missedAt = c.rva;
        this.missedWhy = why;
      }
      return false;
    }
    rec.site(u.routine, c.rva, fn.start);
    rec.tags(u.routine, c.rva, fnStart, { ...reading, fields: [] }, { wrappers: [callee, u.start] }, 'struct-field');
    if (reading.params.length && fnStart !== null) {
      rec.forwarded(u.routine, c.rva);
      out.push({ start: fnStart, param: reading.params[0], routine: u.routine, chain: [callee, u.start], site: c.rva });
    }
    return true;
  }

  /** Why the field user at `start`, reached through a pointer, gave no tag (null: nothing found). */
  pointerNote(start: number): string | null {
    return this.pointerNotes.get(start) ?? null;
  }

  /** An indirect call through a pointer the image holds (a guard check routine's cell), not through a structure. */
  private guardCheck(l: LoweredFunction, k: number): boolean {
    const t = l.insns[k].call;
    if (!t || t.k !== 'value' || l.insns[k].tail) return false;
    const vs = valuesOf(l, k, t.value, this.backend.abi);
    return vs.length > 0 && vs.every((r) => (r.k === 'const' && r.via === 'memory') || (r.k === 'cell' && !this.backend.abi.isImportSlot(r.rva)));
  }

  /**
   * The parameters of `callee` that it passes as parameter `param` of an indirect call,
   * when its parameter `handleArg` is a handle (`slot` -2) or a table whose entry at `slot`
   * it calls through (one per such call: which call reaches the field user, the structure
   * passed at the caller tells).
   */
  private dispatcherParams(callee: number, handleArg: number, slot: number, param: number): readonly number[] {
    const key = `${callee}:${handleArg}:${slot}:${param}`;
    const known = this.dispatchers.get(key);
    if (known !== undefined) return known;
    const qs: number[] = [];
    const fn = this.backend.functionStartingAt(callee);
    if (fn) {
      const { backend } = this;
      const l = this.engine.decode(fn);
      for (let k = 0; k < l.insns.length; k++) {
        const t = l.insns[k].call;
        if (!t || t.k === 'direct') continue;
        // x64 Control Flow Guard: `call [__guard_dispatch_icall_fptr]` calls the target in rax.
        const guarded = t.k === 'mem' && backend.arch === 'x64' && !backend.abi.isImportSlot(t.rva);
        if (t.k === 'mem' && !guarded) continue;
        // ARM64 Control Flow Guard: `blr` of `__guard_check_icall_fptr` (which keeps the
        // argument registers and x15) right before `blr x15`: the values are read before the check.
        const at0 = t.k === 'value' && backend.arch === 'arm64' && k > 0 && this.guardCheck(l, k - 1) ? k - 1 : k;
        const target = t.k === 'value' ? valuesOf(l, at0, t.value, backend.abi) : valuesAt(l, k, GUARD_TARGET, backend.abi);
        // A table's entry: exactly that field of the table parameter. A handle: an object
        // reached through it, which the value analysis does not follow (no known target).
        const through =
          slot >= 0
            ? target.some((r) => r.k === 'field' && r.param === handleArg && r.disp === slot)
            : target.length > 0 && target.every((r) => r.k === 'unknown' || (r.k === 'field' && r.param === handleArg));
        if (!through) continue;
        const at = backend.argLoc(param, argSp(l.insns[k], backend.ptrSize), []);
        if (!at) continue;
        const vs = valuesAt(l, at0, at, backend.abi);
        // One parameter (the value analysis may add an unknown arm: a register it loses on some path).
        const ps = vs.filter((r) => r.k === 'param');
        if (ps.length !== 1 || ps.length + vs.filter((r) => r.k === 'unknown').length !== vs.length) continue;
        const n = (ps[0] as { n: number }).n;
        if (n !== handleArg && !qs.includes(n)) qs.push(n);
      }
    }
    this.dispatchers.set(key, qs);
    return qs;
  }

}

/** The stack pointer to read a call's arguments at: past the return address at an x86 tail jump (`jmp eax` with the caller's arguments in place). */
function argSp(insn: { sp: number | null; tail?: boolean }, ptrSize: number): number | null {
  return insn.tail && ptrSize === 4 && insn.sp !== null ? insn.sp + 4 : insn.sp;
}

/** The field at `disp` of the structure `p` points at, as a location: an image cell or a stack slot of this function. */
function cellOf(p: Resolved, disp: number): string | null {
  return p.k === 'addr' ? `m:${p.rva + disp}` : p.k === 'stack' ? slotLoc(p.off + disp) : null;
}

/** Two pointer value sets name the same structure (an image address, or a stack slot of this function). */
function samePointer(a: readonly Resolved[], b: readonly Resolved[]): boolean {
  return a.some((p) => b.some((q) => (p.k === 'addr' && q.k === 'addr' && p.rva === q.rva) || (p.k === 'stack' && q.k === 'stack' && p.off === q.off)));
}
