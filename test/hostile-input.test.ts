/**
 * Bad and hostile input, as a user meets it: a knowledge base that refuses files that are not
 * its own (without touching them), and every command given a missing file, a folder, binary
 * garbage, a future or truncated report, an empty / foreign / non-SQLite --db, or a 5-character
 * tag: one line that says what is wrong and where, a non-zero exit, no stack trace unless
 * --debug, and nothing half-written.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorLine } from '../src/cli/main.js';
import { openSqlite } from '../src/knowledge/sqlite.js';
import { APPLICATION_ID, SCHEMA_VERSION, Store, StoreError } from '../src/knowledge/store.js';
import { reportLines } from '../src/report/write.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { repoRoot } from './helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-hostile-'));
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));
const bin = join(repoRoot, 'bin/pooltag');
const fx = join(repoRoot, 'test/fixtures/bin');

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const listing = (d: string) => readdirSync(d).sort();

/** A file of another application: an SQLite database with its own table and no application_id. */
function foreignDb(path: string, applicationId = 0): void {
  const db = openSqlite(path);
  db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('Contoso');");
  if (applicationId) db.pragma(`application_id = ${applicationId}`);
  db.close();
}

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp, input });
}

/** One line on stderr matching `re`, exit `code`, no stack trace. */
function expectOneLine(r: ReturnType<typeof run>, code: number, re: RegExp): void {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

let report: ScanReport;
let reportFile: string;
beforeAll(async () => {
  report = await scan({ paths: [join(fx, 'x64-mingw-O2'), join(fx, 'arm64-clang-O2')], jobs: 2, cache: null });
  reportFile = join(tmp, 'report.json');
  writeFileSync(reportFile, JSON.stringify(report));
});

// ---------------------------------------------------------------------------------------

describe('the knowledge base knows what it is', () => {
  it('a new file and a 0-byte file become bases marked with application_id and the schema version', async () => {
    for (const f of [join(tmp, 'new.db'), join(tmp, 'zero.db')]) {
      if (f.endsWith('zero.db')) writeFileSync(f, '');
      await (await Store.open(f)).close();
      const db = openSqlite(f, { readonly: true });
      expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
      expect(APPLICATION_ID).toBe(Buffer.from('PTag').readUInt32BE(0));
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      db.close();
    }
  });

  it('an empty SQLite database (no tables) becomes a base', async () => {
    const f = join(tmp, 'empty-sqlite.db');
    const db = openSqlite(f);
    db.pragma('user_version = 0');
    db.exec('VACUUM');
    db.close();
    await (await Store.open(f)).close();
    const check = openSqlite(f, { readonly: true });
    expect(check.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    check.close();
  });

  it('a base made before the id existed (our tables, user_version set, application_id 0) is adopted, its data kept', async () => {
    const f = join(tmp, 'old.db');
    const s = await Store.open(f);
    await s.mergeReport(report, 'old');
    const before = await s.stats();
    await s.close();
    const db = openSqlite(f);
    db.pragma('application_id = 0');
    db.close();
    const again = await Store.open(f, { readonly: true });
    expect(await again.stats()).toMatchObject({ drivers: before.drivers, evidence: before.evidence, reports: 1 });
    again.close();
    const check = openSqlite(f, { readonly: true });
    expect(check.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    check.close();
  });

  it('refuses, in one line and without changing a byte or adding a file, what is not its own', async () => {
    const dir = join(tmp, 'not-ours');
    mkdirSync(dir);
    const cases: [string, () => void, RegExp][] = [
      ['foreign.db', () => foreignDb(join(dir, 'foreign.db')), /belongs to another application .*tables customers/],
      ['foreign-id.db', () => foreignDb(join(dir, 'foreign-id.db'), 0x12345678), /belongs to another application .*application_id 0x12345678/],
      ['text.db', () => writeFileSync(join(dir, 'text.db'), 'hostname,os\nsrv1,Windows\n'), /not an SQLite file \(it starts with "hostname,os.srv1"\)/],
      ['short.db', () => writeFileSync(join(dir, 'short.db'), 'SQLite format 3\0'), /not an SQLite file/],
      ['garbage.db', () => writeFileSync(join(dir, 'garbage.db'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff))), /not an SQLite file/],
    ];
    for (const [name, make, re] of cases) {
      make();
      const f = join(dir, name);
      const before = sha(f);
      const files = listing(dir);
      for (const readonly of [false, true]) {
        let err: unknown = null;
        try {
          await (await Store.open(f, { readonly })).close();
        } catch (e) {
          err = e;
        }
        expect(err, name).toBeInstanceOf(StoreError);
        expect((err as Error).message, name).toMatch(re);
        expect((err as Error).message).not.toMatch(/\n/);
      }
      expect(sha(f), name).toBe(before);
      expect(listing(dir), name).toEqual(files);
    }
    await expect(Store.open(dir)).rejects.toThrow(/is a folder, not a knowledge base file/);
  });
});

// ---------------------------------------------------------------------------------------

describe('every command: bad input gives one line, a non-zero exit, no stack trace, nothing half-written', () => {
  let good: string;
  let goodStats: Awaited<ReturnType<Store['stats']>>;
  beforeAll(async () => {
    good = join(tmp, 'good.db');
    const s = await Store.open(good);
    await s.mergeReport(report, reportFile);
    goodStats = await s.stats();
    await s.close();
  });
  const statsOf = async (f: string) => {
    const s = await Store.open(f, { readonly: true });
    try {
      const { index: _index, ...rest } = await s.stats();
      return rest;
    } finally {
      await s.close();
    }
  };

  it('a missing file', async () => {
    expectOneLine(run(['merge', '--db', join(tmp, 'm1.db'), 'missing.json']), 2, /^pooltag merge: missing\.json: no such file or folder$/);
    expectOneLine(run(['import-pooltag', '--db', join(tmp, 'm2.db'), 'missing.txt']), 2, /^pooltag import-pooltag: .*missing\.txt: no such file/);
    expectOneLine(run(['lookup', '--db', join(tmp, 'missing.db'), 'FxAp']), 1, /^pooltag lookup: no knowledge base at .*missing\.db \(no such file\)/);
    expectOneLine(run(['stats', '--db', join(tmp, 'missing.db')]), 1, /^pooltag stats: no knowledge base/);
    for (const cmd of ['inspect', 'tags']) {
      const r = run([cmd, 'missing.sys']);
      expect(r.status).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/missing\.sys[\s\S]*no such file/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    const s = run(['scan', '--no-cache', '--out', join(tmp, 'm.json'), join(tmp, 'nowhere')]);
    expect(s.status).toBe(2);
    expect(JSON.parse(readFileSync(join(tmp, 'm.json'), 'utf8')).files[0]).toMatchObject({ error: { code: 'not-found' } });
    for (const f of ['m1.db', 'm2.db', 'missing.db']) expect(existsSync(join(tmp, f)), f).toBe(false);
  });

  it('a folder where a file is expected', async () => {
    const dir = join(tmp, 'a-folder');
    mkdirSync(dir);
    expectOneLine(run(['import-pooltag', '--db', join(tmp, 'f1.db'), dir]), 2, /^pooltag import-pooltag: .*a-folder: is a directory, not a file$/);
    expectOneLine(run(['merge', '--db', join(tmp, 'f2.db'), dir]), 2, /^pooltag merge: .*a-folder: a folder with no reports in it/);
    expectOneLine(run(['lookup', '--db', dir, 'FxAp']), 1, /^pooltag lookup: .*a-folder is a folder, not a knowledge base file/);
    expectOneLine(run(['merge', '--db', dir, reportFile]), 1, /^pooltag merge: .*a-folder is a folder, not a knowledge base file/);
    expectOneLine(run(['scan', '--no-cache', '--out', join(dir, 'no-such-folder', 'r.json'), join(fx, 'x64-mingw-O2')]), 1, /^pooltag scan: --out .*r\.json: the folder .*no-such-folder does not exist$/);
    // inspect and tags search a folder, as scan does; one with no PE file in it is an error
    for (const cmd of ['inspect', 'tags']) {
      const r = run([cmd, dir]);
      expect(r.status, cmd).toBe(2);
      expect(r.stdout, cmd).toMatch(/a-folder\n\s+error:? +a folder with no PE file in it \(\*\.sys, \*\.dll, \*\.exe, \*\.drv\)\n$/);
    }
    expect(listing(dir)).toEqual([]);
    for (const f of ['f1.db', 'f2.db']) expect(existsSync(join(tmp, f)), f).toBe(false);
  });

  it('binary garbage as pooltag.txt', async () => {
    const g = join(tmp, 'garbage.txt');
    writeFileSync(g, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 197 + (i >> 3)) & 0xff)));
    expectOneLine(run(['import-pooltag', '--db', join(tmp, 'g.db'), g]), 2, /^pooltag import-pooltag: .*garbage\.txt: not a pooltag\.txt: binary data \(a NUL byte at offset 0x[0-9a-f]+\)$/);
    expect(existsSync(join(tmp, 'g.db'))).toBe(false);
    const prose = join(tmp, 'prose.txt');
    writeFileSync(prose, 'Dear team,\nthe server is slow again.\nAb - x.sys - one line that looks like an entry\nRegards\n');
    expectOneLine(run(['import-pooltag', '--db', good, prose]), 2, /not a pooltag\.txt: only 1 of 4 lines are tag entries \(first bad line 1\)/);
    expect(await statsOf(good)).toMatchObject({ pooltagEntries: 0 });
  });

  it('a report of a future schema version, and a base of a future schema version', () => {
    const f = join(tmp, 'future.json');
    writeFileSync(f, JSON.stringify({ ...report, schemaVersion: 99 }));
    expectOneLine(run(['merge', '--db', join(tmp, 'fu.db'), f]), 2, /^pooltag merge: .*future\.json: schemaVersion 99 is newer than this pooltag reads \(2\); upgrade pooltag$/);
    expect(existsSync(join(tmp, 'fu.db'))).toBe(false);
    const base = join(tmp, 'future.db');
    copyFileSync(good, base);
    const db = openSqlite(base);
    db.pragma('user_version = 99');
    db.close();
    const before = sha(base);
    expectOneLine(run(['lookup', '--db', base, 'FxAp']), 1, /^pooltag lookup: .*future\.db has schema version 99, newer than this pooltag/);
    expectOneLine(run(['merge', '--db', base, reportFile]), 1, /^pooltag merge: .*future\.db has schema version 99/);
    expect(sha(base)).toBe(before);
  });

  it('an empty, a foreign and a non-SQLite --db', () => {
    const empty = join(tmp, 'empty.db');
    writeFileSync(empty, '');
    expectOneLine(run(['lookup', '--db', empty, 'FxAp']), 1, /^pooltag lookup: no knowledge base at .*empty\.db \(the file is empty\)/);
    expect(readFileSync(empty).length).toBe(0);
    // ... and a merge makes it a base
    const m = run(['merge', '--json', '--db', empty, reportFile]);
    expect(m.status).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ merged: 1 });
    expect(run(['lookup', '--db', empty, 'FxAp']).status).toBe(0);

    const foreign = join(tmp, 'crm.db');
    foreignDb(foreign);
    const notSqlite = join(tmp, 'notes.db');
    writeFileSync(notSqlite, 'just some notes\r\n');
    for (const [f, re] of [
      [foreign, /crm\.db belongs to another application \(an SQLite file with no application_id and tables customers, not a pooltag base\); left unchanged$/],
      [notSqlite, /notes\.db is not a pooltag knowledge base: it is not an SQLite file \(it starts with "just some notes."\); left unchanged$/],
    ] as const) {
      const before = sha(f);
      const files = listing(tmp);
      for (const args of [
        ['merge', '--db', f, reportFile],
        ['import-pooltag', '--db', f, join(repoRoot, 'test/data/pooltag-synthetic-old.txt')],
        ['note', '--db', f, 'Abcd', 'text'],
        ['lookup', '--db', f, 'FxAp'],
        ['search', '--db', f, 'tag:FxAp'],
        ['show', '--db', f, 'core.sys'],
        ['stats', '--db', f],
      ]) {
        expectOneLine(run(args), 1, new RegExp(`^pooltag ${args[0]}: .*${re.source}`));
      }
      expect(sha(f)).toBe(before);
      expect(listing(tmp)).toEqual(files);
    }
  });

  it('issue 22, item 13: option errors, --out a folder, a binary report, a short SHA-256 prefix, an empty folder, show --json of nothing', () => {
    // Commander's errors: one line with the command's prefix.
    expectOneLine(run(['lookup', '--db', good, '--bogus', 'ShAp']), 1, /^pooltag lookup: unknown option '--bogus' \(pooltag lookup --help for usage\)$/);
    expectOneLine(run(['triage', '--sort', 'size', 'x.txt']), 1, /^pooltag triage: option '--sort <key>' argument 'size' is invalid\. Allowed choices are bytes, allocs, diff, tag\. \(pooltag triage --help for usage\)$/);
    expectOneLine(run(['tags']), 1, /^pooltag tags: missing required argument 'path'/);
    expectOneLine(run(['no-such-command']), 1, /^pooltag: unknown command 'no-such-command'/);
    // export --out a folder: said before anything is written, no temporary file's name.
    const folder = join(tmp, 'a-folder');
    mkdirSync(folder, { recursive: true });
    expectOneLine(run(['export', '--db', good, '--format', 'csv', '--out', folder]), 1, /^pooltag export: --out .*a-folder: is a folder; give a file name \(e\.g\. .*pooltags\.csv\)$/);
    expect(readdirSync(folder)).toEqual([]);
    // merge of a binary file: where its NUL byte is, not its bytes (a gzipped report is read: issue 20).
    const gz = join(tmp, 'report.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(reportFile)));
    expect(run(['merge', '--db', join(tmp, 'gz.db'), gz]).status).toBe(0);
    const binFile = join(tmp, 'report.json');
    writeFileSync(binFile, readFileSync(join(repoRoot, 'test/fixtures/bin/x64-clang-O2/core.sys')));
    const m = run(['merge', '--db', join(tmp, 'bin.db'), binFile]);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/^pooltag merge: .*report\.json: binary data \(a NUL byte at offset 0x[0-9a-f]+\), not a scan report/);
    const cut = join(tmp, 'cut.json.gz');
    writeFileSync(cut, gzipSync(readFileSync(reportFile)).subarray(0, 200));
    expectOneLine(run(['merge', '--db', join(tmp, 'cut.db'), cut]), 2, /^pooltag merge: .*cut\.json\.gz: a gzip file that does not unpack \(.*\); copied incompletely\?$/);
    expect(m.stderr).not.toMatch(/[\x00-\x08\ufffd]/);
    // show with fewer than 8 hex digits says why it found nothing; --json answers JSON.
    expectOneLine(run(['show', '--db', good, 'ab262f']), 3, /a SHA-256 prefix needs 8 or more hex digits \("ab262f" has 6\)$/);
    const sj = run(['show', '--json', '--db', good, 'nope.sys']);
    expect(sj.status).toBe(3);
    expect(JSON.parse(sj.stdout)).toEqual([]);
    // tags on a folder with no driver in it: one line, not a blank one, and not exit 0.
    const empty = join(tmp, 'no-drivers');
    mkdirSync(empty, { recursive: true });
    // The folder is reported as the one input that could not be read (as inspect does), with exit 2.
    const t = run(['tags', empty]);
    expect(t.status).toBe(2);
    expect(t.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(/no-drivers$/), '  error: a folder with no PE file in it (*.sys, *.dll, *.exe, *.drv)']);
    expect(t.stderr).not.toMatch(/^\s+at /m);
  });

  it('a tag of 5 characters', async () => {
    expectOneLine(run(['lookup', '--db', good, 'ShApX']), 1, /^pooltag lookup: tag 'ShApX' is 5 characters long; a pool tag has at most 4$/);
    expectOneLine(run(['note', '--db', good, 'ShApX', 'text']), 1, /^pooltag note: tag 'ShApX' is 5 characters long/);
    expectOneLine(run(['tags', '--find', 'ShApX', join(fx, 'x64-mingw-O2')]), 1, /^pooltag tags: --find "ShApX": tag 'ShApX' is 5 characters long/);
    expect(await statsOf(good)).toMatchObject({ notes: 0 });
  });

  it('a report truncated in the middle (JSON, NDJSON mid-line, NDJSON at a line boundary) is refused whole', async () => {
    const json = JSON.stringify(report);
    const nd = [...reportLines(report)].join('');
    const ndLines = nd.split('\n');
    const cuts = {
      'cut.json': json.slice(0, Math.floor(json.length / 2)),
      'cut-line.ndjson': nd.slice(0, Math.floor(nd.length / 2)),
      'cut-boundary.ndjson': ndLines.slice(0, Math.ceil(ndLines.length / 2)).join('\n') + '\n',
    };
    const before = await statsOf(good);
    for (const [name, text] of Object.entries(cuts)) {
      const f = join(tmp, name);
      writeFileSync(f, text);
      const r = run(['merge', '--db', good, f]);
      expect(r.status, name).toBe(2);
      const err = r.stderr.trimEnd().split('\n');
      expect(err, name).toHaveLength(1);
      expect(err[0], name).toMatch(new RegExp(`^pooltag merge: .*${name.replace('.', '\\.')}: (not JSON|line \\d+: not JSON|truncated or edited: the summary lists \\d+ (files|images) but \\d+ are in the report)`));
      expect(await statsOf(good), name).toEqual(before);
      // and into a new base: nothing is left behind
      const fresh = join(tmp, `fresh-${name}.db`);
      expect(run(['merge', '--db', fresh, f]).status).toBe(2);
      expect(existsSync(fresh)).toBe(false);
    }
    expect(goodStats.reports).toBe(1);
  });

  it('--debug adds the stack trace to an unexpected error; a user error stays one line with it', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    expect(errorLine(bug, 'merge', false)).toBe(
      "pooltag merge: internal error: TypeError: Cannot read properties of undefined (reading 'x') (run again with --debug for the stack trace, and report it)",
    );
    const withStack = errorLine(bug, 'merge', true);
    expect(withStack).toMatch(/^pooltag merge: TypeError: Cannot read/);
    expect(withStack).toMatch(/\n\s+at /);
    expectOneLine(run(['--debug', 'lookup', '--db', join(tmp, 'notes.db'), 'FxAp']), 1, /not an SQLite file/);
    expect(run(['lookup', '--help']).status).toBe(0);
    expect(run(['--help']).stdout).toMatch(/--debug/);
  });
});
