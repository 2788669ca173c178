#!/usr/bin/env node
// Issue 21 figure: on the development corpus, the share of allocation call sites whose pool is
// known (every arm a constant), partly known (some arms) or unknown, and the same for a constant
// requested size, per architecture.
//
//   node scripts/measure-pool-args.mjs [--dist DIR] [--json]
//
// An allocation site is one (image, routine, call site) with evidence whose routine allocates
// from a pool it names (data/routines.json `pool` / `sizeArg`: ExAllocatePool*, lookaside lists,
// NDIS, Flt, VideoPort, StorPort, KMDF); a site with several tags counts once. A site whose tag
// was not recovered has no evidence record, so it is not counted (its pool and size are not
// recorded either). "fixed" pools (NDIS, StorPort) are known by the routine, not read.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ARCHES, REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';

const args = process.argv.slice(2);
let dist = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
const json = args.includes('--json');
for (let i = 0; i < args.length; i++) if (args[i] === '--dist') dist = path.join(path.resolve(args[++i]), 'dist', 'src', 'index.js');
const devset = requireDevset('measure-pool-args');
if (!devset) process.exit(0);
const { readPe, extractEvidence } = await import(pathToFileURL(dist).href);

const state = (v) => (!v ? null : v.values.length === 0 ? 'unknown' : v.unknown ? 'partly' : 'known');
const out = {};
for (const arch of ARCHES) {
  const c = { sites: 0, pool: { known: 0, partly: 0, unknown: 0, fixed: 0, absent: 0 }, size: { known: 0, partly: 0, unknown: 0, absent: 0 }, sizeReasons: {} };
  for (const f of devset.files.filter((f) => f.arch === arch)) {
    const buf = fs.readFileSync(f.path);
    let x;
    try {
      x = await extractEvidence(buf, readPe(buf, { hash: false }));
    } catch {
      continue;
    }
    const seen = new Set();
    for (const e of x.evidence) {
      if (!e.pool && !e.size) continue;
      const key = `${e.routine}:${e.callSiteRva}`;
      if (seen.has(key)) continue;
      seen.add(key);
      c.sites++;
      const p = state(e.pool);
      if (!p) c.pool.absent++;
      else if (e.pool.fixed && p === 'known') c.pool.fixed++;
      else c.pool[p]++;
      const s = state(e.size);
      c.size[s ?? 'absent']++;
      if (s === 'unknown') {
        const why = e.size.unknown.replace(/0x[0-9a-f]+/g, 'N').replace(/parameter \d+/g, 'parameter N').replace(/\b(?:[re]?[a-z]{2}|r\d+d?|[wx]\d+)\b is/g, 'REG is');
        c.sizeReasons[why] = (c.sizeReasons[why] ?? 0) + 1;
      }
    }
  }
  out[arch] = c;
}
if (json) console.log(JSON.stringify(out, null, 2));
else {
  const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');
  console.log('arch    sites  pool known (+fixed)  partly  unknown | size known  partly  unknown');
  for (const [arch, c] of Object.entries(out)) {
    const pk = c.pool.known + c.pool.fixed;
    console.log(
      `${arch.padEnd(6)} ${String(c.sites).padStart(6)}  ${pct(pk, c.sites).padStart(6)} (${c.pool.fixed} fixed)  ${pct(c.pool.partly, c.sites).padStart(6)}  ${pct(c.pool.unknown, c.sites).padStart(6)} | ${pct(c.size.known, c.sites).padStart(6)}  ${pct(c.size.partly, c.sites).padStart(6)}  ${pct(c.size.unknown, c.sites).padStart(6)}`,
    );
  }
  for (const [arch, c] of Object.entries(out)) {
    const top = Object.entries(c.sizeReasons).sort((a, b) => b[1] - a[1]).slice(0, 4);
    console.log(`${arch} unknown sizes, commonest reasons: ${top.map(([w, n]) => `${n} ${w}`).join('; ')}`);
  }
}
