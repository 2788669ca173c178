#!/usr/bin/env node
// Benchmark of the base on PostgreSQL (issue 20, item 3): `pooltag merge` of synthetic fleet
// reports into a PostgreSQL base against the same merge into the SQLite file, in one run; then
// 4 merges at once (the reports split in 4) into one PostgreSQL base, with notes written
// meanwhile: time, and rows lost (every count of the base against the SQLite merge's; must be 0).
//
//   npm run build && npm run bench:pg [-- --hosts N]
//
// The server is a throwaway cluster in a temporary folder (scripts/lib/pg-cluster.mjs; fsync
// off, as a test server): a production server that syncs every commit is slower per batch.
// Reports are the bench:kb fleet (scripts/lib/synthetic-fleet.mjs): every host has the same 400
// inbox drivers and 100 of a tail of 9,600, full reports (not --known inventory).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startCluster } from './lib/pg-cluster.mjs';
import { writeFleet } from './lib/synthetic-fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const HOSTS = opt('--hosts', 200);

const pg = await startCluster();
if (!pg.ok) {
  console.error(`bench:pg: cannot start PostgreSQL: needs ${pg.reason}`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-pg-'));
try {
  const all = join(work, 'reports');
  mkdirSync(all);
  const { bytes } = writeFleet(all, { hosts: HOSTS, common: 400, tail: 9600, perHostTail: 100 });
  console.log(`${HOSTS} synthetic host reports, ${(bytes / 1e6).toFixed(0)} MB (500 drivers each, full reports)`);

  const cli = (argv) => spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const timed = (argv) => {
    const t = performance.now();
    const r = cli(argv);
    if (r.status !== 0) throw new Error(`pooltag ${argv.join(' ')}: ${r.stderr}`);
    return (performance.now() - t) / 1000;
  };
  const counts = (db) => {
    const s = JSON.parse(cli(['stats', '--json', '--db', db]).stdout);
    return { hosts: s.hosts, reports: s.reports, drivers: s.drivers, sightings: s.sightings, evidence: s.evidence, inventory: s.inventory, notes: s.notes };
  };

  // one merge of every report: SQLite, then PostgreSQL (each into a new base)
  const file = join(work, 'kb.db');
  const url = await pg.createDatabase('one');
  const sqliteS = timed(['merge', '--db', file, all]);
  const pgS = timed(['merge', '--db', url, all]);
  const want = counts(file);
  const gotOne = counts(url);
  const lostOne = Object.keys(want).reduce((n, k) => n + Math.abs(want[k] - gotOne[k]), 0);
  console.log(`merge of ${HOSTS} reports: SQLite ${sqliteS.toFixed(1)} s (${(HOSTS / sqliteS).toFixed(0)} reports/s), PostgreSQL ${pgS.toFixed(1)} s (${(HOSTS / pgS).toFixed(0)} reports/s), ${(pgS / sqliteS).toFixed(2)}x; rows differing ${lostOne}`);

  // 4 merges at once into one PostgreSQL base, 8 notes meanwhile
  const names = readdirSync(all).sort();
  const parts = [0, 1, 2, 3].map((k) => {
    const d = join(work, `part${k}`);
    mkdirSync(d);
    for (const n of names.filter((_, i) => i % 4 === k)) renameSync(join(all, n), join(d, n));
    return d;
  });
  const four = await pg.createDatabase('four');
  const run = (argv) =>
    new Promise((res) => {
      const c = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (status) => res({ status, err }));
    });
  const t0 = performance.now();
  const results = await Promise.all([
    ...parts.map((d) => run(['merge', '--db', four, d])),
    ...Array.from({ length: 8 }, (_, i) => run(['note', '--db', four, `Nb${i}x`, `note ${i}`])),
  ]);
  const fourS = (performance.now() - t0) / 1000;
  const failed = results.filter((r) => r.status !== 0);
  if (failed.length) throw new Error(failed.map((r) => r.err).join('\n'));
  const got = counts(four);
  const expected = { ...want, notes: want.notes + 8 };
  const lost = Object.keys(expected).reduce((n, k) => n + Math.max(0, expected[k] - got[k]), 0);
  const extra = Object.keys(expected).reduce((n, k) => n + Math.max(0, got[k] - expected[k]), 0);
  console.log(`4 merges at once (${HOSTS / 4} reports each) and 8 notes into one PostgreSQL base: ${fourS.toFixed(1)} s (${(HOSTS / fourS).toFixed(0)} reports/s, ${(fourS / pgS).toFixed(2)}x the one merge); rows lost ${lost}, rows extra ${extra}`);
  console.log(`counts: ${JSON.stringify(got)}`);
  if (lost || extra || lostOne) process.exitCode = 1;
} finally {
  pg.stop();
  rmSync(work, { recursive: true, force: true });
}
