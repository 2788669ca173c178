/**
 * `pooltag export` on a real base: the fixture drivers scanned and merged by the CLI, with
 * Microsoft's modern pooltag.txt (read in place from ../shared/pooltag/) imported. Every format
 * is exported by the CLI and read back: pooltag.txt by our own parser, localtag.txt line by
 * line, CSV by an RFC 4180 reader, JSON as JSON, and the HTML page in Debian's Chromium
 * (playwright-core), loaded from file://.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { exportCsv, exportJson, exportLocaltag, exportPooltag, exportTags, isDebuggerPooltag, type ExportTag } from '../src/answer/export/index.js';
import { csvField, excelText } from '../src/answer/export/rows.js';
import { parsePooltagTxt, POOLMON_TAG_FILE_LIMIT } from '../src/knowledge/pooltag-txt.js';
import { serialisedIndex } from '../src/knowledge/search-index.js';
import { Store } from '../src/knowledge/store.js';
import { requireTools } from './helpers/shared.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
// Our own pooltag.txt in Microsoft's format (test/data/, so that a fresh clone runs these too).
const MODERN = resolve(root, 'test', 'data', 'pooltag-synthetic-modern.txt');

function run(...args: string[]) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm install` (or `npm run build`) before the tests');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, maxBuffer: 256 << 20 });
  return { code: r.status, out: r.stdout, text: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-export-'));
const db = join(tmp, 'kb.db');
const out = (name: string) => join(tmp, name);

beforeAll(async () => {
  const scan = run('scan', '--no-cache', '--quiet', '--jobs', '2', '--out', out('report.json'), 'test/fixtures/bin');
  expect(scan.code, scan.err).toBe(0);
  expect(run('import-pooltag', '--db', db, '--label', 'Windows Kits 10 x64', MODERN).code).toBe(0);
  expect(run('merge', '--db', db, out('report.json')).code).toBe(0);
  // Every format below but the CLI runs writes from one collection of the base's tags.
  const store = await Store.open(db, { readonly: true });
  try {
    tags = (await exportTags(store)).tags;
    pooltagFile = (await exportPooltag(store, tags, { dbPath: db })).bytes;
  } finally {
    await store.close();
  }
}, 120_000);
let tags: ExportTag[];
let pooltagFile: Buffer;
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));

/** RFC 4180 reader (quoted fields with doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (field += c), i++;
    } else if (c === '"' && field === '') (quoted = true), i++;
    else if (c === ',') row.push(field), (field = ''), i++;
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), (i += 2);
    else if (c === '\n') throw new Error(`bare LF at ${i}`);
    else (field += c), i++;
  }
  if (field !== '' || row.length) throw new Error('last record has no CRLF');
  return rows;
}

describe('export --format pooltag', () => {
  it('every tag the base knows, in pooltag.txt format our own parser reads back; a header; no duplicate lines; sorted', () => {
    const text = pooltagFile.toString('latin1');
    expect(text).toMatch(/^\/\/\n\/\/ Written by pooltag \d+\.\d+\.\d+ \(pooltag export --format pooltag\) on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
    const file = parsePooltagTxt(pooltagFile);
    expect(file.lines.filter((l) => l.kind === 'other')).toEqual([]);
    const entries = file.entries;
    const raws = entries.map((e) => e.raw);
    expect(new Set(raws).size).toBe(raws.length);
    const keys = entries.map((e) => e.tag);
    expect([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(keys);
    // A scanned tag: the driver file names once each, vendor, version and the evidence.
    const fx = entries.filter((e) => e.tag === 'FxAp');
    expect(fx).toHaveLength(1);
    expect(fx[0].binaries).toEqual(['core.sys', 'core-x64-clang-o2.sys']);
    // One driver (the signed copy has OriginalFilename core.sys): every build in one owner.
    expect(fx[0].description).toMatch(/^Pooltag Fixtures 1\.2\.3\.4; ExAllocatePoolWithTag at 22 call sites \(.*\), 11 builds, high confidence \[pooltag scan\]$/);
    // Microsoft's entries are there as they were imported.
    const ms = parsePooltagTxt(readFileSync(MODERN));
    const afd = ms.entries.find((e) => e.tag === 'AfdA')!;
    expect(entries.find((e) => e.tag === 'AfdA' && e.binaryRaw === afd.binaryRaw)?.description).toBe(afd.description);
    // Shared tags get no scanned line, and the hostile driver's text stays one ASCII line.
    expect(entries.filter((e) => e.tag === 'None' && /pooltag scan/.test(e.description))).toEqual([]);
    const host = entries.find((e) => e.tag === 'HoSt')!;
    // HoSt is hostile.sys's, and pools.sys's too (the fixture of issue 21: the same tag from the other pool).
    expect(host.binaries).toEqual(['hostile.sys', 'pools.sys']);
    expect(host.description).toMatch(/\.\.\..*\[pooltag scan\]$|\[pooltag scan\]$/);
    expect(text).not.toMatch(/[^\x09\x0a\x0d\x20-\x7e]/);
  });

  it('--merge-with writes Microsoft\'s file through unchanged (before its 0x1A end byte) and adds ours', async () => {
    const r = run('export', '--db', db, '--format', 'pooltag', '--merge-with', MODERN, '--out', out('merged.txt'));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^wrote .*merged\.txt \(.*\): \d+ tags from scanned drivers, \d+ pooltag\.txt entries passed through unchanged\n  left out "Fx\.! \(0x21017846\)": a byte of the tag is not printable ASCII/);
    const merged = readFileSync(out('merged.txt'));
    const ms = readFileSync(MODERN);
    const msText = ms.toString('latin1');
    const text = merged.toString('latin1');
    const body = msText.endsWith('\x1a') ? msText.slice(0, -1) : msText;
    expect(text.indexOf(body)).toBeGreaterThan(0); // after our header, byte for byte
    expect(text.slice(0, text.indexOf(body))).toMatch(/^\/\/\n\/\/ Written by pooltag .*\n(\/\/.*\n)+$/);
    if (msText.endsWith('\x1a')) expect(text.endsWith('\x1a')).toBe(true);
    const added = parsePooltagTxt(text.slice(text.indexOf(body) + body.length)).entries;
    expect(added.length).toBeGreaterThan(30);
    expect(added.every((e) => e.description.endsWith('[pooltag scan]'))).toBe(true);
    expect(added.map((e) => e.tag)).toContain('FxAp');
    // Every one of Microsoft's entries is still there, in order.
    const before = parsePooltagTxt(ms).entries.map((e) => e.raw);
    const after = parsePooltagTxt(merged).entries.map((e) => e.raw);
    expect(after.slice(0, before.length)).toEqual(before);
  });

  it('--merge-with a UTF-16LE copy with CRLF (as PowerShell writes it) keeps its encoding, BOM and line ends', async () => {
    const crlf = readFileSync(MODERN, 'latin1').replace(/\x1a$/, '').replace(/\n/g, '\r\n');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf, 'utf16le')]);
    const store = await Store.open(db, { readonly: true });
    let bytes: Buffer;
    try {
      bytes = (await exportPooltag(store, tags, { mergeWith: parsePooltagTxt(utf16, 'pooltag-utf16.txt') })).bytes;
    } finally {
      await store.close();
    }
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    const text = bytes.subarray(2).toString('utf16le');
    expect(text).toContain(crlf);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(text).toMatch(/\r\nFxAp - core\.sys\/core-x64-clang-o2\.sys - .*\[pooltag scan\]\r\n/);
  });

  it("knows a debugger's triage\\pooltag.txt in Windows and POSIX spellings", async () => {
    expect(isDebuggerPooltag('C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\triage\\pooltag.txt')).toBe(true);
    expect(isDebuggerPooltag('C:\\DEBUGGERS\\TRIAGE\\POOLTAG.TXT')).toBe(true);
    expect(isDebuggerPooltag('/mnt/c/Program Files (x86)/Windows Kits/10/Debuggers/arm64/triage/pooltag.txt')).toBe(true);
    expect(isDebuggerPooltag('C:\\Tools\\pooltag.txt')).toBe(false);
    expect(isDebuggerPooltag('C:\\Debuggers\\x64\\triage\\localtag.txt')).toBe(false);
  });

  it("never writes over a debugger's triage\\pooltag.txt without --force", async () => {
    const triage = join(tmp, 'Debuggers', 'x64', 'triage');
    mkdirSync(triage, { recursive: true });
    const target = join(triage, 'pooltag.txt');
    writeFileSync(target, 'original');
    const r = run('export', '--db', db, '--format', 'pooltag', '--merge-with', MODERN, '--out', target);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/refusing to write over .*triage.pooltag\.txt.*--force/);
    expect(readFileSync(target, 'utf8')).toBe('original');
    const forced = run('export', '--db', db, '--format', 'pooltag', '--out', target, '--force', '--quiet');
    expect(forced.code, forced.err).toBe(0);
    expect(forced.err).toBe('');
    expect(readFileSync(target, 'latin1')).toMatch(/^\/\/\n\/\/ Written by pooltag /);
    expect(readFileSync(target, 'latin1')).toContain('FxAp - core.sys/');
  });

  it('--help explains every format with examples', async () => {
    const r = run('export', '--help');
    expect(r.code).toBe(0);
    for (const f of ['pooltag', 'localtag', 'csv', 'json', 'html']) expect(r.text).toContain(f);
    expect(r.text).toMatch(/Examples:[\s\S]*--merge-with[\s\S]*Exit codes:/);
  });

  it('usage errors are one line, exit 1, no stack trace', () => {
    for (const args of [
      ['export', '--db', db],
      ['export', '--db', db, '--format', 'xml'],
      ['export', '--db', db, '--format', 'csv', '--merge-with', MODERN],
      ['export', '--db', db, '--format', 'pooltag', '--merge-with', join(tmp, 'nope.txt')],
      ['export', '--db', db, '--format', 'pooltag', '--merge-with', join(root, 'package.json')],
      ['export', '--db', join(tmp, 'no-such.db'), '--format', 'json'],
      ['export', '--db', db, '--format', 'json', '--out', join(tmp, 'no-such-dir', 'x.json')],
    ]) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
      expect(r.err.split('\n').filter((l) => l && !/^\(run with --help/.test(l)), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('export --format localtag', () => {
  it("poolmon /c lines for the scanned drivers' tags and pooltag.txt's, call sites first", () => {
    const text = exportLocaltag(tags).text;
    expect(text.length).toBeLessThanOrEqual(POOLMON_TAG_FILE_LIMIT);
    const lines = text.split('\r\n');
    expect(lines.pop()).toBe('');
    for (const l of lines) expect(l).toMatch(/^[\x21-\x7e][\x20-\x7e]{3}   -  [\x21-\x7e][\x20-\x7e]*$/);
    expect(lines).toContain('FxAp   -  core');
    expect(lines).toContain('AfdA   -  afd');
    expect(new Set(lines).size).toBe(lines.length);
    // Scanned call sites come before pooltag.txt's entries.
    expect(lines.indexOf('FxAp   -  core')).toBeLessThan(lines.indexOf('AfdA   -  afd'));
  });

  it('keeps the most useful entries when the limit would be passed, and counts what it left out', () => {
    const all = exportLocaltag(tags);
    const total = Object.values(all.kept).reduce((a, b) => a + b, 0);
    const limit = 800;
    const small = exportLocaltag(tags, { limit });
    expect(small.bytes).toBeLessThanOrEqual(limit);
    expect(small.text.length).toBe(small.bytes);
    const kept = Object.values(small.kept).reduce((a, b) => a + b, 0);
    const left = Object.values(small.left).reduce((a, b) => a + b, 0);
    expect(kept + left).toBe(total);
    expect(small.kept['call-site high']).toBeGreaterThan(0);
    expect(small.kept['pooltag.txt']).toBe(0);
    expect(small.left['pooltag.txt']).toBe(all.kept['pooltag.txt']);
    // What was kept is the start of the full file.
    expect(all.text.startsWith(small.text)).toBe(true);
  });
});

describe('export --format csv and json', () => {
  it('CSV: RFC 4180, one row per (tag, owner), tags as text Excel keeps, no formula from driver text', () => {
    const bytes = Buffer.from(exportCsv(tags), 'utf8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(bytes.toString('utf8').slice(1));
    const [head, ...body] = rows;
    expect(head.slice(0, 6)).toEqual(['tag', 'tag_hex', 'shared', 'source', 'confidence', 'owner']);
    for (const row of body) expect(row).toHaveLength(head.length);
    const col = (name: string) => head.indexOf(name);
    // Every tag cell is the formula ="...": Excel shows it as text (0001, 1E10, TRUE stay as typed).
    for (const row of body) expect(row[col('tag')]).toMatch(/^="(?:[^"]|"")*"$/);
    const fx = body.filter((row) => row[col('tag')] === '="FxAp"');
    // One row per driver: its builds, whatever file names they were seen under, together.
    expect(fx.map((row) => [row[col('source')], row[col('owner')], row[col('binaries')]])).toEqual([['call-site', 'core.sys', 'core.sys; core-x64-clang-o2.sys']]);
    expect(fx[0][col('tag_hex')]).toBe('0x70417846');
    expect(fx[0][col('evidence')]).toMatch(/ExAllocatePoolWithTag at 22 call sites/);
    expect(fx[0][col('confidence')]).toBe('high');
    expect(fx[0][col('sha256')].split('; ')).toHaveLength(11);
    // The hostile driver's text is there, and nothing in any cell starts a formula but our ="..." form.
    const hostile = body.find((row) => row[col('owner')] === 'hostile.sys')!;
    expect(hostile[col('description')]).toBe('<script>alert(1)</script>');
    for (const row of body) for (const cell of row) if (/^[\s]*[=+\-@]/.test(cell)) expect(cell).toMatch(/^="(?:[^"]|"")*"$/);
  });

  it('excelText: numbers, dates, booleans and formulas become ="text"; plain words stay', () => {
    for (const s of ['0001', '1E10', '1e5', '12.5', '1,000', '-3', '+1', '50%', '$5', '(5)', '1/2', '2024-05-01', '10:30', 'Mar1', 'Jan 2024', '1-Jan', 'TRUE', 'false', '#N/A', '1 1/2']) {
      expect(excelText(s), s).toBe(`="${s}"`);
    }
    expect(excelText("=cmd|' /C calc'!A0")).toBe(`="=cmd|' /C calc'!A0"`);
    expect(excelText('@SUM(A1)')).toBe('="@SUM(A1)"');
    expect(excelText(' =1+1')).toBe('=" =1+1"');
    expect(excelText('a"b', true)).toBe('="a""b"');
    expect(excelText('=' + 'x'.repeat(300))).toBe("'=" + 'x'.repeat(300));
    for (const s of ['FxAp', 'core.sys', 'Pooltag Fixtures', 'ExAllocatePoolWithTag at 2 call sites (immediate)', '0x70417846']) expect(excelText(s)).toBe(s);
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
  });

  it('JSON: the same rows with typed fields', async () => {
    const j = JSON.parse(exportJson(tags)) as { format: string; schemaVersion: number; tags: number; rows: { tag: string; source: string; owner: string; versions: string[]; callSites: number; sha256: string[]; shared: string | null }[] };
    expect(j.format).toBe('pooltag-export');
    expect(j.schemaVersion).toBe(1);
    const fx = j.rows.filter((x) => x.tag === 'FxAp');
    expect(fx.map((x) => x.owner)).toEqual(['core.sys']);
    expect(fx[0]).toMatchObject({ source: 'call-site', versions: ['1.2.3.4'], callSites: 22 });
    expect(fx[0].sha256).toHaveLength(11);
    expect(j.rows.find((x) => x.tag === 'None')?.shared).toMatch(/ExAllocatePool/);
    // Each driver file name once per tag.
    const seen = new Set<string>();
    for (const x of j.rows) {
      if (x.source === 'pooltag.txt') continue;
      const id = `${x.tag}\0${x.source}\0${x.owner}`;
      expect(seen.has(id), id).toBe(false);
      seen.add(id);
    }
  });
});

describe('export --format html: the page\'s search index', () => {
  it('is the index `pooltag search` uses: read from the base when current, the same as a fresh build', async () => {
    const copy = out('stale.db');
    const store = await Store.open(db, { readonly: true });
    let stored;
    try {
      stored = await serialisedIndex(store);
      store.db.exec(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
    } finally {
      await store.close();
    }
    // A copy whose stored index is stale (a note added without a rebuild) builds it afresh.
    const stale = await Store.open(copy);
    let built;
    try {
      stale.db.prepare(`UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'`).run();
      built = await serialisedIndex(stale);
    } finally {
      await stale.close();
    }
    expect(built.fields).toEqual(stored.fields);
    expect(built.pipeline).toEqual(stored.pipeline);
    expect(built.invertedIndex.map(([t]) => t)).toEqual(stored.invertedIndex.map(([t]) => t));
    expect(new Map(built.fieldVectors)).toEqual(new Map(stored.fieldVectors));
    expect(built.invertedIndex).toEqual(stored.invertedIndex);
  });
});

// ---------------------------------------------------------------------------------------
// The HTML page in a real browser
// ---------------------------------------------------------------------------------------

const CHROMIUM = process.env.POOLTAG_CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = !existsSync(CHROMIUM);
// CI must run it: .ci/run sets POOLTAG_REQUIRE_TOOLS, and there a missing browser fails instead of skipping.
if (noBrowser && requireTools()) throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium (.ci/run) for the export page test`);
const browserTitle = (t: string) => (noBrowser ? `${t} (SKIPPED: no Chromium at ${CHROMIUM}; apt-get install chromium)` : t);

describe('export --format html in Chromium', () => {
  it.skipIf(noBrowser)(browserTitle('loads from file://, finds FxAp and its driver as you type, shows hostile text as text, runs no script from it, sends no request'), async () => {
    const page = out('pooltags.html');
    const r = run('export', '--db', db, '--format', 'html', '--out', page);
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(page, 'utf8');
    // One file: nothing to fetch, a CSP that allows no network, no inline handler.
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[^']+' 'sha256-[^']+'; style-src 'sha256-[^']+';/);
    expect(html).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(html).not.toMatch(/<(?:link|img|iframe)\b|\ssrc=/i);
    expect(html.match(/<script\b/g)).toHaveLength(5);
    expect(html).not.toContain('<script>alert(1)</script>');

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      const url = pathToFileURL(page).href;
      const requests: string[] = [];
      const dialogs: string[] = [];
      const problems: string[] = [];
      await context.route('**/*', (route) => {
        if (route.request().url() === url) return route.continue();
        requests.push(route.request().url());
        return route.abort();
      });
      const p = await context.newPage();
      p.on('request', (req) => {
        if (req.url() !== url) requests.push(req.url());
      });
      p.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      p.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      p.on('pageerror', (e) => problems.push(String(e)));
      await p.goto(url);
      await p.waitForSelector('html[data-ready="1"]', { timeout: 20_000 });
      await p.waitForSelector('html[data-index="1"]', { state: 'attached', timeout: 20_000 });

      // Search as you type: the tag and its driver.
      await p.locator('#q').pressSequentially('FxAp', { delay: 30 });
      const tagRow = p.locator('table.grid tr.row', { has: p.locator('code.tag', { hasText: /^FxAp$/ }) });
      await tagRow.first().waitFor();
      await expect.poll(() => tagRow.first().innerText()).toMatch(/core\.sys/);
      await expect.poll(() => p.locator('main').innerText()).toMatch(/Drivers\s+\d+/);
      // The row can show while typing is still under way (F already finds FxAp): the hash follows the last keystroke.
      await expect.poll(() => p.url()).toBe(`${url}#search/FxAp`);
      await p.screenshot({ path: join(tmpdir(), 'pooltag-export-search.png') });

      // Keyboard: down to the first row, Enter opens the tag.
      await p.keyboard.press('ArrowDown');
      await p.keyboard.press('Enter');
      await p.waitForSelector('h1.tagtitle');
      const owners = await p.locator('table.owners tbody tr').allInnerTexts();
      expect(owners[0]).toMatch(/call site\s+high\s+core\.sys\s+Pooltag Fixtures/);
      expect(owners).toHaveLength(1 + owners.filter((o) => !/call site/.test(o)).length); // one call-site owner: every build of core.sys
      await p.screenshot({ path: join(tmpdir(), 'pooltag-export-tag.png') });

      // The driver's own view, by hash.
      await p.locator('table.owners a.drv', { hasText: /^core\.sys$/ }).click();
      await p.waitForSelector('h1.drvtitle');
      expect(await p.locator('h1.drvtitle').innerText()).toMatch(/^core\.sys/);
      expect(await p.locator('main').innerText()).toMatch(/FxAp/);

      // The hostile driver: its version strings are text on the page, and nothing of them runs.
      await p.locator('#q').fill('');
      await p.locator('#q').pressSequentially('HoSt', { delay: 20 });
      await p.locator('table.grid a.drv', { hasText: /^hostile\.sys$/ }).first().click();
      await p.waitForSelector('h1.drvtitle');
      const text = await p.locator('main').innerText();
      expect(text).toContain('<script>alert(1)</script>');
      expect(text).toContain('Ünïcödé Prödüct — 日本語 ✓');
      await p.screenshot({ path: join(tmpdir(), 'pooltag-export-hostile.png'), fullPage: false });
      expect(await p.evaluate(() => document.scripts.length)).toBe(5);
      expect(await p.evaluate(() => document.querySelectorAll('main script, main b, main img, main iframe').length)).toBe(0);

      // A driver, a pooltag.txt owner, a vendor, found as typed: the last word is a prefix of stemmed terms
      // (core.sys is indexed as core.si), not only once a space ends it (issue 22, item 1).
      for (const [typed, found] of [
        ['core.sys', /core\.sys/],
        ['kmdf.sys', /kmdf\.sys/],
        ['afd.sys', /afd\.sys/],
        ['Pooltag Fixtures', /core\.sys/],
        ['core.sys ', /core\.sys/],
      ] as const) {
        await p.locator('#q').fill('');
        await p.locator('#q').pressSequentially(typed, { delay: 10 });
        await expect.poll(() => p.url()).toBe(`${url}#search/${encodeURIComponent(typed)}`);
        const main = await p.locator('main').innerText();
        expect(main, typed).not.toMatch(/Nothing in this export knows/);
        expect(main, typed).toMatch(found);
      }
      // Leave the box empty (the home view) before the next step, once the last keystroke is done.
      await p.locator('#q').fill('');
      await expect.poll(() => p.url()).toBe(`${url}#`);

      // Back to a search from the address bar: the hash routes.
      await p.goto(`${url}#tag/${encodeURIComponent('AfdA')}`);
      await p.waitForSelector('h1.tagtitle');
      expect(await p.locator('main').innerText()).toMatch(/afd\.sys/);

      expect(dialogs).toEqual([]);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
