/**
 * Wrapper inference: an in-image function that forwards one of its parameters into a
 * routine's tag argument is a wrapper (`MyAlloc(size, tag)`), and its callers' literals
 * are the tags. The parameter may reach the routine on any arm: MSVC's debug override
 * (`tag = g_Override ? g_Override : tag`, a `cmov`) still forwards it, and the other arm,
 * a global that is 0 in the file, is no tag.
 *
 * Wrappers of wrappers chain: a call of a wrapper whose tag argument is again a parameter
 * makes the caller a wrapper too, with the inner wrappers in `chain`.
 */
import type { Routine } from '../tag/routines.js';
import type { ArgReading, TagReading } from './sites/outcomes.js';

/** The pool and size arguments at a wrapper's inner call, in terms of the wrapper's parameters. */
export interface WrapperArgs {
  pool?: ArgReading;
  size?: ArgReading;
}

export interface Wrapper {
  /** Entry RVA of the wrapper function. */
  start: number;
  /** Parameter of the wrapper that carries the tag (1-based). */
  param: number;
  routine: Routine;
  /** Inner wrappers, outermost first, not counting this one. */
  chain: number[];
  /** The call in the wrapper that forwards the parameter (to the routine, or to the inner wrapper). */
  site: number;
  /** The allocation's pool and size there: constants, or parameters its callers pass. */
  args?: WrapperArgs;
  /**
   * The other routines the same function forwards a parameter to (`Create(size, tag)`
   * allocating with the tag and initialising a lookaside list with it): one wrapper each,
   * with the same start; a call of the function is a call of each.
   */
  also?: Wrapper[];
}

/** Add `w` to the wrappers known by start: a new one, or one more routine of a known wrapper. Returns whether it is new. */
export function addWrapper(wrappers: Map<number, Wrapper>, w: Wrapper): boolean {
  const known = wrappers.get(w.start);
  if (!known) {
    wrappers.set(w.start, w);
    return true;
  }
  if (sameForwarding(known, w)) return false;
  const also = (known.also ??= []);
  for (let k = 0; k < also.length; k++) if (sameForwarding(also[k], w)) return false;
  also.push(w);
  return false;
}

function sameForwarding(a: Wrapper, b: Wrapper): boolean {
  return a.routine === b.routine && a.param === b.param;
}

/** The wrapper a call site makes of its function, if its tag argument is one of the function's parameters. */
export function inferWrapper(reading: TagReading, fnStart: number | null, routine: Routine, innerChain: readonly number[], site: number, args?: WrapperArgs): Wrapper | null {
  if (fnStart === null || reading.params.length === 0) return null;
  return { start: fnStart, param: reading.params[0], routine, chain: [...innerChain], site, ...(args ? { args } : {}) };
}
