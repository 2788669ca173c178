/**
 * The call-site engine: one algorithm over per-architecture backends (capa-style).
 *
 *  1. Targets: the IAT slots of imported tag-taking routines (data/routines.json).
 *  2. A byte prefilter finds code that references a target (RIP-relative or absolute
 *     operands, direct calls, ARM64 adrp pages and bl) and so the functions worth decoding.
 *  3. Those functions are decoded and lowered into the IR (`ir.ts`); every call or tail
 *     jump whose target resolves to a routine is a call site, and the tag argument is
 *     resolved backwards from it.
 *  4. A tag that resolves to a parameter of its function makes that function a wrapper:
 *     its start becomes a new target and its callers are searched the same way, until
 *     nothing new turns up (wrappers of wrappers).
 *  5. KMDF: the WdfFunctions table (found through WdfVersionBind's bind info) is a target
 *     cell; calls through `[table + 8*index]` are calls of KMDF functions.
 */
import type { PeImage } from '../pe/types.js';
import { loadRoutines, type Routine } from '../tag/routines.js';
import { Tag } from '../tag/tag.js';
import type { Backend, CodeFunction } from './backend.js';
import { resolve, resolveValue, type LoweredFunction, type Resolved } from './ir.js';
import type { Evidence, ExtractionResult, Recovery } from './types.js';

/** What a call resolves to. */
type Callee =
  | { k: 'routine'; routine: Routine }
  /** An in-image function that forwards its parameter `param` into a routine's tag. */
  | { k: 'wrapper'; wrapper: Wrapper };

interface Wrapper {
  start: number;
  /** Parameter of the wrapper that carries the tag (1-based). */
  param: number;
  routine: Routine;
  /** Inner wrappers, outermost first, not counting this one. */
  chain: number[];
}

const MAX_ROUNDS = 6;

export function findCallSiteEvidence(image: PeImage, backend: Backend): Pick<ExtractionResult, 'evidence' | 'unresolved'> & { functionsDecoded: number; callSites: number; wrappers: number } {
  const table = loadRoutines();
  const evidence: Evidence[] = [];
  const unresolved: ExtractionResult['unresolved'] = [];
  const seen = new Set<string>();
  /** `routine:callSiteRva` of every call site seen, and of those whose tag was recovered. */
  const sites = new Set<string>();
  const resolvedSites = new Set<string>();

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
  if (slotRoutine.size === 0 && kmdfBindSlot === null) return { evidence, unresolved, functionsDecoded: 0, callSites: 0, wrappers: 0 };

  /** Direct-call targets: import thunks and wrappers. */
  const thunks = new Map<number, Routine>();
  const wrappers = new Map<number, Wrapper>();
  /** Cells whose loaded pointer is a function table (KMDF WdfFunctions). */
  const tableCells = new Set<number>();
  const decoded = new Map<number, LoweredFunction>();

  const decode = (fn: CodeFunction): LoweredFunction => {
    let l = decoded.get(fn.start);
    if (!l) {
      l = backend.lower(fn);
      decoded.set(fn.start, l);
    }
    return l;
  };

  function calleeOf(l: LoweredFunction, i: number): { callee: Callee; tableIndex?: number } | null {
    const insn = l.insns[i];
    const t = insn.call!;
    const r: Resolved =
      t.k === 'mem' ? { k: 'cell', rva: t.rva } : t.k === 'direct' ? { k: 'addr', rva: t.rva } : resolveValue(l, i, t.value, backend.abi);
    if (r.k === 'cell') {
      const routine = slotRoutine.get(r.rva);
      if (routine) return { callee: { k: 'routine', routine } };
      return null;
    }
    if (r.k === 'addr' || r.k === 'const') {
      const rva = r.k === 'addr' ? r.rva : backend.vaToRva(r.v);
      if (rva === null) return null;
      const th = thunks.get(rva);
      if (th) return { callee: { k: 'routine', routine: th } };
      const w = wrappers.get(rva);
      if (w) return { callee: { k: 'wrapper', wrapper: w } };
      return null;
    }
    if (r.k === 'table' && tableCells.has(r.cell) && r.disp >= 0 && r.disp % backend.ptrSize === 0) {
      const index = r.disp / backend.ptrSize;
      const routine = table.kmdfByIndex.get(index);
      if (routine) return { callee: { k: 'routine', routine }, tableIndex: index };
    }
    return null;
  }

  function addEvidence(tagValue: number, routine: Routine, callSiteRva: number, functionRva: number | null, recovery: Recovery, extra: Partial<Evidence> = {}): void {
    // A free with tag 0 (`ExFreePoolWithTag(p, 0)`, what the ExFreePool macro expands to)
    // means "no tag check": it names no tag, and must not read as the tag 0x00000000.
    resolvedSites.add(`${routine.name}:${callSiteRva}`);
    if (routine.action === 'free' && tagValue >>> 0 === 0) return;
    const tag = Tag.fromUlong(tagValue >>> 0);
    const key = `${tag.ulong}:${routine.name}:${callSiteRva}`;
    if (seen.has(key)) return;
    seen.add(key);
    const confidence = recovery === 'immediate' || recovery === 'register-copy' || recovery === 'stack-slot' || recovery === 'memory' ? 'high' : recovery === 'shared' ? 'high' : 'medium';
    evidence.push({
      tag: tag.display,
      ulong: '0x' + (tag.ulong >>> 0).toString(16).padStart(8, '0'),
      protected: tag.protected,
      kind: routine.kind,
      routine: routine.name,
      module: routine.module,
      callSiteRva,
      functionRva,
      arch: backend.arch,
      recovery,
      confidence,
      ...extra,
    });
  }

  function unresolvedAt(routine: Routine, callSiteRva: number, functionRva: number | null, reason: string): void {
    const key = `u:${routine.name}:${callSiteRva}`;
    if (seen.has(key)) return;
    seen.add(key);
    unresolved.push({ routine: routine.name, callSiteRva, functionRva, reason });
  }

  /** Handle one call of a routine (directly or through wrappers). Returns a new wrapper, if any. */
  function handleCall(l: LoweredFunction, i: number, fnStart: number | null, callee: Callee, tableIndex: number | undefined): Wrapper | null {
    const insn = l.insns[i];
    const routine = callee.k === 'routine' ? callee.routine : callee.wrapper.routine;
    const chain = callee.k === 'wrapper' ? [callee.wrapper.start, ...callee.wrapper.chain] : undefined;
    sites.add(`${routine.name}:${insn.rva}`);
    const conv = callee.k === 'routine' ? routine.x86Convention : 'stdcall';
    const at = (n: number, wide: readonly number[] = []) => backend.argLoc(n, insn.sp, wide, conv);

    if (callee.k === 'routine') {
      if (routine.condition) {
        const loc = at(routine.condition.arg, routine.x86WideArgs);
        const c = loc ? resolve(l, i, loc, backend.abi) : null;
        if (!c || c.k !== 'const' || c.v !== routine.condition.equals) return null; // another function code
      }
      if (routine.sharedTag) {
        addEvidence(routine.sharedTag.ulong, routine, insn.rva, fnStart, 'shared', { shared: true });
        return null;
      }
      if (routine.tagStruct) {
        const st = table.structs.get(routine.tagStruct.struct);
        const loc = at(routine.tagStruct.arg, routine.x86WideArgs);
        const p = loc ? asAddress(resolve(l, i, loc, backend.abi)) : null;
        if (!st || !st.tagField || !p) return null;
        const fieldOff = st.offset[backend.arch as 'x86' | 'x64' | 'arm64'];
        if (p.k === 'stack') {
          const v = resolve(l, i, `s:${p.off + fieldOff}`, backend.abi);
          if (v.k === 'const') addEvidence(v.v, routine, insn.rva, fnStart, 'struct-field');
          else unresolvedAt(routine, insn.rva, fnStart, `${st.name}.${st.tagField}: ${describe(v)}`);
        } else if (p.k === 'addr') {
          const v = backend.abi.readImage(p.rva + fieldOff, 4);
          if (v) addEvidence(v, routine, insn.rva, fnStart, 'struct-field');
        } else {
          unresolvedAt(routine, insn.rva, fnStart, `${st.name} pointer: ${describe(p)}`);
        }
        return null;
      }
    }
    if (routine.tagArg === null) return null;
    const argN = callee.k === 'routine' ? routine.tagArg : callee.wrapper.param;
    const wide = callee.k === 'routine' ? routine.x86WideArgs : [];
    const loc = at(argN, wide);
    const v = loc ? resolve(l, i, loc, backend.abi) : ({ k: 'unknown', why: 'stack pointer unknown at the call' } as Resolved);
    if (v.k === 'const') {
      const recovery: Recovery = callee.k === 'wrapper' ? 'wrapper' : tableIndex !== undefined ? 'function-table' : v.via;
      addEvidence(v.v, routine, insn.rva, fnStart, recovery, {
        ...(chain ? { wrappers: chain } : {}),
        ...(tableIndex !== undefined ? { tableIndex } : {}),
      });
      return null;
    }
    if (v.k === 'param' && fnStart !== null && !wrappers.has(fnStart) && !thunks.has(fnStart)) {
      return { start: fnStart, param: v.n, routine, chain: chain ?? [] };
    }
    if (v.k !== 'param') unresolvedAt(routine, insn.rva, fnStart, describe(v));
    return null;
  }

  // 2-4. Rounds: find functions referencing the current targets, decode, resolve.
  let targets = new Set<number>(slotRoutine.keys());
  if (kmdfBindSlot !== null) targets.add(kmdfBindSlot);
  const scannedTargets = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS && targets.size > 0; round++) {
    for (const t of targets) scannedTargets.add(t);
    const found = backend.findReferences(targets);
    // Thunks first, so that calls to them resolve in this round.
    for (const th of found.thunks) {
      const r = slotRoutine.get(th.slot);
      if (r) thunks.set(th.rva, r);
    }
    const extraTargets = new Set<number>(found.thunks.map((t) => t.rva).filter((t) => !scannedTargets.has(t)));
    const moreFns = extraTargets.size ? backend.findReferences(extraTargets).functions : [];
    for (const t of extraTargets) scannedTargets.add(t);

    const newWrappers: Wrapper[] = [];
    for (const fn of [...found.functions, ...moreFns]) {
      const l = decode(fn);
      for (let i = 0; i < l.insns.length; i++) {
        if (!l.insns[i].call) continue;
        // KMDF: WdfVersionBind(DriverObject, RegistryPath, &BindInfo, &Globals) tells the table cell.
        if (kmdfBindSlot !== null && !tableCells.size) findKmdfTable(l, i);
        const c = calleeOf(l, i);
        if (!c) continue;
        const w = handleCall(l, i, fn.knownStart ? fn.start : null, c.callee, c.tableIndex);
        if (w) newWrappers.push(w);
      }
    }
    targets = new Set();
    for (const w of newWrappers) {
      if (!wrappers.has(w.start)) {
        wrappers.set(w.start, w);
        if (!scannedTargets.has(w.start)) targets.add(w.start);
      }
    }
    // A KMDF table found this round: search its users next round.
    for (const cell of tableCells) if (!scannedTargets.has(cell)) targets.add(cell);
    // The next round searches the callers of the new wrappers and the users of the table;
    // functions decoded before are reused from `decoded` (and `seen` drops repeats).
    if (targets.size === 0) break;
  }

  /** x86 code pushes addresses as immediates: a constant that is an image VA is an address. */
  function asAddress(r: Resolved): Resolved {
    if (r.k !== 'const' || backend.ptrSize !== 4) return r;
    const rva = backend.vaToRva(r.v);
    return rva === null ? r : { k: 'addr', rva };
  }

  function findKmdfTable(l: LoweredFunction, i: number): void {
    const insn = l.insns[i];
    const t = insn.call!;
    const r: Resolved = t.k === 'mem' ? { k: 'cell', rva: t.rva } : t.k === 'value' ? resolveValue(l, i, t.value, backend.abi) : { k: 'unknown', why: '' };
    if (!(r.k === 'cell' && r.rva === kmdfBindSlot)) return;
    // WDF_BIND_INFO { ULONG Size; PWCHAR Component; WDF_VERSION Version (3 ULONGs); ULONG FuncCount; PWDFFUNC *FuncTable; ... }
    const funcTableOff = backend.ptrSize === 8 ? 32 : 24;
    const loc = backend.argLoc(3, insn.sp, []);
    const p = loc ? asAddress(resolve(l, i, loc, backend.abi)) : null;
    if (!p) return;
    if (p.k === 'addr') {
      const cell = backend.readPointerRva(p.rva + funcTableOff);
      if (cell !== null) tableCells.add(cell);
    } else if (p.k === 'stack') {
      const v = resolve(l, i, `s:${p.off + funcTableOff}`, backend.abi);
      if (v.k === 'addr') tableCells.add(v.rva);
    }
  }

  evidence.sort((a, b) => a.callSiteRva - b.callSiteRva || a.routine.localeCompare(b.routine));
  // One outcome per call site: a call decoded from two overlapping windows (x86 has no
  // `.pdata`) may resolve in one and not in the other; the resolved outcome wins.
  const open = unresolved.filter((u) => !resolvedSites.has(`${u.routine}:${u.callSiteRva}`));
  open.sort((a, b) => a.callSiteRva - b.callSiteRva);
  return { evidence, unresolved: open, functionsDecoded: decoded.size, callSites: sites.size, wrappers: wrappers.size };
}

function normaliseModule(m: string): string {
  // Import tables sometimes omit the extension or use ntkrnlpa/ntkrnlmp names.
  const lower = m.toLowerCase();
  if (/^(ntoskrnl|ntkrnlpa|ntkrnlmp|ntkrpamp)(\.exe)?$/.test(lower)) return 'ntoskrnl.exe';
  if (!lower.includes('.')) return lower + '.sys';
  return lower;
}

function describe(r: Resolved): string {
  switch (r.k) {
    case 'unknown':
      return r.why;
    case 'param':
      return `parameter ${r.n} of the function`;
    case 'cell':
      return `a value loaded from 0x${r.rva.toString(16)} at run time`;
    case 'table':
      return `a value read through a table at 0x${r.cell.toString(16)}`;
    case 'cellptr':
      return `a pointer computed from 0x${r.cell.toString(16)} at run time`;
    case 'addr':
      return `an address (0x${r.rva.toString(16)}), not a constant`;
    case 'stack':
      return 'the address of a stack variable';
    case 'const':
      return `0x${r.v.toString(16)}`;
  }
}
