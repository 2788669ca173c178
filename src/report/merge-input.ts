/**
 * A report made ready for a merge, off the merging thread: read, unpacked, parsed, checked,
 * digested. A fleet merge spends most of its time here (100,000 host reports of some 2,000
 * files each), so `pooltag merge` runs it in worker threads (`ReportReader`) while the main
 * thread writes the base.
 *
 * What crosses back to the main thread is lean: the report without its file list, and the
 * list as three arrays (paths, hashes, known flags). Cloning 2,000 small objects costs the
 * main thread more than parsing them did.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { reportDigest } from './digest.js';
import { classifyError } from './file-error.js';
import { parseReport, reportText } from './read.js';
import type { FileEntry, ScanReport } from './types.js';

/** A report's file list as columns (what a merge reads of it: path, hash, inventory-only). */
export interface FileColumns {
  paths: readonly string[];
  hashes: readonly (string | null)[];
  /** 1 where the file is inventory only (`known: true`). */
  known: Uint8Array;
}

export function fileColumns(files: readonly FileEntry[]): FileColumns {
  const n = files.length;
  const paths: string[] = new Array(n);
  const hashes: (string | null)[] = new Array(n);
  const known = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const f = files[i];
    paths[i] = f.path;
    hashes[i] = f.sha256 ?? null;
    if (f.known) known[i] = 1;
  }
  return { paths, hashes, known };
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
    const report = parseReport(reportText(raw));
    const digest = reportDigest(report);
    const { paths, hashes, known } = fileColumns(report.files);
    report.files = [];
    return { ok: true, contentSha256, digest, report, paths, hashes, known };
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
