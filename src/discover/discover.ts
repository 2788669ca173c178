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
 *
 * On Windows one file named twice in different case (`C:\WINDOWS\...` from %SystemRoot% and
 * `C:\Windows\...` as typed) is one candidate. A folder that cannot be listed (access denied,
 * as `C:\Program Files\WindowsApps` is to an ordinary user) is one candidate with a problem,
 * once however many roots reach it: its files were not looked at.
 */
import * as fs from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';

import fg from 'fast-glob';

import { isNativeImageHead, SNIFF_BYTES } from '../pe/sniff.js';
import { kernelImages } from '../platform/kernel-images.js';
import { pathKey } from '../platform/paths.js';

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
  /** The file system fast-glob walks (tests give one whose `readdir` fails). */
  fs?: Partial<fg.FileSystemAdapter>;
}

/** What `inspect` and `tags` take from a folder: the PE kinds drivers ship as. */
export const PE_FILE_PATTERNS = ['**/*.sys', '**/*.dll', '**/*.exe', '**/*.drv'];

/**
 * `discover` with `PE_FILE_PATTERNS`, where a folder that gives no file is itself a candidate
 * with a problem (`inspect EmptyFolder` says so instead of printing nothing).
 */
export async function discoverPeFiles(paths: string[]): Promise<Candidate[]> {
  const found = await discover(paths, { include: PE_FILE_PATTERNS });
  const out: Candidate[] = [];
  for (const given of paths) {
    const dir = isAbsolute(given) ? given : resolve(given);
    let isDir = false;
    try {
      isDir = (await stat(dir)).isDirectory();
    } catch {
      // a missing path is a candidate with its problem already
    }
    if (isDir && !found.some((c) => c.path.startsWith(dir.endsWith(sep) ? dir : dir + sep))) {
      out.push({ path: dir, size: null, mtimeMs: null, problem: { code: 'not-a-file', message: 'a folder with no PE file in it (*.sys, *.dll, *.exe, *.drv)' } });
    }
  }
  return [...found, ...out];
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
    const key = pathKey(c.path);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(c);
  };
  // Folders fast-glob could not list (it skips them silently with suppressErrors).
  const unlisted = new Map<string, Candidate>();
  const readdir = (options.fs?.readdir ?? fs.readdir) as (...a: unknown[]) => void;
  const walkFs: Partial<fg.FileSystemAdapter> = {
    ...options.fs,
    readdir: ((dir: string, ...rest: unknown[]) => {
      const cb = rest.pop() as (err: NodeJS.ErrnoException | null, entries?: unknown) => void;
      readdir(dir, ...rest, (err: NodeJS.ErrnoException | null, entries?: unknown) => {
        if (err && err.code !== 'ENOENT' && !unlisted.has(pathKey(dir))) {
          unlisted.set(pathKey(dir), { path: dir, size: null, mtimeMs: null, problem: { code: 'unreadable', message: `folder cannot be listed (${err.code ?? 'error'}: ${oneLine(err.message)}); the files in it were not looked at` } });
        }
        cb(err, entries);
      });
    }) as fg.FileSystemAdapter['readdir'],
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
    const walk = { cwd: root, ignore: exclude, caseSensitiveMatch: false, dot: true, followSymbolicLinks: false, suppressErrors: true, unique: true, deep, fs: walkFs };
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
  for (const c of [...unlisted.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) add(c);
  return out;
}

/** An error message as one line (Windows messages end in, or hold, CR LF). */
function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
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
