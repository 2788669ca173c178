/**
 * What a test needs from outside the repository: Microsoft's reference files in `../shared/`
 * (beside the repository, never copied into it) and installed tools (GNU strings, mingw-w64,
 * llvm). On a fresh clone they may be missing: a suite that needs them is then skipped with
 * ONE visible reason, as a single skipped test named after what is missing. CI sets
 * `POOLTAG_REQUIRE_SHARED=1` (and `POOLTAG_REQUIRE_TOOLS=1`) in `.ci/run`: there a missing
 * file or tool is a failing test instead of a skip.
 *
 *   import { describeWithShared, sharedFile } from './helpers/shared.js';
 *   describeWithShared('real pooltag.txt copies', ['pooltag/pooltag-modern.txt'], () => {
 *     const bytes = sharedFile('pooltag/pooltag-modern.txt');
 *     it(...);
 *   });
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, it } from 'vitest';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `../shared` relative to the repository root (POOLTAG_SHARED_DIR points elsewhere, e.g. nowhere to try a fresh clone). */
export const SHARED_DIR = process.env.POOLTAG_SHARED_DIR ? resolve(process.env.POOLTAG_SHARED_DIR) : resolve(repoRoot, '..', 'shared');

const on = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
export const requireShared = (env: NodeJS.ProcessEnv = process.env) => on(env.POOLTAG_REQUIRE_SHARED);
export const requireTools = (env: NodeJS.ProcessEnv = process.env) => on(env.POOLTAG_REQUIRE_TOOLS);

/** Absolute path of `rel` inside ../shared. */
export const sharedPath = (rel: string): string => join(SHARED_DIR, rel);

/** The relative paths among `rels` that are not in ../shared. */
export function missingShared(rels: readonly string[]): string[] {
  return rels.filter((r) => !existsSync(sharedPath(r)));
}

/** Bytes of a ../shared file; call it inside a `describeWithShared` body (the file is there). */
export function sharedFile(rel: string): Buffer {
  const p = sharedPath(rel);
  if (!existsSync(p)) throw new Error(`missing ${p}: not in ../shared (declare it in describeWithShared)`);
  return readFileSync(p);
}

/** Whether a command runs (exit status 0 with these arguments). Cached per command line. */
const toolCache = new Map<string, boolean>();
export function hasTool(cmd: string, args: readonly string[] = ['--version']): boolean {
  const key = [cmd, ...args].join('\0');
  let ok = toolCache.get(key);
  if (ok === undefined) {
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    ok = !r.error && r.status === 0;
    toolCache.set(key, ok);
  }
  return ok;
}

/**
 * A suite that needs something only the caller can check (a file a build makes, a tool that
 * needs more than `--version`): `missing` names it, or is null. Gated as `describeWithTools`.
 */
export function describeWithToolsIf(title: string, missing: string | null, body: () => void): void {
  gated(title, missing, requireTools(), 'POOLTAG_REQUIRE_TOOLS', body);
}

function gated(title: string, missing: string | null, required: boolean, variable: string, body: () => void): void {
  if (missing === null) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    if (required) {
      it(`needs ${missing}`, () => {
        throw new Error(`${title}: needs ${missing}, and ${variable} is set (CI), so this is a failure, not a skip`);
      });
    } else {
      it.skip(`skipped: needs ${missing} (set ${variable}=1 to make this a failure)`, () => {});
    }
  });
}

/**
 * A suite that reads files from ../shared: run when they are all there; otherwise one skipped
 * test naming the missing files, or one failing test when POOLTAG_REQUIRE_SHARED is set.
 */
export function describeWithShared(title: string, rels: readonly string[], body: () => void): void {
  const missing = missingShared(rels);
  // a missing folder is named once, not file by file
  const names = [...new Set(missing.map((m) => (existsSync(dirname(sharedPath(m))) ? `../shared/${m}` : `../shared/${dirname(m)}/`)))];
  const what = missing.length === 0 ? null : `${names.join(', ')} (beside the repository; not shipped with it)`;
  gated(title, what, requireShared(), 'POOLTAG_REQUIRE_SHARED', body);
}

/**
 * A suite that runs installed tools: run when each `[cmd, ...args]` runs; otherwise one skipped
 * test naming the missing tools, or one failing test when POOLTAG_REQUIRE_TOOLS is set.
 */
export function describeWithTools(title: string, tools: readonly (readonly [string, ...string[]])[], body: () => void, hint = ''): void {
  const missing = tools.filter(([cmd, ...args]) => !hasTool(cmd, args.length ? args : ['--version'])).map(([cmd]) => cmd);
  const what = missing.length === 0 ? null : `${missing.join(', ')} on PATH${hint ? ` (${hint})` : ''}`;
  gated(title, what, requireTools(), 'POOLTAG_REQUIRE_TOOLS', body);
}
