import type { AddressMap } from './address.js';
import { PeFormatError } from './errors.js';
import type { PeIssue } from './types.js';

/**
 * Bounded walker of the resource directory (data directory 2).
 *
 * The tree is IMAGE_RESOURCE_DIRECTORY nodes three levels deep:
 *   type (RT_*) -> name/id -> language -> IMAGE_RESOURCE_DATA_ENTRY
 * Every offset inside the tree (subdirectories, names, data entries) is relative to the
 * start of the directory; only the data entries' OffsetToData is an RVA.
 *
 * Why our own walker: pe-library's `NtExecutableResource.from()` (which resedit uses)
 * throws "After Resource section, sections except for relocation are not supported"
 * when any section other than `.reloc` follows the resource section, which is common
 * in drivers (INIT, PAGE, .data after .rsrc, ...). This walker never looks at the
 * section order: it maps the directory's RVA range through `AddressMap` and stays
 * inside it.
 *
 * Hostile input handling (nothing here can loop or recurse without bound):
 *  - each subdirectory is walked at most once (a `visited` set): an offset pointing
 *    back at the root or at an ancestor is reported, not followed;
 *  - depth is fixed at 3: a subdirectory below the language level, or a data entry
 *    above it, is reported and skipped;
 *  - a directory whose entry count does not fit in the directory is cut to what fits;
 *  - names must lie inside the directory;
 *  - a data entry whose RVA/size is not all backed by file bytes is kept with
 *    `offset: null` and a `problem`, so callers skip it;
 *  - a hard cap on the total number of entries visited.
 * Fatal problems (the directory itself is not in the file) throw
 * `PeFormatError('resources', ...)` with a file offset (or an RVA when there is none);
 * everything else is pushed to `issues` and the rest of the tree is still read.
 */

/** RT_VERSION: the VS_VERSIONINFO resource type. */
export const RT_VERSION = 16;

/** Size of IMAGE_RESOURCE_DIRECTORY and of IMAGE_RESOURCE_DATA_ENTRY. */
const DIR_HEADER = 16;
const DATA_ENTRY = 16;
/** Size of IMAGE_RESOURCE_DIRECTORY_ENTRY. */
const DIR_ENTRY = 8;
/** type -> name -> language. */
const MAX_DEPTH = 3;
/** Total directory entries visited; real drivers have tens, huge GUI DLLs a few thousand. */
const MAX_ENTRIES = 65536;
const HIGH_BIT = 0x80000000;

export interface ResourceEntry {
  /** RT_* id, or the type's name when it is named. */
  type: number | string;
  /** Resource id or name. */
  name: number | string;
  /** LANGID (e.g. 0x0409); 0 is language-neutral. */
  lang: number;
  /** IMAGE_RESOURCE_DATA_ENTRY.OffsetToData (an RVA). */
  dataRva: number;
  size: number;
  /** IMAGE_RESOURCE_DATA_ENTRY.CodePage (usually 0). */
  codepage: number;
  /** File offset of the data; null when its `size` bytes are not all in the file. */
  offset: number | null;
  /** Why `offset` is null (also pushed to `issues`). */
  problem?: string;
}

/**
 * List every leaf of the resource tree at `dirRva` (`dirSize` bytes), in file order.
 * Non-fatal problems are appended to `issues` (part `resources`, file offsets).
 */
export function listResources(buf: Buffer, map: AddressMap, dirRva: number, dirSize: number, issues: PeIssue[] = []): ResourceEntry[] {
  if (dirRva === 0 || dirSize === 0) return [];
  const found = map.rvaToOffset(dirRva, DIR_HEADER);
  if (found === null || found + DIR_HEADER > buf.length) {
    throw new PeFormatError('resources', `resource directory (${dirSize} bytes) is not backed by file data`, dirRva, true);
  }
  const start: number = found; // file offset of the directory; every tree offset is relative to it
  if (dirSize < DIR_HEADER) {
    throw new PeFormatError('resources', `resource directory is ${dirSize} bytes, smaller than its ${DIR_HEADER}-byte header`, start);
  }
  const len = mappedLength(buf, map, dirRva, dirSize);
  const issue = (message: string, rel: number): void => {
    issues.push({ part: 'resources', message: `resources: ${message}`, offset: start + rel });
  };
  if (len < dirSize) {
    issue(`directory claims ${dirSize} bytes but only ${len} are in the file; reading those`, 0);
  }

  // All reads below are relative to `start` and checked against `len` first.
  const u16 = (rel: number): number => buf.readUInt16LE(start + rel);
  const u32 = (rel: number): number => buf.readUInt32LE(start + rel);

  const out: ResourceEntry[] = [];
  const visited = new Set<number>();
  let budget = MAX_ENTRIES;

  /** Entry id: a number, or a length-prefixed UTF-16 name inside the directory. */
  function readId(field: number, at: number): number | string | null {
    if ((field & HIGH_BIT) === 0) return field;
    const rel = field & ~HIGH_BIT;
    if (rel + 2 > len) {
      issue(`entry name at +0x${rel.toString(16)} is outside the directory`, at);
      return null;
    }
    const chars = u16(rel);
    if (rel + 2 + chars * 2 > len) {
      issue(`entry name at +0x${rel.toString(16)} (${chars} chars) runs past the directory`, at);
      return null;
    }
    return buf.toString('utf16le', start + rel + 2, start + rel + 2 + chars * 2);
  }

  function readData(rel: number, at: number, type: number | string, name: number | string, lang: number): void {
    if (rel + DATA_ENTRY > len) {
      issue(`data entry at +0x${rel.toString(16)} is outside the directory`, at);
      return;
    }
    const dataRva = u32(rel);
    const size = u32(rel + 4);
    const codepage = u32(rel + 8);
    const offset = map.rvaToOffset(dataRva, size);
    const entry: ResourceEntry = { type, name, lang, dataRva, size, codepage, offset };
    if (offset === null || offset + size > buf.length) {
      entry.offset = null;
      entry.problem = `data at RVA 0x${dataRva.toString(16)} (${size} bytes) is not in the file`;
      issue(`${describe(type, name, lang)}: ${entry.problem}`, rel);
    }
    out.push(entry);
  }

  /** `path` holds the ids of the levels above (type, then name). */
  function walk(rel: number, depth: number, path: (number | string)[]): void {
    if (visited.has(rel)) {
      issue(`subdirectory at +0x${rel.toString(16)} was already walked (loop or shared node); not followed`, rel);
      return;
    }
    visited.add(rel);
    if (rel + DIR_HEADER > len) {
      if (depth === 1) throw new PeFormatError('resources', 'root directory header is outside the directory', start + rel);
      issue(`subdirectory at +0x${rel.toString(16)} is outside the directory`, rel);
      return;
    }
    let count = u16(rel + 12) + u16(rel + 14); // NumberOfNamedEntries + NumberOfIdEntries
    const fit = Math.floor((len - rel - DIR_HEADER) / DIR_ENTRY);
    if (count > fit) {
      issue(`directory at +0x${rel.toString(16)} claims ${count} entries but only ${fit} fit; reading ${fit}`, rel);
      count = fit;
    }
    for (let i = 0; i < count; i++) {
      if (--budget < 0) {
        if (budget === -1) issue(`more than ${MAX_ENTRIES} entries; stopped`, rel);
        return;
      }
      const at = rel + DIR_HEADER + i * DIR_ENTRY;
      const id = readId(u32(at), at);
      if (id === null) continue;
      const target = u32(at + 4);
      if ((target & HIGH_BIT) !== 0) {
        if (depth >= MAX_DEPTH) {
          issue(`subdirectory below the language level (depth > ${MAX_DEPTH}) at +0x${at.toString(16)}; skipped`, at);
          continue;
        }
        walk(target & ~HIGH_BIT, depth + 1, [...path, id]);
      } else {
        if (depth < MAX_DEPTH) {
          issue(`data entry at level ${depth} (expected a subdirectory) at +0x${at.toString(16)}; skipped`, at);
          continue;
        }
        if (typeof id === 'string') {
          issue(`named language "${id}" at +0x${at.toString(16)}; skipped`, at);
          continue;
        }
        readData(target, at, path[0], path[1], id);
      }
    }
  }

  walk(0, 1, []);
  return out;
}

/**
 * How many of the directory's `dirSize` bytes are contiguous file bytes at `dirRva`.
 * Usually all of them; a directory size that overshoots the section's raw data (some
 * packers, truncated files) is cut to what is there (binary search over
 * `rvaToOffset`, ~30 probes).
 */
function mappedLength(buf: Buffer, map: AddressMap, dirRva: number, dirSize: number): number {
  const fits = (n: number): boolean => {
    const off = map.rvaToOffset(dirRva, n);
    return off !== null && off + n <= buf.length;
  };
  if (fits(dirSize)) return dirSize;
  let lo = DIR_HEADER; // known to fit (checked by the caller)
  let hi = dirSize;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

function describe(type: number | string, name: number | string, lang: number): string {
  return `resource ${String(type)}/${String(name)}/0x${lang.toString(16).padStart(4, '0')}`;
}
