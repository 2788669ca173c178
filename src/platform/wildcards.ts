/**
 * Wildcards in file arguments, expanded by pooltag itself on Windows: cmd.exe and PowerShell
 * pass `*.sys` to a program unchanged (a Unix shell expands it before the program starts), so
 * a Windows tool does it (`dir *.sys`, `findstr x *.txt`).
 *
 * Only `*` and `?` are wildcards, as in cmd.exe: `[`, `]`, `{`, `(`, `!` are ordinary in
 * Windows file names (`Vendor [x64] (old)\drv.sys`). Matching ignores case. An argument with
 * a wildcard that matches nothing is kept as typed, so that the command reports that file as
 * missing instead of silently doing nothing. Matches of one argument come sorted.
 */
import { normalize } from 'node:path';

import fg from 'fast-glob';

import { pathKey, windowsConventions } from './paths.js';

export function hasWildcard(arg: string): boolean {
  return /[*?]/.test(arg);
}

/** The fast-glob pattern of a Windows argument: forward slashes, every special character but `*` and `?` escaped. */
export function wildcardPattern(arg: string): string {
  return arg
    .split(/[\\/]/)
    .map((part) => part.replace(/[()[\]{}!@+|^$]/g, '\\$&'))
    .join('/');
}

export interface ExpandOptions {
  /** Expand (default: on Windows, or with POOLTAG_WINDOWS_CONVENTIONS=1). */
  apply?: boolean;
  cwd?: string;
}

/** Each argument with `*` or `?` replaced by the files and folders it matches (in place, in order). */
export async function expandWildcards(args: readonly string[], options: ExpandOptions = {}): Promise<string[]> {
  if (!(options.apply ?? windowsConventions())) return [...args];
  const out: string[] = [];
  for (const arg of args) {
    if (arg === '-' || !hasWildcard(arg)) {
      out.push(arg);
      continue;
    }
    const found = await fg(wildcardPattern(arg), {
      cwd: options.cwd ?? process.cwd(),
      onlyFiles: false,
      dot: true,
      caseSensitiveMatch: false,
      followSymbolicLinks: false,
      suppressErrors: true,
      unique: true,
    });
    if (found.length === 0) out.push(arg);
    else out.push(...found.map((f) => normalize(f)).sort((a, b) => (pathKey(a, true) < pathKey(b, true) ? -1 : pathKey(a, true) > pathKey(b, true) ? 1 : 0)));
  }
  return out;
}
