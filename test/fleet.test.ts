/**
 * Issue 20, items 1 and 2: reports that carry only what the base lacks (the known list, scan
 * --known, inventory-only files, gzipped reports) and merges at fleet scale (folders, wildcard
 * patterns, batches that survive an interruption, the host inventory with first and last seen).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addToInventory, decodeInventory, encodeInventory, inventoryKey, mergeInventory } from '../src/knowledge/inventory.js';
import { knownListBytes, parseKnownList } from '../src/knowledge/known.js';
import { openSqlite } from '../src/knowledge/sqlite.js';
import { Store, StoreError } from '../src/knowledge/store.js';
import { parseReportBytes } from '../src/report/read.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { repoRoot } from './helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-fleet-'));
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));
const bin = join(repoRoot, 'bin/pooltag');
const x64 = join(repoRoot, 'test/fixtures/bin/x64-clang-O2');
const arm64 = join(repoRoot, 'test/fixtures/bin/arm64-clang-O2');
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

let x64Report: ScanReport;
let baseDb: string;
let knownFile: string;

beforeAll(async () => {
  x64Report = await scan({ paths: [x64], jobs: 2, cache: null });
  baseDb = join(tmp, 'base.db');
  const s = await Store.open(baseDb);
  await s.mergeReport(x64Report, 'x64');
  await s.close();
  knownFile = join(tmp, 'known.gz');
  const r = run(['export', '--format', 'known', '--db', baseDb, '--out', knownFile]);
  expect(r.status, r.stderr).toBe(0);
}, 120_000);

describe('export --format known', () => {
  it('writes the hashes of every image the base holds, sorted, gzipped; the list reads back the same', () => {
    const bytes = readFileSync(knownFile);
    expect(bytes[0]).toBe(0x1f); // gzip
    const text = gunzipSync(bytes).toString('latin1');
    const shas = [...new Set(x64Report.images.map((i) => i.sha256))].sort();
    expect(text).toBe(`# pooltag-known 1 ${shas.length}\n${shas.join('\n')}\n`);
    expect([...parseKnownList(bytes)].sort()).toEqual(shas);
    expect([...parseKnownList(knownListBytes(shas.slice().reverse()))]).toEqual(shas);
    // a plain text copy reads too; a file that is not a list is refused, saying why
    expect(parseKnownList(Buffer.from(text)).size).toBe(shas.length);
    expect(() => parseKnownList(Buffer.from('hello\n'))).toThrow(/not a known list/);
    expect(() => parseKnownList(Buffer.from(`# pooltag-known 1 ${shas.length + 1}\n${shas.join('\n')}\n`))).toThrow(/truncated or edited/);
    expect(() => parseKnownList(Buffer.from('# pooltag-known 1 1\nxyz\n'))).toThrow(/line 2: not a SHA-256/);
  });

  it('scan --known with a bad list is one line, exit 1', () => {
    const bad = join(tmp, 'bad-known.txt');
    writeFileSync(bad, 'not a list\n');
    const r = run(['scan', '--no-cache', '--known', bad, '--out', join(tmp, 'never.json'), x64]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pooltag scan: --known .*bad-known\.txt: not a known list .*\n$/);
    const missing = run(['scan', '--no-cache', '--known', join(tmp, 'nope.gz'), x64]);
    expect(missing.stderr).toMatch(/^pooltag scan: --known .*nope\.gz: no such file\n$/);
  });
});

describe('scan --known', () => {
  let report: ScanReport;
  beforeAll(async () => {
    // the base knows the x64 images but one; the ARM64 images are new to it
    const known = new Set(x64Report.images.map((i) => i.sha256));
    const dropped = x64Report.images[0].sha256;
    known.delete(dropped);
    report = await scan({ paths: [x64, arm64], jobs: 2, cache: null, known });
  }, 120_000);

  it('reports a known image as inventory (path, size, hash, time; no image record) and analyses an unknown one', async () => {
    const dropped = x64Report.images[0].sha256;
    const x64Files = report.files.filter((f) => f.path.startsWith(x64));
    const arm64Files = report.files.filter((f) => f.path.startsWith(arm64));
    expect(x64Files.length).toBe(x64Report.files.length);
    for (const f of x64Files) {
      const want = x64Report.files.find((g) => g.path === f.path)!;
      expect(f.sha256).toBe(want.sha256); // hashed all the same
      expect(f.size).toBe(want.size);
      expect(f.mtime).toBe(want.mtime);
      expect(!!f.known).toBe(f.sha256 !== dropped);
    }
    for (const f of arm64Files) expect(f.known).toBeUndefined();
    const imageShas = new Set(report.images.map((i) => i.sha256));
    expect(imageShas.has(dropped)).toBe(true);
    for (const f of report.files) expect(imageShas.has(f.sha256!)).toBe(!f.known);
    // the unknown x64 image was analysed in full: the same evidence as the full scan
    const full = x64Report.images.find((i) => i.sha256 === dropped)!;
    expect(report.images.find((i) => i.sha256 === dropped)!.evidence).toEqual(full.evidence);
    expect(report.summary.known).toBe(x64Files.filter((f) => f.sha256 !== dropped).length);
    expect(report.schemaVersion).toBe(2);
  });

  it('merges as sightings of images the base has, and the base gains the new ones', async () => {
    const db = join(tmp, 'known-merge.db');
    copyFileSync(baseDb, db);
    const s = await Store.open(db);
    try {
      const before = (await s.stats()).drivers;
      const r = await s.mergeReport(report, 'known');
      expect(r.newDrivers).toBe(report.images.length - 1); // the dropped x64 image was in the base already
      expect((await s.stats()).drivers).toBe(before + r.newDrivers);
      const inv = await s.hostInventory(report.host.name);
      expect(inv.map((e) => e.path).sort()).toEqual(report.files.map((f) => f.path).sort());
      for (const e of inv) expect(e.sha256).toBe(report.files.find((f) => f.path === e.path)!.sha256);
    } finally {
      await s.close();
    }
  });

  it('a base that lacks an inventory-only image refuses the report with a clear error, and keeps nothing of it', async () => {
    const db = join(tmp, 'other-base.db');
    const s = await Store.open(db);
    try {
      await expect(s.mergeReport(report, 'known')).rejects.toThrow(StoreError);
      await expect(s.mergeReport(report, 'known')).rejects.toThrow(/inventory-only files are of images this base does not hold \(e\.g\. [0-9a-f]{64} at .*\): the report was scanned with a --known list of another base/);
      expect(await s.stats()).toMatchObject({ reports: 0, drivers: 0, hosts: 0 });
    } finally {
      await s.close();
    }
  });

  it('a report refused half-way leaves no image id behind: a later report cannot lean on its images', async () => {
    const s = await Store.open(join(tmp, 'half.db'));
    try {
      const [a, b] = x64Report.images;
      const bad = { ...x64Report, images: [a, { ...b, evidence: [{ nonsense: true }] }] } as unknown as ScanReport;
      await expect(s.mergeReport(bad)).rejects.toThrow(/evidence\[0\] is malformed/);
      const leaning = { ...x64Report, schemaVersion: 2, host: { ...x64Report.host, name: 'LEAN' }, images: [], files: [{ path: '/x/a.sys', size: 1, mtime: null, sha256: a.sha256, known: true }], summary: { ...x64Report.summary, files: 1, images: 0 } };
      await expect(s.mergeReport(leaning)).rejects.toThrow(/1 of its 1 inventory-only files are of images this base does not hold/);
    } finally {
      await s.close();
    }
  });

  it('the CLI: scan --known --out report.json.gz writes a gzipped report that merge reads', async () => {
    const out = join(tmp, 'host.json.gz');
    const r = run(['scan', '-q', '--no-cache', '--jobs', '2', '--known', knownFile, '--out', out, x64, arm64]);
    expect(r.status, r.stderr).toBe(0);
    const bytes = readFileSync(out);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const rep = parseReportBytes(bytes);
    expect(rep.files.filter((f) => f.known).length).toBe(x64Report.files.length);
    expect(rep.images.every((i) => !x64Report.images.some((j) => j.sha256 === i.sha256))).toBe(true);
    const db = join(tmp, 'cli-gz.db');
    copyFileSync(baseDb, db);
    const m = run(['merge', '--json', '--db', db, out]);
    expect(m.status, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ merged: 1, failed: 0, newDrivers: rep.images.length });
    // and into a base without the known images: one line per report, exit 2
    const other = run(['merge', '--db', join(tmp, 'cli-other.db'), out]);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/^pooltag merge: .*host\.json\.gz: \d+ of its \d+ inventory-only files are of images this base does not hold/);
  });
});

describe('gzipped reports', () => {
  it('scan --out FOLDER (a collection share) writes the host\'s own gzipped report there, which merge takes from the folder', () => {
    const share = join(tmp, 'share');
    mkdirSync(share);
    const r = run(['scan', '--no-cache', '--json', '--known', knownFile, '--out', share, x64]);
    expect(r.status, r.stderr).toBe(0);
    const written = JSON.parse(r.stdout).report as string;
    expect(readdirSync(share)).toEqual([written.slice(share.length + 1)]);
    expect(written).toMatch(/[\\/]scan-[^\\/]+-\d{4}-\d\d-\d\dT\d{6}Z\.json\.gz$/);
    expect(readFileSync(written).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const db = join(tmp, 'share.db');
    copyFileSync(baseDb, db);
    const m = run(['merge', '--json', '--db', db, share]);
    expect(m.status, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ merged: 1, failed: 0 });
  });

  it('a .json.gz and an .ndjson.gz read as their plain selves', async () => {
    const plain = JSON.stringify(x64Report);
    expect(parseReportBytes(gzipSync(plain))).toEqual(parseReportBytes(Buffer.from(plain)));
    const nd = join(tmp, 'x.ndjson.gz');
    const r = run(['scan', '-q', '--no-cache', '--format', 'ndjson', '--out', nd, x64]);
    expect(r.status, r.stderr).toBe(0);
    const rep = parseReportBytes(readFileSync(nd));
    expect(rep.images.map((i) => i.sha256)).toEqual(x64Report.images.map((i) => i.sha256));
  });
});

/** `n` small host reports of the x64 fixtures' images, inventory only, one per host. */
function hostReports(dir: string, n: number, at = '2026-03-01T10:00:00.000Z'): string[] {
  mkdirSync(dir, { recursive: true });
  const out = [];
  for (let h = 0; h < n; h++) {
    const files = x64Report.files.map((f) => ({ ...f, path: f.path.replace(x64, `C:\\Hosts\\h${h % 7}`), known: true }));
    const r = { ...x64Report, schemaVersion: 2, host: { ...x64Report.host, name: `HOST-${h}` }, startedAt: at, finishedAt: at, files, images: [], summary: { ...x64Report.summary, images: 0, known: files.length } };
    const f = join(dir, `host-${String(h).padStart(3, '0')}.json.gz`);
    writeFileSync(f, gzipSync(JSON.stringify(r)));
    out.push(f);
  }
  return out;
}

function count(db: string, sql: string): number {
  const d = openSqlite(db, { readonly: true });
  try {
    return d.prepare(sql).pluck().get() as number;
  } finally {
    d.close();
  }
}

describe('merge at fleet scale', () => {
  it('merges a folder of .json.gz reports, and a quoted wildcard pattern', () => {
    const dir = join(tmp, 'fleet-a');
    hostReports(dir, 12);
    writeFileSync(join(dir, 'notes.txt'), 'not a report');
    const db = join(tmp, 'fleet-a.db');
    copyFileSync(baseDb, db);
    const r = run(['merge', '--json', '--db', db, dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ merged: 12, failed: 0, hosts: 12 });
    expect(count(db, 'SELECT count(*) FROM host_inventory')).toBe(13); // the base's own host and the 12
    // lookup counts the hosts whose inventory has the driver, not only the host that sent it in full
    const tag = String(count(db, "SELECT tag FROM evidence WHERE sha256 = (SELECT sha256 FROM drivers WHERE original_filename = 'net.sys') LIMIT 1"));
    const hostsOf = (base: string) => {
      const l = run(['lookup', '--json', '--db', base, tag]);
      expect(l.status, l.stderr).toBe(0);
      return JSON.parse(l.stdout).answers[0].candidates.find((c: { source: string }) => c.source === 'call-site').driver.hosts as number;
    };
    expect(hostsOf(baseDb)).toBe(1);
    expect(hostsOf(db)).toBe(13);
    expect(run(['lookup', '--db', db, tag]).stdout).toMatch(/1 build on 13 hosts/);
    // a base inventoried before the host counts existed (schema 9) gains them when it is opened
    const old = join(tmp, 'fleet-schema9.db');
    copyFileSync(db, old);
    const d = openSqlite(old);
    d.exec('DROP TABLE image_hosts');
    d.pragma('user_version = 9');
    d.close();
    expect(hostsOf(old)).toBe(13);
    expect(count(old, 'SELECT group_concat(image_id || \':\' || hosts) FROM (SELECT * FROM image_hosts ORDER BY image_id)')).toBe(count(db, 'SELECT group_concat(image_id || \':\' || hosts) FROM (SELECT * FROM image_hosts ORDER BY image_id)'));
    // merged again (the same reports): nothing counted twice
    expect(run(['merge', '--db', db, dir]).status).toBe(0);
    expect(hostsOf(db)).toBe(13);
    const db2 = join(tmp, 'fleet-glob.db');
    copyFileSync(baseDb, db2);
    const g = run(['merge', '--json', '--db', db2, join(dir, 'host-00*.json.gz')]);
    expect(g.status, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({ merged: 10, failed: 0 }); // host-000 .. host-009
    const none = run(['merge', '--db', db2, join(dir, 'nothing-*.json')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^pooltag merge: .*nothing-\*\.json: no file matches this pattern\n/);
  });

  it('reading reports in worker threads gives the same base and the same errors as reading them on the main thread', () => {
    const dir = join(tmp, 'fleet-threads');
    hostReports(dir, 18);
    writeFileSync(join(dir, 'host-bad-gzip.json.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    writeFileSync(join(dir, 'host-not-json.json'), 'not json');
    mkdirSync(join(dir, 'host-folder.json'));
    const bases: Record<string, string> = {};
    const outs: Record<string, { merged: number; failed: number; results: { file: string; error?: string }[] }> = {};
    for (const jobs of ['0', '2']) {
      const db = (bases[jobs] = join(tmp, `fleet-threads-${jobs}.db`));
      copyFileSync(baseDb, db);
      const r = run(['merge', '--json', '--jobs', jobs, '--db', db, dir]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/host-bad-gzip\.json\.gz: a gzip file that does not unpack/);
      expect(r.stderr).toMatch(/host-not-json\.json: not JSON/);
      expect(r.stderr).toMatch(/host-folder\.json: is a directory, not a file/);
      outs[jobs] = JSON.parse(r.stdout);
    }
    expect(outs['2']).toMatchObject({ merged: 18, failed: 3 });
    expect(outs['2'].results.map((x) => [x.file, x.error ?? null])).toEqual(outs['0'].results.map((x) => [x.file, x.error ?? null]));
    for (const sql of ['SELECT count(*) FROM reports', 'SELECT group_concat(digest) FROM (SELECT digest FROM reports ORDER BY id)', 'SELECT sum(entries) FROM host_inventory', 'SELECT group_concat(hex(data)) FROM (SELECT data FROM host_inventory ORDER BY host_id)', 'SELECT count(*) FROM paths'])
      expect(count(bases['2'], sql), sql).toBe(count(bases['0'], sql));
    // again: every report is known by its bytes' hash, in the threads and on the main thread
    for (const jobs of ['0', '2']) {
      const again = run(['merge', '--json', '--jobs', jobs, '--db', bases[jobs], dir]);
      expect(JSON.parse(again.stdout), jobs).toMatchObject({ merged: 0, skipped: 18, failed: 3 });
    }
    expect(run(['merge', '--jobs', 'many', '--db', bases['0'], dir]).stderr).toBe('pooltag merge: --jobs wants a whole number from 0 to 256, got "many"\n');
  });

  it('an interrupted merge (killed) keeps its committed batches, and a rerun merges the rest: the same base as one clean merge', async () => {
    const dir = join(tmp, 'fleet-kill');
    const files = hostReports(dir, 25);
    // the last input is a FIFO: the merge blocks there, in its third batch (batches of 10), until killed
    const fifo = join(tmp, 'last.json.gz');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const db = join(tmp, 'fleet-kill.db');
    copyFileSync(baseDb, db);
    const seeded = count(db, 'SELECT count(*) FROM reports');
    const child = spawn(process.execPath, [bin, 'merge', '--db', db, ...files, fifo], { stdio: 'ignore', env: { ...process.env, POOLTAG_MERGE_BATCH: '10' } });
    const exited = new Promise((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    const w = await open(fifo, 'w'); // the merge has reached the last report
    for (let i = 0; i < 200 && count(db, 'SELECT count(*) FROM reports') < seeded + 20; i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await w.close().catch(() => undefined);
    expect(count(db, 'SELECT count(*) FROM reports')).toBe(seeded + 20); // two batches committed, the third lost
    expect(String(count(db, 'PRAGMA integrity_check'))).toBe('ok');
    rmSync(fifo);
    // the rerun: the 20 merged are skipped, the rest merged
    const last = hostReports(join(tmp, 'fleet-kill-last'), 26)[25];
    const again = run(['merge', '--json', '--db', db, ...files, last], { POOLTAG_MERGE_BATCH: '10' });
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ merged: 6, skipped: 20, failed: 0 });
    // the same as one uninterrupted merge
    const clean = join(tmp, 'fleet-clean.db');
    copyFileSync(baseDb, clean);
    expect(run(['merge', '--db', clean, ...files, last]).status).toBe(0);
    for (const sql of ['SELECT count(*) FROM reports', 'SELECT count(*) FROM hosts', 'SELECT sum(entries) FROM host_inventory', 'SELECT count(*) FROM paths', "SELECT group_concat(image_id || ':' || hosts) FROM (SELECT * FROM image_hosts ORDER BY image_id)"])
      expect(count(db, sql), sql).toBe(count(clean, sql));
  }, 120_000);

  it('keeps each host inventory with first and last seen; a path whose image changed keeps both', async () => {
    const db = join(tmp, 'seen.db');
    copyFileSync(baseDb, db);
    const s = await Store.open(db);
    try {
      const at = (t: string, files = x64Report.files): ScanReport => ({ ...x64Report, schemaVersion: 2, host: { ...x64Report.host, name: 'SEEN' }, startedAt: t, finishedAt: t, images: [], files: files.map((f) => ({ ...f, known: true })), summary: { ...x64Report.summary, images: 0 } });
      await s.mergeReport(at('2026-03-02T00:00:00.000Z'));
      await s.mergeReport(at('2026-03-05T00:00:00.000Z'));
      await s.mergeReport(at('2026-03-01T00:00:00.000Z')); // an older report merged late
      // the first file's image replaced by another known image
      const [f0, f1] = x64Report.files;
      await s.mergeReport(at('2026-03-09T00:00:00.000Z', [{ ...f0, sha256: f1.sha256 }]));
      const inv = await s.hostInventory('SEEN');
      expect(inv).toHaveLength(x64Report.files.length + 1);
      for (const f of x64Report.files) {
        const e = inv.find((x) => x.path === f.path && x.sha256 === f.sha256)!;
        expect(e).toMatchObject({ firstSeen: '2026-03-01T00:00:00.000Z', lastSeen: '2026-03-05T00:00:00.000Z' });
      }
      expect(inv.find((x) => x.path === f0.path && x.sha256 === f1.sha256)).toMatchObject({ firstSeen: '2026-03-09T00:00:00.000Z', lastSeen: '2026-03-09T00:00:00.000Z' });
      const where = (await s.imageHosts(f1.sha256!)).filter((w) => w.host === 'SEEN');
      expect(where.map((w) => w.path).sort()).toEqual([f0.path, f1.path].sort());
      // a Windows path in another spelling is the same path
      const p = 'C:\\Windows\\System32\\drivers\\Same.sys';
      await s.mergeReport({ ...at('2026-03-10T00:00:00.000Z', [{ ...f0, path: p }]), host: { ...x64Report.host, name: 'CASE' } });
      await s.mergeReport({ ...at('2026-03-11T00:00:00.000Z', [{ ...f0, path: p.toUpperCase() }]), host: { ...x64Report.host, name: 'CASE' } });
      expect(await s.hostInventory('CASE')).toEqual([{ path: p, sha256: f0.sha256, firstSeen: '2026-03-10T00:00:00.000Z', lastSeen: '2026-03-11T00:00:00.000Z' }]);
    } finally {
      await s.close();
    }
  });

  it('the inventory blob round-trips', async () => {
    const e = [
      { pathId: 7, imageId: 3, first: 1_700_000_000, last: 1_800_000_000 },
      { pathId: 2, imageId: 900_000, first: 1_700_000_000, last: 1_700_000_000 },
      { pathId: 7, imageId: 1, first: 1_750_000_000, last: 1_750_000_000 },
    ];
    const sorted = [e[1], e[2], e[0]];
    expect(decodeInventory(encodeInventory(e))).toEqual(sorted);
    expect(decodeInventory(encodeInventory(mergeInventory(e, [{ pathId: 2, imageId: 900_000, first: 1_600_000_000, last: 1_650_000_000 }])))[0]).toEqual({ pathId: 2, imageId: 900_000, first: 1_600_000_000, last: 1_700_000_000 });
    expect(() => decodeInventory(encodeInventory(e).subarray(0, 5))).toThrow(/cut short/);
  });

  it('adding a report to a blob in one pass gives the bytes of decode, merge and encode', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    let blob: Buffer | null = null;
    let entries: { pathId: number; imageId: number; first: number; last: number }[] = [];
    for (let round = 0; round < 40; round++) {
      // a report seen at one time (sometimes earlier than the last: reports merged out of order),
      // with repeats, pairs the host had, and new ones; ids up to the limits
      const seen = 1_700_000_000 + rnd(1000) * 3600;
      const pairs: [number, number][] = [];
      for (let k = rnd(300); k > 0; k--) pairs.push(rnd(4) === 0 && entries.length ? [entries[rnd(entries.length)].pathId, entries[rnd(entries.length)].imageId] : [rnd(50) === 0 ? 2 ** 27 - 1 - rnd(5) : rnd(2000), rnd(50) === 0 ? 2 ** 26 - 1 - rnd(5) : rnd(500)]);
      if (rnd(5) === 0 && pairs.length) pairs.push(pairs[0], pairs[0]);
      const seenEntries = pairs.map(([pathId, imageId]) => ({ pathId, imageId, first: seen, last: seen }));
      const expected = encodeInventory(mergeInventory(entries.map((e) => ({ ...e })), seenEntries));
      const got = addToInventory(blob, Float64Array.from(pairs, ([p, i]) => inventoryKey(p, i)), seen);
      expect(got.blob.equals(expected)).toBe(true);
      entries = decodeInventory(got.blob);
      expect(got.entries).toBe(entries.length);
      if (entries.length) {
        expect(got.first).toBe(Math.min(...entries.map((e) => e.first)));
        expect(got.last).toBe(Math.max(...entries.map((e) => e.last)));
      }
      blob = got.blob;
    }
    expect(entries.length).toBeGreaterThan(1000);
    expect(() => inventoryKey(1, 2 ** 26)).toThrow(/out of range/);
    expect(() => addToInventory(encodeInventory(entries).subarray(0, 9), new Float64Array(0), 1)).toThrow(/cut short|out of range/);
  });
});

describe('files in a folder', () => {
  it('merge takes .json, .ndjson and the same gzipped from a folder, nothing else', () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...x64Report, host: { ...x64Report.host, name: 'A' } }));
    writeFileSync(join(dir, 'b.json.gz'), gzipSync(JSON.stringify({ ...x64Report, host: { ...x64Report.host, name: 'B' } })));
    writeFileSync(join(dir, 'c.txt'), 'x');
    const r = run(['merge', '--json', '--db', join(tmp, 'mixed.db'), dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ merged: 2, hosts: 2 });
    expect(readdirSync(dir)).toHaveLength(3);
  });
});
