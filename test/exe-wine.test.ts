/**
 * pooltag.exe on Windows: the x64 executable that `npm run build:exe` makes, run under Wine
 * (Debian's wine, prefix set to Windows 10) over the fixtures, command by command as an
 * engineer runs it: scan, merge, import-pooltag, lookup, triage, export --format html. Each
 * result must equal the Linux run's (bin/pooltag on this machine's Node.js), once the paths
 * (Z:\...\ against /...), the clock (scan and merge times, per-file timings) and what follows
 * from them (a report's digest covers its host, time and paths) are set aside.
 *
 * Needs wine and dist-exe/win-x64/pooltag.exe (`npm run build:exe`); without them one skipped
 * test says so, and under POOLTAG_REQUIRE_TOOLS=1 (CI) it fails. Under Wine, Node.js fails
 * with EBADF when stdout or stderr is a pipe: each goes to a file of its own.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, inflateRawSync } from 'node:zlib';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeWithToolsIf, hasTool } from './helpers/shared.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const exe = join(root, 'dist-exe', 'win-x64', 'pooltag.exe');
const prefix = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pooltag-dev', 'wine-prefix');

const missing = [!hasTool('wine', ['--version']) ? 'wine on PATH (apt-get install wine)' : null, !existsSync(exe) ? 'dist-exe/win-x64/pooltag.exe (npm run build:exe)' : null].filter(Boolean).join(' and ');

/** Z:\ is the root of the Unix file system in every Wine prefix. */
const winPath = (p: string) => `Z:${p.replace(/\//g, '\\')}`;

describeWithToolsIf('pooltag.exe under Wine gives the Linux results', missing || null, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pooltag-wine-'));
  const lin = join(tmp, 'linux');
  const win = join(tmp, 'windows');
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', LOCALAPPDATA: '', POOLTAG_DB: '' };

  function wine(args: string[]) {
    const out = join(tmp, 'stdout');
    const err = join(tmp, 'stderr');
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync('wine', [exe, ...args], { env, stdio: ['ignore', fds[0], fds[1]], cwd: root, timeout: 180_000 });
      return { code: r.status, out: readFileSync(out, 'utf8'), err: readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }
  function linux(args: string[]) {
    const r = spawnSync(process.execPath, [join(root, 'bin/pooltag'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, POOLTAG_DB: '' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  /**
   * What may differ between the two runs: where the files are (and the separator), when
   * things ran (times and durations), the host's system, the generation counter's source
   * paths. Everything else must be equal.
   */
  function same(value: string): unknown {
    const clock = /^(digest|lastMerge|lastImport|startedAt|finishedAt|firstSeen|lastSeen|first_seen|last_seen|mergedAt|importedAt|generatedAt|builtAt|durationMs|ms|seconds|host|hosts|platform|os|release|windowsBuild|wsl|jobs|cache)$/;
    const place = (s: string) => {
      for (const [from, to] of [[winPath(root), '<root>'], [winPath(tmp), '<tmp>'], [root, '<root>'], [tmp, '<tmp>']] as const) {
        if (s.includes(from)) s = s.split(from).join(to).replace(/\\/g, '/').replace(/<tmp>\/(linux|windows)/g, '<tmp>/<run>');
      }
      return s;
    };
    return JSON.parse(value, (k, v: unknown) => (clock.test(k) ? '<varies>' : typeof v === 'string' ? place(v) : v));
  }

  beforeAll(() => {
    mkdirSync(lin);
    mkdirSync(win);
    if (!existsSync(join(prefix, 'system.reg'))) {
      mkdirSync(prefix, { recursive: true });
      spawnSync('wineboot', ['-i'], { env, stdio: 'ignore', timeout: 300_000 });
      spawnSync('winecfg', ['-v', 'win10'], { env, stdio: 'ignore', timeout: 120_000 });
    }
  }, 420_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const fixtures = 'test/fixtures/bin';
  const both = (args: (dir: string, p: (x: string) => string) => string[]) => ({ l: linux(args(lin, (x) => x)), w: wine(args(winPath(win), winPath)) });
  const at = (dir: string, name: string) => (dir.startsWith('Z:') ? `${dir}\\${name}` : join(dir, name));

  it('scan: the same files, images, tags and evidence', () => {
    const { l, w } = both((d, p) => ['scan', '--no-cache', '--quiet', '--jobs', '2', '--out', at(d, 'report.json'), p(join(root, fixtures))]);
    expect(l.code).toBe(0);
    expect([w.code, w.err]).toEqual([0, '']);
    const lr = same(readFileSync(join(lin, 'report.json'), 'utf8')) as { files: unknown[]; images: unknown[]; summary: { files: number } };
    const wr = same(readFileSync(join(win, 'report.json'), 'utf8')) as typeof lr;
    expect(wr.summary.files).toBeGreaterThan(70);
    expect(wr.files).toEqual(lr.files);
    expect(wr.images).toEqual(lr.images);
    expect(wr.summary).toEqual(lr.summary);
  }, 240_000);

  it('merge, import-pooltag: the same bases', () => {
    for (const args of [
      (d: string) => ['merge', '--json', '--db', at(d, 'kb.db'), at(d, 'report.json')],
      (d: string, p: (x: string) => string) => ['import-pooltag', '--json', '--db', at(d, 'kb.db'), '--label', 'synthetic', p(join(root, 'test/data/pooltag-synthetic-modern.txt'))],
      (d: string) => ['stats', '--json', '--db', at(d, 'kb.db')],
    ]) {
      const { l, w } = both(args);
      expect(l.code).toBe(0);
      expect([w.code, w.err]).toEqual([0, '']);
      expect(same(w.out)).toEqual(same(l.out));
    }
  }, 120_000);

  it('lookup and triage: the same answers', () => {
    for (const args of [
      (d: string) => ['lookup', '--json', '--builds', '--db', at(d, 'kb.db'), 'FxAp', 'FxV1', 'Ntf*', 'Zzzz'],
      (d: string, p: (x: string) => string) => ['triage', '--json', '--db', at(d, 'kb.db'), p(join(root, 'test/triage/poolmon-2019.txt'))],
      (d: string, p: (x: string) => string) => ['triage', '--json', '--db', at(d, 'kb.db'), ...['1', '2', '3'].map((n) => p(join(root, `test/triage/series-${n}.txt`)))],
    ]) {
      const { l, w } = both(args);
      expect(w.code).toBe(l.code);
      expect(w.err).toBe('');
      expect(same(w.out)).toEqual(same(l.out));
    }
    // and the text a user reads, on a terminal's width
    const { l, w } = both((d, p) => ['triage', '--db', at(d, 'kb.db'), p(join(root, 'test/triage/poolmon-2019.txt'))]);
    // from the verdict on (the header names the input, whose path differs)
    const verdict = (s: string) => s.replace(/\r\n/g, '\n').split('\nVerdict\n')[1].split('\n\nknowledge base')[0];
    expect(verdict(w.out)).toEqual(verdict(l.out));
    expect(w.out).toMatch(/FxAp holds 74% of nonpaged pool .*: core\.sys,/);
  }, 120_000);

  it('export --format html: the same page', () => {
    const { l, w } = both((d) => ['export', '--format', 'html', '--quiet', '--db', at(d, 'kb.db'), '--out', at(d, 'tags.html')]);
    expect(l.code).toBe(0);
    expect([w.code, w.err]).toEqual([0, '']);
    // The page's parts are compressed inside it (gzip, and raw DEFLATE for the first part):
    // compare what they unpack to (gzip's header names the OS, zlib's output may differ between
    // Node.js builds, and the paths inside differ by their separators).
    const unpacked = (html: string) =>
      html.replace(
        /(<script type="application\/octet-stream" id="[^"]+" data-encoding="(gzip|deflate-raw)-base64">)([^<]*)(<\/script>)/g,
        (_m, open: string, kind: string, b64: string, close: string) =>
          `${open}${(kind === 'gzip' ? gunzipSync : inflateRawSync)(Buffer.from(b64, 'base64')).toString('utf8')}${close}`,
      );
    const page = (dir: string) => unpacked(readFileSync(join(dir, 'tags.html'), 'utf8'));
    const data = (html: string) => html.replace(/\\\\/g, '/').replace(/Z:(?=\/)/g, '').replaceAll(`${tmp}/`, '').replace(/(linux|windows)\//g, '').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>');
    expect(page(win).length).toBeGreaterThan(10_000);
    expect(data(page(win))).toEqual(data(page(lin)));
  }, 120_000);
});
