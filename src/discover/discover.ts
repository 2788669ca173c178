/**
 * The "discover" stage: paths in, candidate files out (ripgrep's walker, in effect).
 *
 * Folders are expanded by fast-glob with case-insensitive patterns (`**\/*.sys` matches
 * `NDIS.SYS`); a file named on the command line is always taken, whatever its name. The
 * walker does not follow directory links (the DriverStore has none, and a loop must not hang
 * a scan) and does not read file contents: `stat` answers what each entry is.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

import fg from 'fast-glob';

export const DEFAULT_INCLUDE = ['**/*.sys'];

export interface DiscoverOptions {
  /** Patterns relative to each folder (fast-glob syntax, forward slashes). Default `**\/*.sys`. */
  include?: string[];
  exclude?: string[];
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
  const include = (options.include?.length ? options.include : DEFAULT_INCLUDE).map(toGlob);
  const exclude = (options.exclude ?? []).map(toGlob);
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
    const entries = await fg(include, {
      cwd: root,
      ignore: exclude,
      caseSensitiveMatch: false,
      onlyFiles: false, // a directory named x.sys is reported, not silently skipped
      dot: true,
      followSymbolicLinks: false,
      suppressErrors: true, // an unreadable subfolder must not end the walk
      unique: true,
    });
    entries.sort();
    const described = await Promise.all(entries.map((e) => describe(join(root, e))));
    for (const { directory: _, ...c } of described) add(c);
  }
  return out;
}
