/**
 * Call sites: what a call of a tag-taking routine tells, and the record of every outcome.
 *
 * `readTag` turns the value set of a tag argument (`values.ts`) into the tags it can be,
 * the parameters of the enclosing function it can come from (which make that function a
 * wrapper, `wrappers.ts`), and the reasons for the arms that are neither. `SiteRecorder`
 * collects the outcomes: evidence, one record per possible tag, and unresolved sites with
 * their reasons; each call site ends with one outcome (a resolved one wins over an
 * unresolved one found from another window of code).
 */
import type { Routine } from '../../tag/routines.js';
import { Tag } from '../../tag/tag.js';
import type { AbiInfo, Resolved } from '../ir.js';
import type { Arch } from '../../pe/types.js';
import type { ArgumentValues, Confidence, Evidence, ExtractionResult, Recovery } from '../types.js';

/** One tag a call site can pass. */
export interface PossibleTag {
  value: number;
  recovery: Recovery;
}

/** What the value set of a tag argument says. */
export interface TagReading {
  tags: PossibleTag[];
  /** Parameters of the enclosing function that reach the argument on some path. */
  params: number[];
  /** Why the other arms give no tag. */
  reasons: string[];
  /** Fields of a structure a parameter points at (`c->Tag`): set by whoever made the structure. */
  fields: { param: number; disp: number }[];
}

/** Read the tag argument's value set. A writable global gives its initial value in the file. */
export function readTag(values: readonly Resolved[], abi: AbiInfo): TagReading {
  const out: TagReading = { tags: [], params: [], reasons: [], fields: [] };
  for (const r of values) {
    if (r.k === 'const') out.tags.push({ value: r.v >>> 0, recovery: r.via });
    else if (r.k === 'param') out.params.push(r.n);
    else if (r.k === 'field') {
      out.fields.push({ param: r.param, disp: r.disp });
      out.reasons.push(describe(r));
    }
    else if (r.k === 'cell' && !abi.isImportSlot(r.rva)) {
      const v = abi.readImage(r.rva, 4);
      if (v) out.tags.push({ value: v >>> 0, recovery: abi.isWritable(r.rva) ? 'initial-value' : 'memory' });
      else out.reasons.push(`a global at 0x${r.rva.toString(16)} that is 0 in the file (set at run time)`);
    } else out.reasons.push(describe(r));
  }
  // One record per distinct tag (two arms may set the same one).
  const seen = new Set<number>();
  out.tags = out.tags.filter((t) => !seen.has(t.value) && (seen.add(t.value), true));
  return out;
}

/** What the value set of a pool or size argument says (the tag's rules, `readTag`). */
export interface ArgReading {
  /** Distinct constants (64-bit values kept: POOL_FLAGS has bits above 31). */
  values: number[];
  /** Parameters of the enclosing function that reach the argument (a wrapper's callers pass them). */
  params: number[];
  reasons: string[];
}

/** The most constants an argument keeps: "a few constants", like a tag's alternatives. */
export const MAX_ARGUMENT_VALUES = 16;

/** Read a pool or size argument's value set. A writable global gives its initial value in the file. */
export function readArgument(values: readonly Resolved[], abi: AbiInfo): ArgReading {
  const out: ArgReading = { values: [], params: [], reasons: [] };
  for (const r of values) {
    if (r.k === 'const') out.values.push((r.v >>> 0) + (r.hi ? (r.hi >>> 0) * 0x1_0000_0000 : 0));
    else if (r.k === 'param') out.params.push(r.n);
    else if (r.k === 'cell' && !abi.isImportSlot(r.rva)) {
      const v = abi.readImage(r.rva, 4);
      if (v !== null) out.values.push(v >>> 0);
      else out.reasons.push(describe(r));
    } else out.reasons.push(describe(r));
  }
  out.values = [...new Set(out.values)].sort((a, b) => a - b);
  return out;
}

/** A reading as evidence: the constants, and the reason for the other arms (parameters left are a caller's). */
export function argumentValues(reading: ArgReading): ArgumentValues {
  const reasons = [...new Set([...reading.params.map((n) => `parameter ${n} of the function (its callers pass it)`), ...reading.reasons])];
  let values = reading.values;
  if (values.length > MAX_ARGUMENT_VALUES) {
    reasons.push(`${values.length} values, the first ${MAX_ARGUMENT_VALUES} kept`);
    values = values.slice(0, MAX_ARGUMENT_VALUES);
  }
  return reasons.length ? { values, unknown: reasons.join('; ') } : { values };
}

export function describe(r: Resolved): string {
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
    case 'field':
      return `field +0x${r.disp.toString(16)} of the structure parameter ${r.param} points at`;
    case 'const':
      return `0x${r.v.toString(16)}`;
  }
}

const HIGH: ReadonlySet<Recovery> = new Set(['immediate', 'register-copy', 'stack-slot', 'memory', 'shared']);

/** Collects the outcome of every call site of one image. */
export class SiteRecorder {
  readonly evidence: Evidence[] = [];
  private readonly unresolvedSites: ExtractionResult['unresolved'] = [];
  private readonly seen = new Set<string>();
  /** `routine:callSiteRva` of every call site seen, and of those that had an outcome other than "unresolved". */
  readonly sites = new Set<string>();
  private readonly resolvedSites = new Set<string>();
  /** Functions (start RVA) with a call site of each routine: what the candidate check asks. */
  private readonly siteFunctions = new Map<string, Set<number>>();

  constructor(private readonly arch: Arch) {}

  /** A call site of `routine` seen in the function at `fnStart` (its window start when the start is unknown). */
  site(routine: Routine, callSiteRva: number, fnStart: number): void {
    this.sites.add(`${routine.name}:${callSiteRva}`);
    let s = this.siteFunctions.get(routine.name);
    if (!s) this.siteFunctions.set(routine.name, (s = new Set()));
    s.add(fnStart);
  }

  /** The function at `fnStart` uses `routine`'s address otherwise than by calling it (stores it): its reference is accounted for. */
  uses(routine: Routine, fnStart: number): void {
    let s = this.siteFunctions.get(routine.name);
    if (!s) this.siteFunctions.set(routine.name, (s = new Set()));
    s.add(fnStart);
  }

  /** Was a call site of `routine` seen in the function at `fnStart`? */
  hasSiteIn(routine: Routine, fnStart: number): boolean {
    return this.siteFunctions.get(routine.name)?.has(fnStart) ?? false;
  }

  /** The call site forwards a parameter (its function is a wrapper): an outcome, not a loss. */
  forwarded(routine: Routine, callSiteRva: number): void {
    this.resolvedSites.add(`${routine.name}:${callSiteRva}`);
  }

  /**
   * The wrapper (or field user) the call site made led to no caller after all: the site is
   * unresolved, with `reason` in place of what its own reading said.
   */
  unforwarded(routine: Routine, callSiteRva: number, functionRva: number | null, reason: string): void {
    this.resolvedSites.delete(`${routine.name}:${callSiteRva}`);
    const known = this.unresolvedSites.find((u) => u.routine === routine.name && u.callSiteRva === callSiteRva);
    if (known) known.reason = reason;
    else this.unresolved(routine, callSiteRva, functionRva, reason);
  }

  /** Has the call site of `routine` at `callSiteRva` given an evidence record? */
  hasEvidenceAt(routine: Routine, callSiteRva: number): boolean {
    return this.evidence.some((e) => e.routine === routine.name && e.callSiteRva === callSiteRva);
  }

  /**
   * The tags of one call site. Several possible tags give one record each, marked with
   * `alternatives`; any arm that gives no tag (a parameter, an unknown) makes the ones
   * found medium confidence too.
   */
  tags(routine: Routine, callSiteRva: number, functionRva: number | null, reading: TagReading, extra: Partial<Evidence> = {}, recoveryOverride?: Recovery): void {
    this.resolvedSites.add(`${routine.name}:${callSiteRva}`);
    const n = reading.tags.length;
    const alone = n === 1 && reading.params.length === 0 && reading.reasons.length === 0;
    for (const t of reading.tags) {
      // A free with tag 0 (`ExFreePoolWithTag(p, 0)`, what the ExFreePool macro expands to)
      // means "no tag check": it names no tag, and must not read as the tag 0x00000000.
      if (routine.action === 'free' && t.value >>> 0 === 0) continue;
      const recovery = recoveryOverride ?? t.recovery;
      const confidence: Confidence = alone && HIGH.has(recovery) ? 'high' : 'medium';
      this.push(t.value, routine, callSiteRva, functionRva, recovery, confidence, { ...extra, ...(n > 1 ? { alternatives: n } : {}) });
    }
    if (n === 0 && reading.params.length === 0) this.unresolved(routine, callSiteRva, functionRva, reading.reasons.join('; ') || 'no value reaches the argument');
  }

  /** A routine that takes no tag: the kernel charges a shared tag. */
  shared(routine: Routine, callSiteRva: number, functionRva: number | null, ulong: number, extra: Partial<Evidence> = {}): void {
    this.resolvedSites.add(`${routine.name}:${callSiteRva}`);
    this.push(ulong, routine, callSiteRva, functionRva, 'shared', 'high', { shared: true, ...extra });
  }

  unresolved(routine: Routine, callSiteRva: number, functionRva: number | null, reason: string): void {
    const key = `u:${routine.name}:${callSiteRva}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.unresolvedSites.push({ routine: routine.name, callSiteRva, functionRva, reason });
  }

  private push(tagValue: number, routine: Routine, callSiteRva: number, functionRva: number | null, recovery: Recovery, confidence: Confidence, extra: Partial<Evidence>): void {
    const tag = Tag.fromUlong(tagValue >>> 0);
    const key = `${tag.ulong}:${routine.name}:${callSiteRva}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.evidence.push({
      tag: tag.display,
      ulong: '0x' + (tag.ulong >>> 0).toString(16).padStart(8, '0'),
      protected: tag.protected,
      kind: routine.kind,
      routine: routine.name,
      module: routine.module,
      callSiteRva,
      functionRva,
      arch: this.arch,
      recovery,
      confidence,
      ...extra,
    });
  }

  /** Evidence in call-site order, and the sites that stayed unresolved. */
  finish(): Pick<ExtractionResult, 'evidence' | 'unresolved'> {
    const evidence = this.evidence.sort((a, b) => a.callSiteRva - b.callSiteRva || a.routine.localeCompare(b.routine) || a.ulong.localeCompare(b.ulong));
    const unresolved = this.unresolvedSites.filter((u) => !this.resolvedSites.has(`${u.routine}:${u.callSiteRva}`));
    unresolved.sort((a, b) => a.callSiteRva - b.callSiteRva);
    return { evidence, unresolved };
  }
}
