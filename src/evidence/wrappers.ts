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
}

/** The wrapper a call site makes of its function, if its tag argument is one of the function's parameters. */
export function inferWrapper(reading: TagReading, fnStart: number | null, routine: Routine, innerChain: readonly number[], site: number, args?: WrapperArgs): Wrapper | null {
  if (fnStart === null || reading.params.length === 0) return null;
  return { start: fnStart, param: reading.params[0], routine, chain: [...innerChain], site, ...(args ? { args } : {}) };
}
