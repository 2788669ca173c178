/**
 * Windows conventions, run on any system through the switch the code reads
 * (POOLTAG_WINDOWS_CONVENTIONS=1, or an explicit argument): wildcards in file arguments,
 * paths that do not differ by case (scan input, cache, base), folders that cannot be listed,
 * default folders this machine lacks, an --include that matches nothing, a SQLite module that
 * cannot load, one-line errors, help examples without single quotes.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorLine } from '../src/cli/main.js';
import { discover } from '../src/discover/discover.js';
import { Store } from '../src/knowledge/store.js';
import { isWindowsPath, pathKey, windowsConventions } from '../src/platform/paths.js';
import { expandWildcards, wildcardPattern } from '../src/platform/wildcards.js';
import type { ScanReport } from '../src/report/types.js';
import { ScanCache } from '../src/scan/cache.js';
import { presentRoots } from '../src/scan/scan.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const fx = join(root, 'test/fixtures/bin');
const driver = join(fx, 'x64-clang-O2/core.sys');
const tmp = mkdtempSync(join(tmpdir(), 'pooltag-win-'));

function run(args: string[], env: Record<string, string> = {}, cwd = root) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` before the tests');
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A folder of drivers named as Windows names them (upper and mixed case, brackets and spaces). */
const drivers = join(tmp, 'drivers');
beforeAll(async () => {
  mkdirSync(join(drivers, 'Vendor [x64] (old)'), { recursive: true });
  for (const n of ['HIDCLASS.SYS', 'hidparse.sys', 'HidUsb.Sys', 'ndis.sys', 'readme.txt']) copyFileSync(driver, join(drivers, n));
  copyFileSync(driver, join(drivers, 'Vendor [x64] (old)', 'vendor.sys'));
});
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));

describe('wildcards in file arguments', () => {
  it('only * and ? are wildcards; brackets, parentheses and braces are file name characters', () => {
    expect(wildcardPattern('C:\\Drivers\\Vendor [x64] (old)\\*.sys')).toBe('C:/Drivers/Vendor \\[x64\\] \\(old\\)/*.sys');
    expect(wildcardPattern('a{b}!c\\hid?.sys')).toBe('a\\{b\\}\\!c/hid?.sys');
  });

  it('expanded as cmd.exe users expect: case-insensitive, sorted, in place; no match stays as typed', async () => {
    const on = { apply: true, cwd: drivers };
    expect(await expandWildcards(['*.sys'], on)).toEqual(['HIDCLASS.SYS', 'hidparse.sys', 'HidUsb.Sys', 'ndis.sys']);
    expect(await expandWildcards(['before', 'hid*.sys', 'after'], on)).toEqual(['before', 'HIDCLASS.SYS', 'hidparse.sys', 'HidUsb.Sys', 'after']);
    expect(await expandWildcards(['HID?SB.SYS'], on)).toEqual(['HidUsb.Sys']);
    // backslashes, and a folder whose name has brackets and parentheses
    expect(await expandWildcards([`${drivers}\\Vendor [x64] (old)\\*.SYS`.replace(/\//g, '\\')], on)).toEqual([join(drivers, 'Vendor [x64] (old)', 'vendor.sys')]);
    expect(await expandWildcards(['nothing*.sys', '-', 'plain.sys'], on)).toEqual(['nothing*.sys', '-', 'plain.sys']);
  });

  it('not expanded where the shell does it (Linux, macOS) unless Windows conventions are switched on', async () => {
    expect(await expandWildcards(['*.sys'], { apply: false, cwd: drivers })).toEqual(['*.sys']);
    expect(windowsConventions({}, 'linux')).toBe(false);
    expect(windowsConventions({}, 'win32')).toBe(true);
    expect(windowsConventions({ POOLTAG_WINDOWS_CONVENTIONS: '1' }, 'linux')).toBe(true);
  });

  it('inspect and tags take wildcards and folders', async () => {
    const w = { POOLTAG_WINDOWS_CONVENTIONS: '1' };
    const r = run(['inspect', '--json', 'hid*.sys', 'Vendor [x64] (old)'], w, drivers);
    expect(r.code).toBe(0);
    const paths = (JSON.parse(r.out) as { path: string }[]).map((x) => x.path);
    expect(paths).toEqual(['HIDCLASS.SYS', 'hidparse.sys', 'HidUsb.Sys', join(drivers, 'Vendor [x64] (old)', 'vendor.sys')].map((p) => resolve(drivers, p)));
    const t = run(['tags', '--json', '--find', 'FxAp', 'HID*.SYS'], w, drivers);
    expect(t.code).toBe(0);
    expect((JSON.parse(t.out) as unknown[]).length).toBe(3);
    // without the switch (a Unix shell would have expanded it): a file named *.sys does not exist
    const literal = run(['inspect', 'hid*.sys'], {}, drivers);
    expect(literal.code).toBe(2);
    expect(literal.out).toMatch(/hid\*\.sys\n\s+error\s+no such file/);
  });
});

describe('paths compared without case on Windows', () => {
  it('pathKey folds case and slashes only under Windows conventions', async () => {
    expect(pathKey('C:\\WINDOWS\\System32/drivers\\NDIS.SYS', true)).toBe(pathKey('c:\\windows\\system32\\drivers\\ndis.sys', true));
    expect(pathKey('/a/B.sys', false)).toBe('/a/B.sys');
    expect(isWindowsPath('C:\\Windows')).toBe(true);
    expect(isWindowsPath('\\\\server\\share\\x.sys')).toBe(true);
    expect(isWindowsPath('/mnt/c/Windows')).toBe(false);
  });

  describe('with POOLTAG_WINDOWS_CONVENTIONS=1', () => {
    beforeAll(async () => {
      process.env.POOLTAG_WINDOWS_CONVENTIONS = '1';
    });
    afterAll(async () => {
      delete process.env.POOLTAG_WINDOWS_CONVENTIONS;
    });

    it('scan input: one file named twice in different case is one candidate', async () => {
      const c = await discover([join(drivers, 'ndis.sys'), join(drivers, 'NDIS.SYS'), drivers]);
      const keys = c.map((x) => pathKey(x.path));
      expect(new Set(keys).size).toBe(keys.length);
      expect(c.filter((x) => /ndis\.sys$/i.test(x.path)).map((x) => x.path)).toEqual([join(drivers, 'ndis.sys')]);
    });

    it('cache: a path typed in another case finds the cached result', async () => {
      const file = join(tmp, 'cache.json');
      const cache = await ScanCache.open(file, 4);
      const image = { sha256: 'a'.repeat(64), size: 10 } as never;
      cache.set('C:\\WINDOWS\\System32\\drivers\\ndis.sys', 10, 1000, image);
      expect(await cache.lookup('c:\\Windows\\system32\\DRIVERS\\NDIS.SYS', 10, 1000)).toBe(image);
      delete process.env.POOLTAG_WINDOWS_CONVENTIONS;
      expect(await cache.lookup('c:\\Windows\\system32\\DRIVERS\\NDIS.SYS', 10, 1000)).toBeNull();
      process.env.POOLTAG_WINDOWS_CONVENTIONS = '1';
    });
  });

  it("base: a Windows host's driver seen under two spellings of its path is one sighting", async () => {
    const r = run(['scan', '--no-cache', '--quiet', '--out', join(tmp, 'one.json'), join(drivers, 'ndis.sys')]);
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(tmp, 'one.json'), 'utf8')) as ScanReport;
    const win = (paths: string[], at: string): ScanReport => ({
      ...report,
      host: { ...report.host, name: 'SRV01', platform: 'win32' },
      startedAt: at,
      finishedAt: at,
      files: paths.map((p) => ({ ...report.files[0], path: p })),
    });
    const store = await Store.open(join(tmp, 'case.db'));
    try {
      await store.mergeReport(win(['C:\\windows\\system32\\drivers\\ndis.sys'], '2026-01-01T00:00:00.000Z'));
      await store.mergeReport(win(['C:\\windows\\System32\\drivers\\ndis.sys', 'C:\\WINDOWS\\SYSTEM32\\DRIVERS\\NDIS.SYS'], '2026-02-01T00:00:00.000Z'));
      // a Linux host's paths keep their case: two files
      await store.mergeReport({ ...win(['/srv/drivers/ndis.sys', '/srv/drivers/NDIS.sys'], '2026-03-01T00:00:00.000Z'), host: { ...report.host, name: 'lnx', platform: 'linux' } });
      const rows = store.db.prepare('SELECT h.name, s.path, s.first_seen, s.last_seen FROM sightings s JOIN hosts h ON h.id = s.host_id ORDER BY h.name, s.path').all();
      expect(rows).toEqual([
        { name: 'SRV01', path: 'C:\\windows\\system32\\drivers\\ndis.sys', first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-02-01T00:00:00.000Z' },
        { name: 'lnx', path: '/srv/drivers/NDIS.sys', first_seen: '2026-03-01T00:00:00.000Z', last_seen: '2026-03-01T00:00:00.000Z' },
        { name: 'lnx', path: '/srv/drivers/ndis.sys', first_seen: '2026-03-01T00:00:00.000Z', last_seen: '2026-03-01T00:00:00.000Z' },
      ]);
    } finally {
      await store.close();
    }
  });
});

describe('folders and roots', () => {
  it('a folder that cannot be listed is reported once, however many roots reach it', async () => {
    const locked = join(drivers, 'Vendor [x64] (old)');
    const denying = {
      readdir: ((dir: string, ...rest: unknown[]) => {
        const cb = rest.pop() as (e: NodeJS.ErrnoException | null, x?: unknown) => void;
        if (resolve(dir) === locked) return cb(Object.assign(new Error(`EACCES: permission denied, scandir '${dir}'\r\n`), { code: 'EACCES' }));
        return (fs.readdir as (...a: unknown[]) => void)(dir, ...rest, cb);
      }) as never,
    };
    const c = await discover([drivers, locked, drivers], { fs: denying });
    const problems = c.filter((x) => x.problem);
    expect(problems).toEqual([
      { path: locked, size: null, mtimeMs: null, problem: { code: 'unreadable', message: `folder cannot be listed (EACCES: EACCES: permission denied, scandir '${locked}'); the files in it were not looked at` } },
    ]);
    expect(c.filter((x) => !x.problem).map((x) => x.path.slice(drivers.length + 1))).toEqual(['HIDCLASS.SYS', 'HidUsb.Sys', 'hidparse.sys', 'ndis.sys', 'readme.txt']); // a driver by its bytes
  });

  it('a default folder this machine lacks is skipped with a note; none at all is an error', async () => {
    const notes: string[] = [];
    const missing = join(tmp, 'DriverStore', 'FileRepository');
    expect(presentRoots([drivers, missing], (m) => notes.push(m))).toEqual([drivers]);
    expect(notes).toEqual([`${missing} does not exist on this machine; skipped`]);
    expect(() => presentRoots([missing])).toThrow(/none of the default driver folders exists/);
  });

  it('an --include that matches nothing is a warning and exit 1, with the fix when cmd.exe kept the quotes', () => {
    const r = run(['scan', '--no-cache', '--include', "'**/*.sys'", '--out', join(tmp, 'none.json'), drivers]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`pooltag scan: warning: --include '**/*.sys' matched no file under ${drivers}; the single quotes are part of the pattern (cmd.exe keeps them): write --include "**/*.sys"\n`);
    const ok = run(['scan', '--no-cache', '--quiet', '--include', '**/*.SYS', '--out', join(tmp, 'some.json'), drivers]);
    expect(ok.code).toBe(0);
  });
});

describe('a SQLite module that cannot load', () => {
  const db = join(tmp, 'kb.db');
  // a Windows DLL where the Linux addon should be: what a Windows copy of Linux's build meets, the other way round
  const env = { POOLTAG_SQLITE_ADDON: driver };
  beforeAll(async () => {
    expect(run(['scan', '--no-cache', '--quiet', '--out', join(tmp, 'r.json'), drivers]).code).toBe(0);
    expect(run(['merge', '--db', db, join(tmp, 'r.json')]).code).toBe(0);
  });

  it('says exactly that, in one line, and exit 1', () => {
    const r = run(['lookup', '--db', db, 'FxAp'], env);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^pooltag lookup: the SQLite module cannot be loaded by Node\\.js ${process.version.replace(/\./g, '\\.')} \\(${process.platform}-${process.arch}\\), so the knowledge base ${db.replace(/[.]/g, '\\.')} cannot be opened: `));
    expect(r.err).not.toMatch(/no knowledge base/);
    expect(r.err.split('\n')).toHaveLength(2); // one line and its end
  });

  it('triage answers without the base, and says so', () => {
    const plain = run(['triage', '--db', db, 'test/triage/poolmon-2019.txt']);
    expect(plain.out).toMatch(/FxAp .*core\.sys \(Pooltag Fixtures\)/);
    const r = run(['triage', '--db', db, 'test/triage/poolmon-2019.txt'], env);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^pooltag triage: the SQLite module cannot be loaded .*; answering without the knowledge base \(owners from the input only\)\n$/);
    expect(r.out).toMatch(/Verdict/);
    expect(r.out).not.toMatch(/core\.sys/);
    expect(r.out).toMatch(/The knowledge base could not be used: the SQLite module cannot be loaded\s+here\./);
    expect(r.out).toMatch(/knowledge base \S+kb\.db not used:\s+the\s+SQLite\s+module\s+cannot\s+be\s+loaded\s+here\n$/);
    const j = JSON.parse(run(['triage', '--json', '--db', db, 'test/triage/poolmon-2019.txt'], env).out) as { knowledgeBase: unknown; knowledgeBaseProblem: string };
    expect(j.knowledgeBase).toBeNull();
    expect(j.knowledgeBaseProblem).toMatch(/^the SQLite module cannot be loaded/);
  });
});

describe('one-line errors and examples that work in every shell', () => {
  it('a Windows message with CR LF inside is one line', async () => {
    const e = Object.assign(new Error("EPERM: operation not permitted, open 'C:\\x'\r\n"), { code: 'EPERM' });
    expect(errorLine(e, 'merge', false)).toBe("pooltag merge: EPERM: operation not permitted, open 'C:\\x'");
    expect(errorLine(new TypeError('Bad EXE format for:\r\nC:\\a.node.\r\n'), 'lookup', false)).toBe(
      'pooltag lookup: internal error: TypeError: Bad EXE format for: C:\\a.node. (run again with --debug for the stack trace, and report it)',
    );
  });

  it('no example in --help uses single quotes (cmd.exe keeps them)', async () => {
    const commands = ['', 'inspect', 'tags', 'scan', 'lookup', 'triage', 'search', 'merge', 'import-pooltag', 'show', 'stats', 'note', 'export'];
    for (const c of commands) {
      const h = run(c ? [c, '--help'] : ['--help']);
      expect(h.code).toBe(0);
      const examples = h.out.split('\n').filter((l) => /^\s+(pooltag|poolmon|Get-Content)\b/.test(l)).map((l) => l.replace(/\s+#.*$/, ''));
      expect(examples.length, c).toBeGreaterThan(0);
      for (const l of examples) expect(l, `${c}: ${l}`).not.toMatch(/'/);
    }
  });
});
