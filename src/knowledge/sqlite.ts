/**
 * SQLite for the Node.js that runs pooltag: which better-sqlite3 opens a knowledge base.
 *
 * - better-sqlite3 13 (the dependency `better-sqlite3`) wherever Node.js has Node-API 10
 *   (Node.js 22.14+, 24, 26): its npm package carries the compiled addon for Windows, Linux
 *   (glibc and musl) and macOS on x64 and ARM64, so nothing is compiled or downloaded at install,
 *   and one addon serves every Node.js version.
 * - better-sqlite3 12 (the optional dependency `better-sqlite3-node20`, compiled at install for
 *   the Node.js that installs it) on Node.js 20, whose Node-API 9 cannot load 13, and where 13
 *   carries no addon for the system. Never where 13 loads: on Node.js 24 and later, 12 aborts
 *   the process at exit (its statements, collected then, unregister a cleanup hook of an
 *   environment already gone).
 * - POOLTAG_SQLITE_ADDON names an addon file to load instead, with 13's library (pooltag.exe
 *   points it at the Windows addon it carries; tests at a file that cannot load).
 *
 * The addon is loaded through require (its cache): a program that loads it again, or a test
 * that opens a base itself, gets the one module (a second dlopen of one file in one process
 * fails: "Module did not self-register").
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteOptions = BetterSqlite3.Options;

export interface Sqlite {
  /** better-sqlite3's Database class; open with `open()` below, which passes the addon. */
  Database: typeof BetterSqlite3;
  /** the loaded addon, given to the Database as `nativeBinding` */
  addon: object;
  /** which one: `better-sqlite3 13.2.0`, `better-sqlite3 12.6.2` or the POOLTAG_SQLITE_ADDON file */
  name: string;
}

/** The addon cannot be loaded by this Node.js: `message` says why, in one line, and what to do. */
export class SqliteLoadError extends Error {}

/** Node-API version of this Node.js: 10 from 22.14 on, 9 on Node.js 20. */
export const NODE_API = Number(process.versions.napi ?? 0);

let loaded: Sqlite | null = null;

/** better-sqlite3 for this Node.js, loaded once; a SqliteLoadError when none loads. */
export function sqlite(): Sqlite {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const file = process.env.POOLTAG_SQLITE_ADDON;
  if (file) {
    try {
      // as require() loads a .node file, whatever the file is named
      const m = { exports: {} as object };
      process.dlopen(m, file);
      return (loaded = { Database: BetterSqlite3, addon: m.exports, name: file });
    } catch (err) {
      const why = oneLine(err);
      throw new SqliteLoadError(why.includes(file) ? why : `${file}: ${why}`);
    }
  }
  const problems: string[] = [];
  if (NODE_API >= 10) {
    try {
      const dir = dirname(require.resolve('better-sqlite3/package.json'));
      // the package's own choice: build/ when compiled on purpose, else prebuilds/<platform>-<arch>.node
      const binding = require(join(dir, 'lib', 'binding.js')) as { getBinding(nativeBinding: null): object };
      return (loaded = { Database: BetterSqlite3, addon: binding.getBinding(null), name: `better-sqlite3 ${version(require, 'better-sqlite3')}` });
    } catch (err) {
      problems.push(`better-sqlite3 13: ${oneLine(err)}`);
    }
  }
  try {
    const dir = dirname(require.resolve('better-sqlite3-node20/package.json'));
    const addon = require(join(dir, 'build', 'Release', 'better_sqlite3.node')) as object;
    const Database = require('better-sqlite3-node20') as typeof BetterSqlite3;
    return (loaded = { Database, addon, name: `better-sqlite3 ${version(require, 'better-sqlite3-node20')}` });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not installed or not compiled (it is compiled at install, which needs python3, make and a C++ compiler)' : oneLine(err);
    problems.push(`better-sqlite3 12: ${why}`);
  }
  const remedy =
    NODE_API >= 10
      ? 'reinstall pooltag with this Node.js, or use pooltag.exe'
      : 'use Node.js 22 or later (better-sqlite3 13 needs Node-API 10), or compile better-sqlite3 12 for this Node.js (npm rebuild better-sqlite3-node20), or use pooltag.exe';
  throw new SqliteLoadError(`${problems.join('; ')}; ${remedy}`);
}

/** A database with the addon of `sqlite()`: what the store and the tests open. */
export function openSqlite(path: string, options: SqliteOptions = {}): SqliteDatabase {
  const { Database, addon } = sqlite();
  // @types/better-sqlite3 types the option as a path; the library takes the loaded addon too
  return new Database(path, { ...options, nativeBinding: addon as unknown as string });
}

function version(require: NodeJS.Require, name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

/** An error's message as one line (Windows messages end in, or hold, CR LF). */
export function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
