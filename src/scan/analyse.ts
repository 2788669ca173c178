/**
 * One file in, one outcome out: what a scan worker does for each path. Never throws for a
 * bad file; every failure becomes a `FileError` that says what was wrong and where.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

import { extractEvidence } from '../evidence/extract.js';
import { readPe } from '../pe/read.js';
import { toImageRecord } from '../report/image.js';
import { classifyError, FileProblem, truncatedImageError } from '../report/file-error.js';
import type { FileError, ImageRecord } from '../report/types.js';

export interface AnalyseOptions {
  /** Files larger than this are not read (bytes). */
  maxFileSize: number;
  minStringLength: number;
  /** Read into the thread's reusable buffer (scan workers). */
  reuseBuffer?: boolean;
}

export type FileOutcome =
  | { kind: 'image'; sha256: string; size: number; image: ImageRecord }
  | { kind: 'hash'; sha256: string; size: number }
  | { kind: 'error'; error: FileError; size: number | null };

// O_NONBLOCK: opening a FIFO named `x.sys` must not wait for a writer (POSIX only).
const OPEN_FLAGS = constants.O_RDONLY | (process.platform === 'win32' ? 0 : (constants.O_NONBLOCK ?? 0));

/**
 * One growing read buffer per thread. A scan worker reads files one after another and keeps
 * nothing that points into the bytes (the image model and the evidence are plain data), so
 * the next file can reuse the memory: no fresh allocation and page faults per file.
 */
let scratch: Buffer | null = null;

/**
 * Reads a whole regular file, refusing anything else (directories, FIFOs, devices) and files
 * over the cap. Synchronous on purpose: it runs on a worker thread, one file at a time.
 * With `reuse`, the bytes live in the thread's scratch buffer until the next call.
 */
export function readRegularFile(path: string, maxFileSize: number, reuse = false): Buffer {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileProblem('not-a-file', st.isDirectory() ? 'is a directory, not a file' : 'is not a regular file (a device, FIFO or socket)');
    if (st.size === 0) throw new FileProblem('empty', 'file is empty (0 bytes)');
    if (st.size > maxFileSize) throw new FileProblem('too-large', `file of ${st.size} bytes is over the ${maxFileSize}-byte limit (--max-size)`);
    let buf: Buffer;
    if (reuse) {
      if (!scratch || scratch.length < st.size) scratch = Buffer.allocUnsafeSlow(Math.max(st.size, 1 << 20, scratch ? scratch.length * 2 : 0));
      buf = scratch.subarray(0, st.size);
    } else buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break; // shrank while we read it
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * Reads, hashes and analyses one file. `known`: its SHA-256 from the hash pass (`hashOneFile`),
 * used instead of hashing the bytes again unless the file's size has changed since.
 */
export async function analyseFile(path: string, opts: AnalyseOptions, known: KnownHash | null = null): Promise<FileOutcome> {
  let buf: Buffer;
  try {
    buf = readRegularFile(path, opts.maxFileSize, opts.reuseBuffer);
  } catch (err) {
    return { kind: 'error', size: null, error: classifyError(err) };
  }
  return analyseBytes(buf, opts, known && known.size === buf.length ? known.sha256 : null);
}

/** A file's SHA-256 as the hash pass computed it, with the size it had then. */
export interface KnownHash {
  sha256: string;
  size: number;
}

/**
 * Analyses the bytes of one file (what `analyseFile` does after reading it; the fuzzer calls
 * it directly). Never throws: a failure is an error outcome, `internal` when it was not one
 * of the reader's own errors (a bug).
 */
export async function analyseBytes(buf: Buffer, opts: Pick<AnalyseOptions, 'minStringLength'>, known: string | null = null): Promise<FileOutcome> {
  const size = buf.length;
  try {
    const image = readPe(buf, known ? { hash: false } : {});
    if (known) image.sha256 = known;
    const cut = truncatedImageError(image);
    if (cut) return { kind: 'error', size, error: cut };
    const extraction = await extractEvidence(buf, image, { minStringLength: opts.minStringLength });
    return { kind: 'image', sha256: image.sha256!, size, image: toImageRecord(image, extraction) };
  } catch (err) {
    return { kind: 'error', size, error: classifyError(err) };
  }
}

/** Reads and hashes one file (to find duplicates before analysing them). */
export async function hashOneFile(path: string, opts: AnalyseOptions): Promise<FileOutcome> {
  try {
    const buf = readRegularFile(path, opts.maxFileSize, opts.reuseBuffer);
    return { kind: 'hash', sha256: sha256(buf), size: buf.length };
  } catch (err) {
    return { kind: 'error', size: null, error: classifyError(err) };
  }
}
