/**
 * A report made ready for a merge, off the merging thread: read, unpacked, parsed, checked,
 * digested. A fleet merge spends most of its time here (100,000 host reports of some 2,000
 * files each), so `pooltag merge` runs it in worker threads (`ReportReader`) while the main
 * thread writes the base.
 *
 * What crosses back to the main thread is lean: the report without its file list, and the
 * list as columns of bytes (`FileColumns`). Cloning 2,000 small objects, or even 4,000
 * strings, costs the main thread more than parsing them did.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { reportDigest } from './digest.js';
import { classifyError } from './file-error.js';
import { parseReportBytes } from './read.js';
import type { FileEntry, ScanReport } from './types.js';

/** `FileColumns.flags`: the file has a SHA-256 (in `sha`). */
export const FILE_HASHED = 1;
/** `FileColumns.flags`: inventory only (`known: true`). */
export const FILE_KNOWN = 2;
/** `FileColumns.flags`: its image is one of the report's `images` (reported in full). */
export const FILE_FULL = 4;

/**
 * A report's file list as columns, in typed arrays only (what a merge reads of it: path, hash,
 * flags). A fleet merge's main thread meets some 2,000 files per report, 100,000 times: as
 * strings, each path and hash had to be copied over from the reading thread, hashed again for
 * a Map and collected afterwards. As bytes they cross as a few buffers, and the merge's id
 * caches (knowledge/id-cache.ts) look them up without making a string.
 *
 * Layout, for `count` files: `flags[i]` (FILE_*), the SHA-256 of file i in
 * `sha[32i .. 32i+32)` (zeros without one), its path as UTF-16 code units in
 * `pathUnits[pathStart[i] .. pathStart[i+1])`, and `pathHash[i]`, a hash of those units
 * (`hashUnits`) with the seed `seed`.
 */
export interface FileColumns {
  count: number;
  flags: Uint8Array;
  sha: Uint8Array;
  pathUnits: Uint16Array;
  pathStart: Uint32Array;
  pathHash: Int32Array;
  seed: number;
}

/**
 * The seed of this thread's path hashes: random per process (a report cannot choose paths that
 * all fall in one slot of the merge's tables), handed to the reading threads by the merge.
 */
let pathSeed = (Math.random() * 0x100000000) | 0;

export function pathHashSeed(): number {
  return pathSeed;
}

/** A reading thread hashes with the merging thread's seed (workerData). */
export function setPathHashSeed(seed: number): void {
  pathSeed = seed | 0;
}

/** murmur3's step: the hash so far with one more 32-bit word mixed in. */
export function murmurStep(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  return (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
}

/** murmur3's finish: every bit of the hash spread over all of them. */
export function murmurFinish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A seeded 32-bit hash of UTF-16 code units (murmur3, one unit at a time). */
export function hashUnits(units: Uint16Array, start: number, end: number, seed: number): number {
  let h = seed ^ (end - start);
  for (let i = start; i < end; i++) h = murmurStep(h, units[i]);
  return murmurFinish(h);
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x61 + i] = 10 + i;

/** 64 lower-case hex digits into 32 bytes at `out[at]`; false (and zeros written) if `hex` is not that. */
export function putSha256(hex: string, out: Uint8Array, at: number): boolean {
  if (hex.length !== 64) return false;
  for (let i = 0; i < 32; i++) {
    const a = hex.charCodeAt(2 * i);
    const b = hex.charCodeAt(2 * i + 1);
    const hi = a < 128 ? HEX[a] : -1;
    const lo = b < 128 ? HEX[b] : -1;
    if ((hi | lo) < 0) {
      out.fill(0, at, at + 32);
      return false;
    }
    out[at + i] = (hi << 4) | lo;
  }
  return true;
}

const HEX_DIGITS = '0123456789abcdef';

/** 32 bytes at `bytes[at]` as 64 lower-case hex digits. */
export function sha256Hex(bytes: Uint8Array, at: number): string {
  let s = '';
  for (let i = 0; i < 32; i++) {
    const b = bytes[at + i];
    s += HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  }
  return s;
}

/** File i's path, as a string. */
export function pathAt(c: FileColumns, i: number): string {
  const start = c.pathStart[i];
  const end = c.pathStart[i + 1];
  let s = '';
  for (let at = start; at < end; at += 4096) s += String.fromCharCode.apply(null, c.pathUnits.subarray(at, Math.min(end, at + 4096)) as unknown as number[]);
  return s;
}

/** File i's SHA-256 in hex, or null when it has none. */
export function shaAt(c: FileColumns, i: number): string | null {
  return c.flags[i] & FILE_HASHED ? sha256Hex(c.sha, 32 * i) : null;
}

/**
 * A report's file list as columns; `images`: the report's images (their files get FILE_FULL).
 * A hash that is not 64 lower-case hex digits (a report is checked before this) counts as none.
 */
export function fileColumns(files: readonly FileEntry[], images: readonly { sha256: string }[] = [], seed = pathSeed): FileColumns {
  const n = files.length;
  const flags = new Uint8Array(n);
  const sha = new Uint8Array(32 * n);
  const pathStart = new Uint32Array(n + 1);
  let units = 0;
  for (let i = 0; i < n; i++) {
    pathStart[i] = units;
    units += files[i].path.length;
  }
  pathStart[n] = units;
  const pathUnits = new Uint16Array(units);
  const pathHash = new Int32Array(n);
  const full = new Set<string>();
  for (const img of images) full.add(img.sha256);
  for (let i = 0; i < n; i++) {
    const f = files[i];
    const p = f.path;
    const at = pathStart[i];
    for (let k = 0; k < p.length; k++) pathUnits[at + k] = p.charCodeAt(k);
    pathHash[i] = hashUnits(pathUnits, at, at + p.length, seed);
    const h = f.sha256;
    if (typeof h === 'string' && putSha256(h, sha, 32 * i)) {
      let fl = FILE_HASHED;
      if (f.known) fl |= FILE_KNOWN;
      if (full.has(h)) fl |= FILE_FULL;
      flags[i] = fl;
    }
  }
  return { count: n, flags, sha, pathUnits, pathStart, pathHash, seed };
}

export interface MergeInput extends FileColumns {
  ok: true;
  /** SHA-256 of the file's bytes (a file merged before is skipped by it). */
  contentSha256: string;
  /** What the report says (reportDigest): the same report written another way has the same one. */
  digest: string;
  /** The report with `files` empty: they are in the columns. */
  report: ScanReport;
}

/** A file whose bytes were merged before (by its SHA-256): not parsed again. */
export interface MergeInputMerged {
  ok: 'merged';
  contentSha256: string;
}

export interface MergeInputError {
  ok: false;
  /** Why, in words (a read error, or what is wrong with the report). */
  message: string;
}

/** Why a file could not be read, in words (`no such file`, `is a directory, not a file`). */
export const readErrorText = (err: unknown) => ((err as NodeJS.ErrnoException)?.code ? classifyError(err).message : (err as Error).message);

/**
 * A report file's bytes made ready for a merge; `merged` holds the SHA-256 of the files merged
 * before (a share where reports pile up night after night is read, not parsed, again).
 */
export function mergeInputFromBytes(raw: Buffer, merged?: ReadonlySet<string>): MergeInput | MergeInputMerged | MergeInputError {
  try {
    const contentSha256 = createHash('sha256').update(raw).digest('hex');
    if (merged?.has(contentSha256)) return { ok: 'merged', contentSha256 };
    const report = parseReportBytes(raw);
    const digest = reportDigest(report);
    const columns = fileColumns(report.files, report.images);
    report.files = [];
    return { ok: true, contentSha256, digest, report, ...columns };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** A report file made ready for a merge (what a worker thread runs). */
export function mergeInputFromFile(path: string, merged?: ReadonlySet<string>): MergeInput | MergeInputMerged | MergeInputError {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    return { ok: false, message: readErrorText(err) };
  }
  return mergeInputFromBytes(raw, merged);
}
