/**
 * The "extract evidence" stage: what one image tells about the pool tags it uses.
 * Plain data, JSON-serialisable, so that it crosses worker threads and lands in reports.
 */
import type { Arch } from '../pe/types.js';

/** What kind of tag a routine takes. Object-reference tags are never mixed with pool tags. */
export type TagKind = 'pool' | 'object' | 'mapping' | 'removelock';

/** How the tag value was recovered. */
export type Recovery =
  /** An immediate moved straight into the argument register or stack slot. */
  | 'immediate'
  /** An immediate that reached the argument through other registers (e.g. a callee-saved one). */
  | 'register-copy'
  /** An immediate stored into a stack slot (pushed, or `mov [esp+k]`) or spilled and reloaded. */
  | 'stack-slot'
  /** A constant loaded from the image (an ARM64 literal pool, a read-only global). */
  | 'memory'
  /** The initial value of a writable global, read from the file (`ULONG g_Tag = 'naix';`): run time may change it. */
  | 'initial-value'
  /** The literal sits at a call of an in-image wrapper that forwards its parameter. */
  | 'wrapper'
  /** A KMDF call through the WdfFunctions table with a constant index. */
  | 'function-table'
  /** A PoolTag field of a parameters struct stored just before the call (NDIS pools). */
  | 'struct-field'
  /** A routine that takes no tag: the kernel charges a shared tag (`None`, `NDam`). */
  | 'shared'
  /** A tag-like 4-character string in the image. */
  | 'string'
  /** The bytes occur somewhere in the image (what `findstr` finds). */
  | 'raw-bytes';

export type Confidence = 'high' | 'medium' | 'low';

export interface TagValue {
  /** Display form: memory order, non-printables as `.`, padded to 4 with spaces. */
  tag: string;
  /** The ULONG in hex as the C literal's value, `0x6b50684b`; PROTECTED_POOL kept. */
  ulong: string;
  /** PROTECTED_POOL (bit 31) was set at the call site. */
  protected: boolean;
}

export interface Evidence extends TagValue {
  kind: TagKind;
  /** The tag-taking routine (import name, or KMDF/NDIS routine name). */
  routine: string;
  /** Module that exports the routine, lower case (`ntoskrnl.exe`). */
  module: string;
  /** RVA of the call instruction that passes the tag (for wrappers: the call of the wrapper). */
  callSiteRva: number;
  /** Start RVA of the function holding the call site, when known. */
  functionRva: number | null;
  arch: Arch;
  recovery: Recovery;
  confidence: Confidence;
  /** The in-image wrapper chain the tag passed through, outermost first. */
  wrappers?: number[];
  /** Shared tags name many drivers at once. */
  shared?: boolean;
  /** KMDF table index, when recovered through WdfFunctions. */
  tableIndex?: number;
  /** The call site can pass this many different tags (branches, conditional moves); this is one. */
  alternatives?: number;
  /** The pool the allocation asks for (allocations and lookaside lists; absent for other routines). */
  pool?: PoolArgument;
  /** The requested size in bytes (a lookaside list's entry size). */
  size?: ArgumentValues;
}

/**
 * The value set of an allocation's pool or size argument, with the tag's confidence rules:
 * one constant, a few constants, or none, with the reason for the arms that give none.
 */
export interface ArgumentValues {
  /** The constants the argument can hold, ascending (at most `MAX_ARGUMENT_VALUES`). */
  values: number[];
  /** Why some arms (every arm, when `values` is empty) give no constant. */
  unknown?: string;
}

export interface PoolArgument extends ArgumentValues {
  /** POOL_TYPE values, or POOL_FLAGS bits (ExAllocatePool2/3). */
  encoding: 'pool-type' | 'pool-flags';
  /** Each value by name, in the order of `values`: `NonPagedPoolNx`, `POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED`. */
  names: string[];
  /** The routine always uses this pool (NDIS, StorPort, the lookaside lists' own pool): not an argument. */
  fixed?: boolean;
}

export interface ClassifiedString {
  kind: string;
  text: string;
  offset: number;
  encoding: 'ascii' | 'utf16';
}

export interface ExtractionStats {
  /** Functions decoded because they held candidate call sites. */
  functionsDecoded: number;
  /** Call sites of tag-taking routines found (resolved or not). */
  callSites: number;
  /** Call sites whose tag could not be recovered. */
  unresolved: number;
  wrappers: number;
  /** References to a tag routine's import slot or thunk that the byte prefilter found in code. */
  candidates?: number;
  /** Those the analysis reached; each other one is an unresolved entry with its reason. */
  candidatesAnalysed?: number;
  ms: number;
}

export interface ExtractionResult {
  arch: Arch;
  evidence: Evidence[];
  /** Call sites of tag-taking routines whose tag was not recovered, for analysts. */
  unresolved: { routine: string; callSiteRva: number; functionRva: number | null; reason: string }[];
  strings: ClassifiedString[];
  stats: ExtractionStats;
}
