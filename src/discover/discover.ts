/**
 * The "discover" stage: paths in, candidate files out (ripgrep's walker, in effect).
 *
 * Folders are expanded by fast-glob with case-insensitive patterns (`**\/*.sys` matches
 * `NDIS.SYS`); a file named on the command line is always taken, whatever its name. The
 * walker does not follow directory links (the DriverStore has none, and a loop must not hang
 * a scan).
 *
 * Without `include`, a folder gives its kernel-mode images: the name glob is the fast path
 * (`*.sys`, and the kernel's own names from data/kernel-images.json: ntoskrnl.exe,
 * ntkrnlmp.exe, hal*.dll, ...), and every other file is sniffed (its first 4 KiB only: MZ,
 * e_lfanew, PE\0\0, optional header Subsystem) and taken when its subsystem is NATIVE
 * (ci.dll, a driver named .bin). With `include` the patterns alone decide. `exclude` always
 * rules.
 */
import { open, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';

import fg from 'fast-glob';

import { isNativeImageHead, SNIFF_BYTES } from '../pe/sniff.js';
import { kernelImages } from '../platform/kernel-images.js';

/** The name glob of a folder scan: `*.sys` and the kernel's own images. */
export const DEFAULT_INCLUDE: string[] = ['**/*.sys', ...[...kernelImages().names, ...kernelImages().namePatterns].map((n) => `**/${n}`)];

export interface DiscoverOptions {
  /**
   * Patterns relative to each folder (fast-glob syntax, forward slashes). Default: the name
   * glob `DEFAULT_INCLUDE` plus every other NATIVE-subsystem PE (sniffed).
   */
  include?: string[];
  exclude?: string[];
  /** Folders (among `paths`) walked at their top level only (System32 in a default scan). */
  shallow?: string[];
}

/** A path with what `stat` said about it; `problem` is set when it is not a regular file. */
export interface Candidate {
  path: string;
  size: number | null;
  mtimeMs: number | null;
  problem?: { code: 'not-found' | 'not-a-file' | 'unreadable'; message: string };
}

/** fast-glob wants forward slashes; users on Windows type backslashes. */
function toGlob(pattern: string): string {
  return pattern.replace(/\\/g, '/');
}

async function describe(path: string): Promise<Candidate & { directory?: true }> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) return { path, size: null, mtimeMs: st.mtimeMs, directory: true, problem: { code: 'not-a-file', message: 'is a directory, not a file' } };
    if (!st.isFile()) return { path, size: null, mtimeMs: st.mtimeMs, problem: { code: 'not-a-file', message: 'is not a regular file (a device, FIFO or socket)' } };
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return { path, size: null, mtimeMs: null, problem: { code: 'not-found', message: 'no such file or folder (or a dangling link)' } };
    return { path, size: null, mtimeMs: null, problem: { code: 'unreadable', message: `${e.code ?? 'error'}: ${e.message}` } };
  }
}

/**
 * Expands files and folders into candidates, in a stable order (each root's entries sorted).
 * The same file reached twice through overlapping roots is listed once.
 */
export async function discover(paths: string[], options: DiscoverOptions = {}): Promise<Candidate[]> {
  const userInclude = options.include?.length ? options.include.map(toGlob) : null;
  const exclude = (options.exclude ?? []).map(toGlob);
  const shallow = new Set((options.shallow ?? []).map((p) => (isAbsolute(p) ? p : resolve(p))));
  const seen = new Set<string>();
  const out: Candidate[] = [];
  const add = (c: Candidate) => {
    if (seen.has(c.path)) return;
    seen.add(c.path);
    out.push(c);
  };

  // Every root is looked at first, all at once (a fleet script may pass thousands of files).
  const tops = await Promise.all(paths.map((given) => describe(isAbsolute(given) ? given : resolve(given))));
  for (const { directory, ...top } of tops) {
    if (!directory) {
      add(top); // a file (or an error) named by the user
      continue;
    }
    const root = top.path;
    const deep = shallow.has(root) ? 1 : Infinity;
    const walk = { cwd: root, ignore: exclude, caseSensitiveMatch: false, dot: true, followSymbolicLinks: false, suppressErrors: true, unique: true, deep };
    let entries: string[];
    if (userInclude) {
      // a directory named x.sys is reported, not silently skipped
      entries = await fg(userInclude, { ...walk, onlyFiles: false });
    } else {
      const all = await fg(['**/*'], { ...walk, onlyFiles: false, objectMode: true });
      const byName: string[] = [];
      const others: string[] = [];
      for (const e of all) {
        if (isKernelImageName(e.name)) byName.push(e.path);
        else if (!e.dirent.isDirectory()) others.push(e.path);
      }
      entries = [...byName, ...(await nativeOnes(root, others))];
    }
    entries.sort();
    const described = await Promise.all(entries.map((e) => describe(join(root, e))));
    for (const { directory: _, ...c } of described) add(c);
  }
  return out;
}

/** The fast path: `*.sys` and the kernel's own image names, whatever their case. */
export function isKernelImageName(fileName: string): boolean {
  return /\.sys$/i.test(fileName) || kernelImages().isKernelName(basename(fileName));
}

/** How many files are sniffed at once (file descriptors are a limited resource). */
const SNIFF_CONCURRENCY = 32;

/** The files (relative to `root`) whose first 4 KiB say: a PE image with subsystem NATIVE. */
async function nativeOnes(root: string, rels: string[]): Promise<string[]> {
  const keep: boolean[] = new Array(rels.length).fill(false);
  let next = 0;
  const buf = () => Buffer.allocUnsafe(SNIFF_BYTES);
  const worker = async () => {
    const head = buf();
    for (;;) {
      const i = next++;
      if (i >= rels.length) return;
      keep[i] = await sniffNative(join(root, rels[i]), head);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SNIFF_CONCURRENCY, rels.length) }, worker));
  return rels.filter((_, i) => keep[i]);
}

/** Reads at most the first 4 KiB; a file that cannot be read is not a kernel image to take. */
export async function sniffNative(path: string, head: Buffer = Buffer.allocUnsafe(SNIFF_BYTES)): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
    const { bytesRead } = await fh.read(head, 0, Math.min(head.length, SNIFF_BYTES), 0);
    return isNativeImageHead(head.subarray(0, bytesRead));
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
