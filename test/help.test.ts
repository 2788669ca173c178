/**
 * Every command's --help (issue 22, item 17): the reference moved out of the README, examples
 * that work as typed in bash, cmd.exe and PowerShell, and the exit codes at the end.
 *
 * "As typed in all three" means: no single quotes (cmd.exe passes them through), no `#`
 * comments (cmd.exe passes them as arguments), no `&&` (Windows PowerShell 5.1 has none), no
 * `$` or `%VAR%` (each shell expands its own), and a backslash, a space, `*`, `?` or a
 * parenthesis only inside double quotes (bash eats an unquoted backslash and globs `*` and `?`;
 * inside double quotes all three keep them). Pipes and `>` work in all three.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/pooltag');

function help(...args: string[]): string {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` before the tests');
  const r = spawnSync(process.execPath, [bin, ...args, '--help'], { cwd: root, encoding: 'utf8' });
  expect(r.status, args.join(' ')).toBe(0);
  return r.stdout;
}

const COMMANDS = ['inspect', 'tags', 'scan', 'lookup', 'triage', 'search', 'merge', 'import-pooltag', 'show', 'stats', 'note', 'export'];

/** Why a command line would not work as typed in bash, cmd.exe and PowerShell (null when it would). */
export function shellProblem(line: string): string | null {
  if (line.includes("'")) return 'a single quote';
  if (/(^|\s)#/.test(line)) return 'a # comment';
  if (line.includes('&&')) return '&&';
  if (/[$%`]/.test(line)) return 'a $, % or backtick';
  // Split into words, double-quoted strings kept whole.
  for (const m of line.matchAll(/"[^"]*"|[^\s"]+/g)) {
    const w = m[0];
    if (w.startsWith('"')) continue;
    if (w === '|' || w === '>') continue;
    // `*` and `?` may stand unquoted in a file name (`*.sys`, `drivers/hid*.sys`): bash expands
    // them, and on Windows pooltag does (cmd.exe and PowerShell pass them as typed). In a tag
    // pattern (`Ntf*`) bash would expand them against the files where it runs.
    const fileGlob = /[*?]/.test(w) && /[./]/.test(w);
    if (/[\\()<>|;&]/.test(w) || (/[*?]/.test(w) && !fileGlob)) return `${w} unquoted`;
  }
  if ((line.match(/"/g) ?? []).length % 2) return 'an unbalanced double quote';
  return null;
}

describe('--help of every command', () => {
  it('the root help lists every command, then examples, and ends with the exit codes', () => {
    const h = help();
    for (const c of COMMANDS) expect(h).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(h.trimEnd().split('\n\n').at(-1)).toMatch(/^Exit codes: 0 success, 1 usage error, 2 .*\n?.*3 .*130 interrupted/);
  });

  for (const c of ['', ...COMMANDS]) {
    it(`${c || 'pooltag'}: examples that work as typed in bash, cmd.exe and PowerShell; the exit codes last`, () => {
      const h = c ? help(c) : help();
      const examples = /\nExamples:\n((?: {2}.*\n)+)/.exec(h);
      expect(examples, h).not.toBeNull();
      const lines = examples![1].trimEnd().split('\n').map((l) => l.trim());
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) {
        expect(l).toMatch(c ? new RegExp(`^pooltag ${c}\\b|^pooltag scan .*\\| pooltag merge -$`) : /^pooltag /);
        expect(shellProblem(l), l).toBeNull();
      }
      expect(h.trimEnd().split('\n\n').at(-1)).toMatch(/^Exit codes: 0 /);
    });
  }

  it('the rules catch what breaks in one of the shells', () => {
    expect(shellProblem('pooltag search \'text:"file system"\'')).toBe('a single quote');
    expect(shellProblem('pooltag triage poolmon.txt   # one screen')).toBe('a # comment');
    expect(shellProblem('pooltag scan --out C:\\Temp\\x.json')).toMatch(/unquoted/);
    expect(shellProblem('pooltag lookup Ntf*')).toMatch(/unquoted/);
    expect(shellProblem('pooltag inspect *.sys')).toBeNull();
    expect(shellProblem('pooltag scan --out \\\\server\\pooltag$\\%COMPUTERNAME%.json')).toBe('a $, % or backtick');
    expect(shellProblem('pooltag lookup "Fx\\x01!" "Ntf*"')).toBeNull();
    expect(shellProblem('pooltag scan --out - test/fixtures/bin | pooltag merge -')).toBeNull();
  });

  it('the README\'s examples follow the same rules', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const examples = [...readme.matchAll(/`(pooltag [^`]*)`/g)].map((m) => m[1]);
    expect(examples.length).toBeGreaterThan(10);
    for (const e of examples) expect(shellProblem(e), e).toBeNull();
  });
});
