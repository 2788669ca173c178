/**
 * What `lookup` answers a person at 3 a.m. (issue 22, items 10, 14, 15, 16): a tag typed in the
 * wrong case or as it is displayed gets a "did you mean", what is printed looks the same tag up,
 * one owner once with its pooltag.txt sources, advice once for many unknown tags, and the short
 * answer first with details under --builds and --all.
 *
 * The base: core.sys (x64, clang -O2) from the committed fixtures, scanned here, and two
 * pooltag.txt copies written here in Microsoft's format (an old one with `Ntf?` and `Ntf0`,
 * a newer one with `Nt??` and `Ntf0`, as Microsoft's 2003 and current copies have them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lookup } from '../src/answer/lookup.js';
import { parsePooltagTxt } from '../src/knowledge/pooltag-txt.js';
import { Store } from '../src/knowledge/store.js';
import { scan } from '../src/scan/scan.js';
import { parseTag, Tag } from '../src/tag/tag.js';
import { describeWithShared, sharedFile, sharedPath } from './helpers/shared.js';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/pooltag');
const tmp = mkdtempSync(join(tmpdir(), 'pooltag-answers-'));
const dbFile = join(tmp, 'kb.db');
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));

const OLD = ['rem  pooltag.txt, old style (test copy)', 'Ntf? - ntfs.sys     - NTFS Specific allocation tags', 'Ntf0 - ntfs.sys     -     general pool allocation', 'Io   - nt!io        - general IO allocations', ''].join('\r\n');
const NEW = [
  'rem  pooltag.txt, current style (test copy)',
  'Nt?? - ntfs.sys     - Unrecognized NTFS tag (update base\\published\\pooltag.w)',
  'Ntf0 - ntfs.sys     -     General pool allocation',
  'NtfF - ntfs.sys     -     FCB_INDEX',
  'Io   - nt!io        - general IO allocations',
  '',
].join('\r\n');

async function importCopy(store: Store, name: string, text: string, date: string): Promise<void> {
  const path = join(tmp, name);
  writeFileSync(path, text);
  const bytes = readFileSync(path);
  await store.importPooltag(parsePooltagTxt(bytes, path), bytes, { path, label: name.replace(/\.txt$/, ''), fileDate: date });
}

function run(...args: string[]) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` before the tests');
  const r = spawnSync(process.execPath, [bin, ...args, '--db', dbFile], { cwd: root, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let store: Store;
let lk: Lookup;
beforeAll(async () => {
  const report = await scan({ paths: [join(root, 'test/fixtures/bin/x64-clang-O2/core.sys')], jobs: 1, cache: null });
  const w = await Store.open(dbFile);
  await w.mergeReport(report, 'core.json');
  await importCopy(w, 'pooltag-old.txt', OLD, '2003-03-25T00:00:00.000Z');
  await importCopy(w, 'pooltag-new.txt', NEW, '2024-05-01T00:00:00.000Z');
  await w.addNote(parseTag('FxFr'), 'confirmed on SRV7: the receive ring, freed on unload', 'alice');
  w.close();
  store = await Store.open(dbFile, { readonly: true });
  lk = new Lookup(store);
}, 60_000);
afterAll(async () => await store?.close());

describe('item 10: did you mean, and printed tags that look up the same tag', () => {
  it('a tag in the wrong case offers the case variants the base has', async () => {
    const a = (await lk.lookup('fxap')).answers[0];
    expect(a.candidates).toEqual([]);
    expect(a.didYouMean).toEqual([{ display: 'FxAp', hex: '0x70417846', typed: 'FxAp' }]);
    expect((await lk.lookup('FxAp')).answers[0].didYouMean).toEqual([]); // known: no suggestion
    expect((await lk.lookup('Zzzz')).answers[0].didYouMean).toEqual([]);
    // a wildcard that matches nothing: the known tags it matches but for case
    const w = await lk.lookup('fxf*');
    expect(w.answers).toEqual([]);
    expect(w.didYouMean.map((t) => t.typed)).toEqual(['FxF2', 'FxFq', 'FxFr', 'FxFs']);
    expect(run('lookup', 'fx?p').out).toMatch(/^"fx\?p" matches 0 known tags\n {2}nothing in the knowledge base matches it; did you mean "FxAp", "FxLp", "FxOp" \(tags are case-sensitive\)\?$/m);
    const r = run('lookup', 'fxap');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^ {2}nothing in the knowledge base knows "fxap" \(0x70617866\)\.\n {2}did you mean "FxAp" \(0x70417846\) \(tags are case-sensitive\)\?$/m);
  });

  it('a non-printable byte is printed as \\xNN, which looks the same tag up; a typed dot is offered it', () => {
    const t = Tag.fromUlong(0x21017846);
    expect(t.display).toBe('Fx.!');
    expect(t.typed).toBe('Fx\\x01!');
    expect(parseTag(t.typed).matches(t)).toBe(true);
    for (const u of [0x06a9ffff, 0x2122785c, 0x20202249]) expect(parseTag(Tag.fromUlong(u).typed).matchKey).toBe(Tag.fromUlong(u).matchKey); // bytes, \ and "
    // show prints it so; what show prints, lookup finds
    const show = run('show', 'core.sys');
    expect(show.code).toBe(0);
    const printed = /^ {4}"(Fx\\x01!)" 0x21017846 /m.exec(show.out);
    expect(printed, show.out).not.toBeNull();
    const found = run('lookup', printed![1]);
    expect(found.code).toBe(0);
    expect(found.out.split('\n')[0]).toBe(`"Fx\\x01!"  0x21017846  C literal '!\\x01xF'`);
    expect(found.out).toMatch(/core\.sys - Pooltag Fixtures/);
    // search prints the tags of a driver the same way
    expect(run('search', 'core.sys').out).toMatch(/tags: .*"Fx\\x01!"/);
    // the dot as displayed: the tag it stands for is offered
    const dot = run('lookup', 'Fx.!');
    expect(dot.code).toBe(3);
    expect(dot.out).toMatch(/did you mean "Fx\\x01!" \(0x21017846\) \(a byte shown as \. is typed as \\xNN\)\?/);
    expect(JSON.parse(run('lookup', '--json', 'Fx.!').out).answers[0].didYouMean).toEqual([{ display: 'Fx.!', hex: '0x21017846', typed: 'Fx\\x01!' }]);
  });
});

describe('item 15: one owner once, with its pooltag.txt sources', () => {
  it('an exact and a wildcard entry of two copies that name one binary are one candidate, the best entry first', async () => {
    const pt = (await lk.lookup('Ntf0')).answers[0].candidates.filter((c) => c.source === 'pooltag.txt');
    expect(pt).toHaveLength(1);
    const c = pt[0] as Extract<(typeof pt)[number], { source: 'pooltag.txt' }>;
    expect(c).toMatchObject({ entryTag: 'Ntf0', wildcard: false, confidence: 'medium', binaryRaw: 'ntfs.sys', description: 'General pool allocation' });
    expect(c.sources.map((s) => `${s.label}:${s.entryTag}:${s.line}`)).toEqual(['pooltag-new:Ntf0:3', 'pooltag-old:Ntf0:3', 'pooltag-old:Ntf?:2', 'pooltag-new:Nt??:2']);
    // A tag only the wildcard entries know: still one owner, the longest prefix leading.
    const w = (await lk.lookup('NtfX')).answers[0].candidates;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ entryTag: 'Ntf?', wildcard: true, confidence: 'low' });
    const r = run('lookup', 'Ntf0');
    expect(r.code).toBe(0);
    expect(r.out.match(/ntfs\.sys/g)).toHaveLength(1);
    expect(r.out).toMatch(/pooltag\.txt: pooltag-new line 3; also pooltag-old line 3, wildcard "Ntf\?" \(pooltag-old line 2: NTFS Specific allocation tags\), wildcard "Nt\?\?" \(pooltag-new line 2: Unrecognized NTFS tag/);
  });
});

describeWithShared('item 15 on Microsoft\'s copies', ['pooltag/pooltag-2003.txt', 'pooltag/pooltag-modern.txt'], () => {
  it('Ntf0: ntfs.sys once, its four entries as sources', async () => {
    const db = join(tmp, 'ms.db');
    const w = await Store.open(db);
    for (const [rel, date] of [['pooltag/pooltag-2003.txt', '2003-03-25T00:00:00.000Z'], ['pooltag/pooltag-modern.txt', '2024-05-01T00:00:00.000Z']]) {
      const bytes = sharedFile(rel);
      await w.importPooltag(parsePooltagTxt(bytes, sharedPath(rel)), bytes, { path: sharedPath(rel), label: null, fileDate: date });
    }
    try {
      const cands = (await new Lookup(w).lookup('Ntf0')).answers[0].candidates;
      expect(cands).toHaveLength(1);
      expect(cands[0].source === 'pooltag.txt' && cands[0].sources.map((s) => s.entryTag)).toEqual(['Ntf0', 'Ntf0', 'Ntf?', 'Nt??']);
    } finally {
      w.close();
    }
  });
});

describe('item 16: advice once for many unknown tags', () => {
  it('500 unknown tags: each is said unknown in its own lines, what to do about them once', () => {
    const tags = Array.from({ length: 500 }, (_, i) => `Q${String(i).padStart(3, '0')}`);
    const r = run('lookup', ...tags);
    expect(r.code).toBe(3);
    expect(r.out.match(/^ {2}nothing in the knowledge base knows "Q\d{3}"/gm)).toHaveLength(500);
    expect(r.out.match(/Scan the drivers this machine loads/g)).toHaveLength(1);
    expect(r.out.match(/!poolfind/g)).toHaveLength(1);
    expect(r.out).toMatch(/\nNext, for the 500 tags nothing knows:\n {2}Scan the drivers/);
    expect(r.out).toMatch(/`!poolfind TAG`/);
    // a header and one line per tag, a blank line between: 3 lines a tag, 5 for the advice
    expect(r.out.trimEnd().split('\n').length).toBe(500 * 3 + 5);
    // one tag: the advice names it; --json keeps the whole advice with each answer
    expect(run('lookup', 'Q000').out).toMatch(/Next, for "Q000":\n[\s\S]*`!poolfind Q000`/);
    const j = JSON.parse(run('lookup', '--json', 'Q000', 'Q001').out);
    expect(j.map((x: { answers: { advice: string[] }[] }) => x.answers[0].advice.length)).toEqual([5, 5]);
  });
});

describe('item 14: the answer an engineer needs first; details under --builds and --all', () => {
  it('by default: the note first, the owner and vendor, the evidence in one line, and Next', () => {
    const r = run('lookup', 'FxFr');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(`"FxFr"  0x72467846  C literal 'rFxF'`);
    expect(lines[1]).toMatch(/^ {2}note \(alice, \d{4}-\d\d-\d\d\): confirmed on SRV7: the receive ring, freed on unload$/);
    expect(lines[2]).toBe('  1.  core.sys - Pooltag Fixtures');
    expect(lines[3]).toBe('      call sites in a scanned driver, high confidence: 1 allocation site in 1 function, 1 free; 1 build on 1 host');
    expect(lines[4]).toBe('  Next: contact the vendor (Pooltag Fixtures) or update the driver.');
    expect(lines.at(-1)).toBe('--builds: each build with its paths and call sites; --all: every call site');
    // no build line, no path, no RVA
    expect(r.out).not.toMatch(/0x1[0-9a-f]{3}\b| at 0x|sha256|\/test\/fixtures\//);
    // a Windows tag a driver passes too: both, and what to do about it
    const io = run('lookup', 'Io').out;
    expect(io).toMatch(/ {2}1\. {2}core\.sys - Pooltag Fixtures\n {6}call sites in a scanned driver[^\n]*\n {2}2\. {2}nt!io - general IO allocations\n {6}pooltag\.txt: pooltag-new line 5; also pooltag-old line 4\n {2}Next: a Windows tag that core\.sys \(Pooltag Fixtures\) passes too/);
  });

  it('--builds and --all show the builds, their paths and the call sites with RVAs; --json has everything and Next', () => {
    const b = run('lookup', '--builds', 'FxFr').out;
    expect(b).toMatch(/1\.2\.3\.4 x64, unsigned; sha256 [0-9a-f]{16}\.\.\.; 1 host: \S*test\/fixtures\/bin\/x64-clang-O2\/core\.sys/);
    expect(b).toMatch(/ExAllocatePoolWithTag at 0x[0-9a-f]+ in \S+ \(\S+, high\)/);
    const all = run('lookup', '--all', 'FxFr').out;
    expect(all).toMatch(/ExFreePoolWithTag at 0x[0-9a-f]+/);
    expect(all).not.toMatch(/--builds: each build/);
    const j = JSON.parse(run('lookup', '--json', 'FxFr').out);
    const a = j.answers[0];
    expect(a.next).toBe('Next: contact the vendor (Pooltag Fixtures) or update the driver.');
    expect(a.notes[0]).toMatchObject({ text: 'confirmed on SRV7: the receive ring, freed on unload', author: 'alice' });
    const build = a.candidates[0].driver.builds[0];
    expect(build.paths[0]).toMatch(/test\/fixtures\/bin\/x64-clang-O2\/core\.sys$/);
    expect(build.callSites.map((s: { routine: string }) => s.routine).sort()).toEqual(['ExAllocatePoolWithTag', 'ExFreePoolWithTag']);
    expect(build.callSites.every((s: { callSiteRva: number }) => s.callSiteRva > 0)).toBe(true);
  });
});
