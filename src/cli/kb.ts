/**
 * Knowledge-base commands: import-pooltag, merge, lookup, search, show, stats, note.
 * Thin: each parses its arguments, calls the library, prints.
 */
import { sql } from '../knowledge/kysely.js';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

import { describeCallSites, DriverBuilds, type DriverCandidate } from '../answer/driver-candidate.js';
import { Lookup, unknownTagAdvice, type Candidate, type LookupResult, type TagAnswer } from '../answer/lookup.js';
import { isDatabaseUrl, p } from '../knowledge/sql.js';
import { dbTarget, Store, StoreError } from '../knowledge/store.js';
import { buildTitle, callSiteLine, driverLines, driverTitle, linkedDriverLine, type DriverTextOptions } from './driver-text.js';
import { classifyError } from '../report/file-error.js';
import { UsageError } from './usage.js';
import { safeText, toJson } from './text.js';
import { Tag } from '../tag/tag.js';

export interface DbOption {
  db?: string;
  json?: boolean;
}

async function openRead(opts: DbOption, command: string): Promise<Store | null> {
  try {
    return await Store.open(dbTarget(opts), { readonly: true });
  } catch (err) {
    if (err instanceof StoreError) {
      process.stderr.write(`pooltag ${command}: ${err.message}\n`);
      return null;
    }
    throw err;
  }
}

/**
 * Opens the base for writing. `created` says the file did not exist before: a command that
 * then writes nothing (every input refused) removes it again with `discard`, so that a failed
 * command leaves nothing half-made behind.
 */
async function openWrite(opts: DbOption, command: string): Promise<{ store: Store; created: boolean; discard: () => void }> {
  const path = dbTarget(opts);
  const created = !isDatabaseUrl(path) && !existsSync(path);
  // Opening (a migration), the merge and the index each take the write lock: waiting is said once.
  let waited = false;
  const onWait = (m: string) => {
    if (!waited) process.stderr.write(`pooltag ${command}: ${m}\n`);
    waited = true;
  };
  const store = await Store.open(path, { onWait });
  const discard = () => {
    if (!created) return;
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  };
  return { store, created, discard };
}

/** Why a file could not be read, in words (`no such file`, `is a directory, not a file`). */
const readError = (err: unknown) => ((err as NodeJS.ErrnoException)?.code ? classifyError(err).message : (err as Error).message);

const hex = (n: number | null) => (n === null ? '?' : `0x${n.toString(16)}`);

// ---------------------------------------------------------------------------------------
// import-pooltag
// ---------------------------------------------------------------------------------------

export async function importPooltagCommand(files: string[], opts: DbOption & { label?: string }): Promise<number> {
  const { parsePooltagTxt, pooltagTxtProblem } = await import('../knowledge/pooltag-txt.js');
  const { refreshSearchIndex } = await import('../knowledge/search-index.js');
  let targets: { path: string; label: string | null }[] = files.map((f) => ({ path: resolve(f), label: opts.label ?? null }));
  if (targets.length === 0) {
    const { findInstalledPooltag, pooltagCandidates } = await import('../knowledge/locate.js');
    targets = findInstalledPooltag();
    if (targets.length === 0) {
      const where = pooltagCandidates().slice(0, 3).map((c) => c.path);
      process.stderr.write(
        `pooltag import-pooltag: no pooltag.txt found where the Debugging Tools install it${where.length ? ` (looked in ${where.join(', ')}, ...)` : ' (not on Windows or WSL)'}; pass its path: pooltag import-pooltag PATH\\triage\\pooltag.txt\n`,
      );
      return 1;
    }
  }
  const { store, discard } = await openWrite(opts, 'import-pooltag');
  let failed = 0;
  let imported = 0;
  const results = [];
  try {
    for (const t of targets) {
      try {
        let bytes: Buffer;
        try {
          bytes = readFileSync(t.path);
        } catch (err) {
          throw new Error(readError(err));
        }
        const file = parsePooltagTxt(bytes, t.path);
        const problem = pooltagTxtProblem(file, bytes);
        if (problem) throw new Error(`not a pooltag.txt: ${problem}`);
        const r = await store.importPooltag(file, bytes, { path: t.path, label: t.label, fileDate: statSync(t.path).mtime.toISOString() });
        results.push({ path: t.path, ...r });
        imported++;
        if (!opts.json) process.stdout.write(`${r.skipped ? 'already imported' : 'imported'}  ${safeText(t.path, 300)}: ${r.entries} entries${t.label ? ` (${t.label})` : ''}\n`);
      } catch (err) {
        failed++;
        results.push({ path: t.path, error: (err as Error).message });
        process.stderr.write(`pooltag import-pooltag: ${safeText(t.path, 300)}: ${(err as Error).message}\n`);
      }
    }
    if (imported) await refreshSearchIndex(store);
  } finally {
    await store.close();
    if (!imported) discard();
  }
  if (opts.json) process.stdout.write(toJson(results) + '\n');
  return failed ? 2 : 0;
}

// ---------------------------------------------------------------------------------------
// merge
// ---------------------------------------------------------------------------------------

/** Report files in a folder: .json, .ndjson, and the same gzipped. */
const REPORT_NAME = /\.(json|ndjson)(\.gz)?$/i;

function reportFiles(p: string): string[] {
  const st = statSync(p);
  if (!st.isDirectory()) return [p];
  const found = readdirSync(p)
    .filter((n) => REPORT_NAME.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(p, n));
  if (found.length === 0) throw new Error('a folder with no reports in it (*.json, *.ndjson, *.json.gz)');
  return found;
}

/**
 * The reports an argument names: a file, a folder of reports, or a wildcard pattern (quoted,
 * so that the shell does not expand 100,000 names: `"\\\\collector\\pooltag$\\*.json.gz"`).
 */
async function reportInputs(input: string): Promise<string[]> {
  const { hasWildcard, expandWildcards } = await import('../platform/wildcards.js');
  if (hasWildcard(input) && !existsSync(input)) {
    const found = (await expandWildcards([input], { apply: true })).filter((f) => f !== input);
    if (found.length === 0) throw new Error('no file matches this pattern');
    return found.filter((f) => !statSync(f).isDirectory());
  }
  return reportFiles(input);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The search index after a write: rebuilt, current, or left to the writer that changed the base after this one. */
async function indexLine(store: Store, built: Awaited<ReturnType<typeof import('../knowledge/search-index.js').refreshSearchIndex>>): Promise<string | null> {
  if (built) return `search index rebuilt: ${built.documents} documents, ${built.terms} terms, ${(built.bytes / 1e6).toFixed(1)} MB, ${(built.ms / 1000).toFixed(2)} s`;
  const indexed = await store.one(sql`SELECT generation FROM search_index WHERE id = 1`);
  if (indexed === undefined || Number(indexed) !== (await store.generation())) return 'search index: left to the pooltag that changed the base after this one (it rebuilds it)';
  return 'search index: current (rebuilt by another pooltag)';
}

/** A merge commits every this many reports or seconds: an interruption loses at most one batch, which a rerun merges. */
const MERGE_BATCH_REPORTS = Number(process.env.POOLTAG_MERGE_BATCH) > 0 ? Number(process.env.POOLTAG_MERGE_BATCH) : 2000; // tests make it small
const MERGE_BATCH_MS = 5000;
/** From this many reports, a merge reads them in worker threads (fewer: starting threads costs more than it saves). */
const MERGE_THREADS_FROM = 16;

export async function mergeCommand(inputs: string[], opts: DbOption & { quiet?: boolean; jobs?: string }): Promise<number> {
  const jobs = opts.jobs === undefined ? undefined : Number(opts.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 0 && jobs <= 256)) throw new UsageError(`--jobs wants a whole number from 0 to 256, got ${JSON.stringify(opts.jobs)}`);
  const { refreshSearchIndex } = await import('../knowledge/search-index.js');
  const { readFile } = await import('node:fs/promises');
  const { store, created, discard } = await openWrite(opts, 'merge');
  const t0 = performance.now();
  let failed = 0;
  let merged = 0;
  let skipped = 0;
  let newDrivers = 0;
  /** Reports merged in batches already committed (what an interruption keeps). */
  let committedReports = 0;
  const hosts = new Set<string>();
  const results: unknown[] = [];
  let closeReader: () => Promise<void> = async () => undefined;
  // Ctrl-C: the batch being merged is rolled back, the batches committed before it stand. Either way it is said.
  let committed = false;
  let merging = false;
  const storePath = store.path;
  let indexState = 'the search index is rebuilt by the next search';
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    if (merging) return; // the merge loop sees it at its next step and rolls back
    if (!committed) {
      // Still reading the inputs (stdin): no transaction yet.
      void store.close();
      if (!committedReports) discard();
      process.stderr.write(`pooltag merge: interrupted (Ctrl-C) before merging: nothing merged; ${created ? 'no knowledge base was created' : `${safeText(store.path, 300)} is as it was`}\n`);
      process.exit(130);
    }
    process.stderr.write(`pooltag merge: interrupted (Ctrl-C) after the merge was committed: ${merged} report(s) merged into ${safeText(storePath, 300)}; ${indexState}\n`);
    process.exit(130);
  };
  class Interrupted extends Error {}
  process.on('SIGINT', onInterrupt);
  const bar = !opts.json && !opts.quiet && process.stderr.isTTY ? process.stderr : null;
  let barLen = 0;
  const clearBar = () => {
    if (bar && barLen) bar.write(`\r${' '.repeat(barLen)}\r`);
    barLen = 0;
  };
  try {
    // Every input first (stdin read once), then batches of reports, each one transaction.
    const files: string[] = [];
    for (const input of inputs) {
      try {
        files.push(...(input === '-' ? ['-'] : await reportInputs(input)));
      } catch (err) {
        failed++;
        process.stderr.write(`pooltag merge: ${safeText(input, 300)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : readError(err)}\n`);
      }
    }
    const stdin = files.includes('-') ? await readStdin() : null;
    // Reports are read, unpacked, parsed and checked ahead of the merge, in worker threads
    // (one per core) when there are many: the main thread only writes the base.
    const { ReportReader } = await import('../report/reader.js');
    const threads = jobs ?? (files.length >= MERGE_THREADS_FROM ? availableParallelism() : 0);
    const reader = new ReportReader(files, { threads, stdin, merged: await store.mergedContent() });
    closeReader = () => reader.close();
    let lastBar = 0;
    const progress = (i: number) => {
      const now = performance.now();
      if (!bar || (now - lastBar < 250 && i < files.length)) return;
      lastBar = now;
      const secs = Math.max((now - t0) / 1000, 0.001);
      const rate = i / secs;
      const eta = rate > 0 ? Math.round((files.length - i) / rate) : 0;
      const line = `merging ${i}/${files.length} reports  ${rate.toFixed(0)}/s  ${merged} merged, ${skipped} already, ${failed} failed${i < files.length ? `  about ${eta} s left` : ''}`;
      bar.write(`\r${line}${' '.repeat(Math.max(0, barLen - line.length))}`);
      barLen = line.length;
    };
    let next = 0;
    while (next < files.length) {
      let batchMerged = 0;
      let batchSkipped = 0;
      let batchNew = 0;
      const batchHosts: string[] = [];
      const batchResults: unknown[] = [];
      try {
        await store.batchAsync(async () => {
          merging = true;
          const started = performance.now();
          let inBatch = 0;
          while (next < files.length && inBatch < MERGE_BATCH_REPORTS && performance.now() - started < MERGE_BATCH_MS) {
            const i = next++;
            inBatch++;
            const f = files[i];
            const input = await reader.get(i);
            // Each report awaits its turn: Ctrl-C is seen here, and the batch rolls back.
            if (interrupted) throw new Interrupted();
            try {
              if (input.ok === false) throw new Error(input.message);
              if (input.ok === 'merged' || (await store.hasReportContent(input.contentSha256))) {
                batchSkipped++;
                batchResults.push({ file: f, skipped: true });
                continue;
              }
              const r = await store.mergeReport(input.report, f === '-' ? 'stdin' : resolve(f), input.contentSha256, input.digest, input);
              batchResults.push({ file: f, ...r });
              batchHosts.push(r.host);
              if (r.skipped) batchSkipped++;
              else batchMerged++;
              batchNew += r.newDrivers;
            } catch (err) {
              failed++;
              batchResults.push({ file: f, error: (err as Error).message });
              clearBar();
              process.stderr.write(`pooltag merge: ${safeText(f, 300)}: ${(err as Error).message}\n`);
            }
            progress(next);
          }
          await new Promise((res) => setImmediate(res));
          if (interrupted) throw new Interrupted();
        });
      } catch (err) {
        merging = false;
        store.resetIdCache();
        if (!(err instanceof Interrupted)) throw err;
        clearBar();
        if (committedReports === 0) {
          process.stderr.write(`pooltag merge: interrupted (Ctrl-C): nothing merged, the transaction was rolled back; ${created ? 'no knowledge base was created' : `${safeText(store.path, 300)} is as it was`}\n`);
          merged = skipped = 0; // nothing of it stands (and a base this command created is removed)
        } else {
          process.stderr.write(
            `pooltag merge: interrupted (Ctrl-C): ${merged} report(s) merged and committed into ${safeText(store.path, 300)}, the batch being merged was rolled back; run the same merge again to go on (merged reports are skipped)\n`,
          );
        }
        process.exitCode = 130;
        return 130;
      }
      merging = false;
      merged += batchMerged;
      skipped += batchSkipped;
      newDrivers += batchNew;
      committedReports += batchMerged + batchSkipped;
      for (const h of batchHosts) hosts.add(h);
      if (opts.json) results.push(...batchResults);
    }
    merging = false;
    await closeReader();
    clearBar();
    committed = true;
    const secs = (performance.now() - t0) / 1000;
    const summary = `merged ${merged} report(s) from ${hosts.size} host(s)${skipped ? `, ${skipped} already merged` : ''}${failed ? `, ${failed} failed` : ''}: ${newDrivers} new driver(s), in ${secs.toFixed(2)} s`;
    // Said before the index is rebuilt: the merge is committed whatever happens to the rebuild.
    if (!opts.json) process.stdout.write(summary + '\n');
    const built = merged || skipped ? await refreshSearchIndex(store) : null;
    if (built) indexState = 'the search index was rebuilt';
    // A Ctrl-C during the rebuild (synchronous) is dispatched here, where it can still be said.
    await new Promise((res) => setImmediate(res));
    if (opts.json) process.stdout.write(toJson({ merged, skipped, failed, newDrivers, hosts: hosts.size, seconds: secs, index: built, results }) + '\n');
    else {
      const idx = merged || skipped ? await indexLine(store, built) : null;
      if (idx) process.stdout.write(idx + '\n');
      process.stdout.write(created && !merged && !skipped ? `no knowledge base created at ${safeText(store.path, 300)} (nothing merged)\n` : `knowledge base ${safeText(store.path, 300)}\n`);
    }
  } finally {
    // After the commit the handler stays: a Ctrl-C during the index rebuild is said when it ends.
    if (!committed) process.off('SIGINT', onInterrupt);
    await closeReader();
    await store.close();
    if (merged === 0 && skipped === 0 && committedReports === 0) discard();
  }
  return failed ? 2 : 0;
}

// ---------------------------------------------------------------------------------------
// lookup
// ---------------------------------------------------------------------------------------

/** Where pooltag.txt says it, in one line: `pooltag.txt: modern line 2117; also 2003 line 936, wildcard "Ntf?" (2003 line 935)`. */
function pooltagSourcesText(c: Extract<Candidate, { source: 'pooltag.txt' }>): string {
  const where = (s: (typeof c.sources)[number]) => `${safeText(s.label ?? s.path, 200)} line ${s.line}`;
  const [lead, ...rest] = c.sources;
  const more = rest.map((s) => {
    const what = s.description.trim().toLowerCase() === c.description.trim().toLowerCase() ? '' : `: ${safeText(s.description, 120)}`;
    return s.entryTag !== c.entryTag ? `${s.wildcard ? 'wildcard ' : ''}"${safeText(s.entryTag, 8)}" (${where(s)}${what})` : `${where(s)}${what ? ` (${what.slice(2)})` : ''}`;
  });
  return `pooltag.txt${c.wildcard ? ` wildcard entry "${safeText(c.entryTag, 8)}"` : ''}: ${where(lead)}${more.length ? `; also ${more.join(', ')}` : ''}`;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** `core.sys - Pooltag Fixtures`, or the signer when the image names no company. */
function ownerTitle(d: DriverCandidate): string {
  const signer = d.signers.find((s): s is string => !!s);
  return `${driverTitle(d)}${!d.company && signer ? ` (signed by ${safeText(signer, 120)})` : ''}`;
}

/** A scanned driver's evidence in one line: what its lead build does with the tag, over how many builds and hosts. */
function driverEvidence(d: DriverCandidate, what: string): string {
  const lead = d.builds[d.lead];
  const sites = lead.callSites.length ? `: ${describeCallSites(lead.counts)}` : '';
  return `${what}${sites}; ${plural(d.builds.length, 'build')} on ${plural(d.hosts, 'host')}`;
}

/**
 * One candidate. By default its owner (file and vendor) and its evidence in one line each;
 * with --builds or --all, every build with its paths and call sites (RVAs).
 */
function renderCandidate(c: Candidate, i: number, opts: DriverTextOptions): string[] {
  const n = `${i + 1}.`.padEnd(4);
  const details = !!(opts.builds || opts.all);
  if (c.source === 'pooltag.txt') {
    const lines = [`  ${n}${c.binaryRaw ? safeText(c.binaryRaw, 120) : '(no binary named)'} - ${safeText(c.description, 200)}`, `      ${pooltagSourcesText(c)}`];
    const shown = details ? 3 : 1;
    for (const d of c.drivers.slice(0, shown)) lines.push(`      scanned: ${linkedDriverLine(d)}`);
    if (c.drivers.length > shown) lines.push(`      ... and ${c.drivers.length - shown} more scanned driver${c.drivers.length - shown === 1 ? '' : 's'} of that name${details ? '' : ' (--builds)'}`);
    return lines;
  }
  const what = c.source === 'call-site' ? `call sites in a scanned driver, ${c.confidence} confidence` : 'only a tag-like string in its data (a hint, not an owner)';
  if (!details) return [`  ${n}${ownerTitle(c.driver)}`, `      ${driverEvidence(c.driver, what)}`];
  return [`  ${n}${driverTitle(c.driver)}`, ...driverLines(c.driver, what, opts)];
}

/** `"FxAp" (0x70417846)` or several, and why: tags are case-sensitive, a `.` stands for a byte. */
function didYouMeanText(a: TagAnswer): string {
  const list = a.didYouMean.map((t) => `"${t.typed}" (${t.hex})`);
  const shown = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
  const why = [
    a.didYouMean.some((t) => t.display.toLowerCase() === a.tag.display.toLowerCase() && t.display !== a.tag.display) ? 'tags are case-sensitive' : null,
    a.didYouMean.some((t) => t.typed !== t.display) ? 'a byte shown as . is typed as \\xNN' : null,
  ].filter(Boolean);
  return `${shown}${why.length ? ` (${why.join('; ')})` : ''}`;
}

export function renderAnswer(a: TagAnswer, opts: DriverTextOptions = {}): string[] {
  const lines = [`"${a.tag.typed}"  ${a.tag.hex}  C literal ${a.tag.literal}${a.tag.protected ? '  (PROTECTED_POOL)' : ''}`];
  // What an engineer confirmed comes first: it is the best answer there is.
  for (const n of a.notes) lines.push(`  note${n.author ? ` (${safeText(n.author, 40)}, ${n.createdAt.slice(0, 10)})` : ''}: ${safeText(n.text, 400)}`);
  if (a.shared) lines.push(`  shared tag: ${safeText(a.shared.reason, 300)}`);
  a.candidates.forEach((c, i) => lines.push(...renderCandidate(c, i, opts)));
  // The tag's own sentence; the advice that is the same for every unknown tag is the caller's to say once.
  if (a.advice.length) lines.push(`  ${a.advice[0]}`);
  if (a.didYouMean.length) lines.push(`  did you mean ${didYouMeanText(a)}?`);
  else if (a.next && !a.advice.length) lines.push(`  ${a.next}`);
  return lines;
}

export async function lookupCommand(tags: string[], opts: DbOption & DriverTextOptions & { literal?: boolean }): Promise<number> {
  const store = await openRead(opts, 'lookup');
  if (!store) return 1;
  const results: LookupResult[] = [];
  let unknown = 0;
  try {
    const lk = new Lookup(store);
    for (const q of tags) {
      let r: LookupResult;
      try {
        r = await lk.lookup(q, { literal: !!opts.literal });
      } catch (err) {
        process.stderr.write(`pooltag lookup: ${(err as Error).message}\n`);
        return 1;
      }
      results.push(r);
      if (r.answers.length === 0 || r.answers.every((a) => a.candidates.filter((c) => c.source !== 'string').length === 0 && a.notes.length === 0)) unknown++;
    }
  } finally {
    await store.close();
  }
  if (opts.json) process.stdout.write(toJson(results.length === 1 ? results[0] : results) + '\n');
  else {
    const out: string[] = [];
    for (const r of results) {
      if (r.wildcard) out.push(`${JSON.stringify(r.query)} matches ${r.answers.length} known tag${r.answers.length === 1 ? '' : 's'}`);
      if (r.wildcard && r.answers.length === 0)
        out.push(`  nothing in the knowledge base matches it${r.didYouMean.length ? `; did you mean ${r.didYouMean.map((t) => `"${t.typed}"`).join(', ')} (tags are case-sensitive)?` : '.'}`, '');
      for (const a of r.answers) out.push(...renderAnswer(a, { builds: !!opts.builds, all: !!opts.all }), '');
    }
    const drivers = results.some((r) => r.answers.some((a) => a.candidates.some((c) => c.source !== 'pooltag.txt' || c.drivers.length)));
    if (drivers && !opts.builds && !opts.all) out.push('--builds: each build with its paths and call sites; --all: every call site');
    // What to do about tags nothing knows is the same for each: said once (20,000 tags gave 140,010 lines).
    const unknownTags = results.flatMap((r) => r.answers).filter((a) => a.advice.length);
    if (unknownTags.length) {
      const tags = unknownTags.map((a) => Tag.fromUlong(Number(a.tag.hex)));
      out.push(`Next, for ${tags.length === 1 ? `"${tags[0].typed}"` : `the ${tags.length} tags nothing knows`}:`, ...unknownTagAdvice(tags).map((l) => `  ${l}`));
    }
    process.stdout.write(out.join('\n').replace(/\n+$/, '') + '\n');
  }
  return unknown ? 3 : 0;
}

// ---------------------------------------------------------------------------------------
// search
// ---------------------------------------------------------------------------------------

export async function searchCommand(query: string[], opts: DbOption & { limit?: string }): Promise<number> {
  const { loadSearchIndex, searchIndex, refreshSearchIndex } = await import('../knowledge/search-index.js');
  let store = await openRead(opts, 'search');
  if (!store) return 1;
  let loaded = await loadSearchIndex(store);
  if (!loaded || loaded.stale) {
    await store.close();
    store = await Store.open(dbTarget(opts));
    await refreshSearchIndex(store);
    loaded = (await loadSearchIndex(store))!;
  }
  const limit = Math.max(1, Number(opts.limit ?? 20) || 20);
  const q = query.join(' ');
  let hits;
  try {
    hits = searchIndex(loaded.index, q);
  } catch (err) {
    await store.close();
    process.stderr.write(`pooltag search: ${(err as Error).message} (lunr query syntax: word, field:word, +must, -not, prefix*, word~1)\n`);
    return 1;
  }
  // One result per driver, as lookup and show group them: its builds (architectures, versions,
  // copies) share a file name (OriginalFilename, else the name it was seen under) and a vendor.
  const s = store;
  const driverKey = s.stmt(
    'search:driverKey',
    () =>
      sql`SELECT lower(coalesce(d.original_filename, (SELECT min(name) FROM sightings s WHERE s.sha256 = d.sha256), d.sha256)) || '|' || coalesce(d.company, d.signer, '') FROM drivers d WHERE d.sha256 = ${p('sha')}`,
  );
  const builds = new Map<string, number>();
  const keyOf = new Map<string, string>();
  const kept: typeof hits = [];
  for (const h of hits) {
    const [kind, sha] = h.ref.split(':');
    if (kind !== 'd') {
      kept.push(h);
      continue;
    }
    const key = String((await driverKey.pluck({ sha }))[0] ?? sha);
    keyOf.set(sha, key);
    builds.set(key, (builds.get(key) ?? 0) + 1);
    if (builds.get(key) === 1) kept.push(h); // the best-scored build stands for the driver
  }
  hits = kept;
  const rows = [];
  for (const h of hits.slice(0, limit)) {
    const [kind, a, b] = h.ref.split(':');
    if (kind === 'd') {
      const d = (await s.all<Record<string, string | null>>(sql`SELECT sha256, company, product, description, file_version, signer, arch FROM drivers WHERE sha256 = ${a}`))[0];
      const names = await s.pluck<string>(sql`SELECT DISTINCT name FROM sightings WHERE sha256 = ${a} ORDER BY name LIMIT 3`);
      const keys = await s.pluck<string>(sql`SELECT tag_key FROM evidence WHERE sha256 = ${a} AND shared = 0 GROUP BY tag_key ORDER BY min(tag), tag_key LIMIT 12`);
      const tags = keys.map((k) => Tag.fromMatchKey(k));
      rows.push({ type: 'driver', score: h.score, sha256: a, names, ...d, tags: tags.map((t) => t.display), typedTags: tags.map((t) => t.typed), builds: builds.get(keyOf.get(a)!) ?? 1 });
      continue;
    }
    if (kind === 'p') {
      const e = (await s.all<Record<string, string>>(sql`SELECT p.tag, p.binary_raw, p.description, s.label, s.path FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.source_id = ${Number(a)} AND p.line = ${Number(b)}`))[0];
      rows.push({ type: 'pooltag.txt', score: h.score, line: Number(b), ...e });
      continue;
    }
    const n = (await s.all<Record<string, string>>(sql`SELECT tag, tag_key, text, author, created_at FROM notes WHERE id = ${Number(a)}`))[0];
    rows.push({ type: 'note', score: h.score, ...n });
  }
  await store.close();
  if (opts.json) process.stdout.write(toJson({ query: q, total: hits.length, results: rows }) + '\n');
  else {
    const out = [`${hits.length} result${hits.length === 1 ? '' : 's'} for ${JSON.stringify(q)}${hits.length > limit ? ` (first ${limit}; --limit N)` : ''}`];
    for (const r of rows as Record<string, unknown>[]) {
      if (r.type === 'driver') {
        out.push(
          `  driver  ${safeText(((r.names as string[])[0] ?? String(r.sha256).slice(0, 12)) as string, 60)} ${r.file_version ? safeText(String(r.file_version), 30) : ''} ${r.company ? `- ${safeText(String(r.company), 80)}` : ''}${(r.builds as number) > 1 ? ` (${r.builds} builds)` : ''} tags: ${(r.typedTags as string[]).map((t) => `"${t}"`).join(' ') || '(none)'}`,
        );
      } else if (r.type === 'pooltag.txt') {
        out.push(`  pooltag ${JSON.stringify(r.tag)} - ${safeText(String(r.binary_raw ?? ''), 60)} - ${safeText(String(r.description), 120)}  (${safeText(String(r.label ?? r.path), 60)} line ${r.line})`);
      } else out.push(`  note    "${Tag.fromMatchKey(String(r.tag_key)).typed}": ${safeText(String(r.text), 160)}`);
    }
    process.stdout.write(out.join('\n') + '\n');
  }
  return hits.length ? 0 : 3;
}

// ---------------------------------------------------------------------------------------
// show, stats, note
// ---------------------------------------------------------------------------------------

export async function showCommand(what: string, opts: DbOption & DriverTextOptions): Promise<number> {
  const store = await openRead(opts, 'show');
  if (!store) return 1;
  try {
    let shas: string[];
    if (/^[0-9a-f]{8,64}$/i.test(what)) shas = await store.pluck<string>(sql`SELECT sha256 FROM drivers WHERE sha256 LIKE ${what.toLowerCase() + '%'} ORDER BY sha256 LIMIT 200`);
    else {
      const name = what.split(/[\\/]/).pop()!.toLowerCase();
      // The file name it was seen under, or the name its version resource gives (a renamed copy is the same driver).
      shas = await store.pluck<string>(
        sql`SELECT sha256 FROM (SELECT DISTINCT sha256 FROM sightings WHERE name = ${name} OR name = ${name + '.sys'} UNION SELECT sha256 FROM drivers WHERE lower(original_filename) IN (${name}, ${name + '.sys'})) AS found ORDER BY sha256 LIMIT 200`,
      );
    }
    if (shas.length === 0) {
      const shortHex = /^[0-9a-f]{1,7}$/i.test(what) ? `; a SHA-256 prefix needs 8 or more hex digits (${JSON.stringify(what)} has ${what.length})` : '';
      process.stderr.write(`pooltag show: no driver ${JSON.stringify(what)} in the knowledge base (give a file name like tcpip.sys or a SHA-256 prefix)${shortHex}\n`);
      if (opts.json) process.stdout.write('[]\n'); // scripts get JSON whatever the answer, as lookup --json
      return 3;
    }
    const builds = new DriverBuilds(store);
    const out: unknown[] = [];
    const text: string[] = [];
    for (const driver of await builds.candidates(shas, null)) {
      const images = [];
      for (const b of driver.builds) {
        const d = (await store.all<Record<string, unknown>>(sql`SELECT * FROM drivers WHERE sha256 = ${b.sha256}`))[0];
        const parse = (v: unknown, dflt: string) => JSON.parse(String(v ?? dflt)) as unknown;
        const tags = await builds.tagsOf(b.sha256);
        images.push({
          build: b,
          tags,
          record: { ...d, version_strings: parse(d.version_strings, '{}'), import_modules: parse(d.import_modules, '[]'), strings: parse(d.strings, '[]'), function_names: parse(d.function_names, '{}') } as Record<string, unknown>,
        });
      }
      out.push({
        ...driver,
        builds: images.map((im) => ({ ...im.build, ...im.record, tags: im.tags })),
      });
      text.push(driverTitle(driver), ...driverLines(driver, driver.description ? safeText(driver.description, 160) : 'a scanned driver', opts, '  '));
      const lead = images[driver.lead];
      const r = lead.record;
      const leadOf = driver.builds.length > 1 ? ` (${buildTitle(lead.build)}; --builds for every build)` : '';
      text.push(`  sha256 ${lead.build.sha256}`);
      if (r.pdb_path) text.push(`  pdb    ${safeText(String(r.pdb_path), 200)}`);
      if (r.signer) text.push(`  signer ${safeText(String(r.signer), 120)}${r.issuer ? ` (issuer ${safeText(String(r.issuer), 120)})` : ''}`);
      // Tags at call sites over every build: the lead build's sites, and how many builds pass each.
      const tagBuilds = new Map<string, number>();
      for (const im of images) for (const t of im.tags) tagBuilds.set(t.tag, (tagBuilds.get(t.tag) ?? 0) + 1);
      const shown = opts.builds ? images : [lead];
      for (const im of shown) {
        const header = opts.builds && images.length > 1 ? ` in ${buildTitle(im.build)}, ${im.build.sha256.slice(0, 12)}` : leadOf;
        text.push(`  ${im.tags.length} tag${im.tags.length === 1 ? '' : 's'} at call sites${im.record.unresolved ? `, ${im.record.unresolved} call sites unresolved` : ''}${header}:`);
        for (const t of im.tags) {
          const routines = [...new Set(t.callSites.map((c) => c.routine))].join(', ');
          const inBuilds = images.length > 1 ? `; in ${tagBuilds.get(t.tag)} of ${images.length} builds` : '';
          text.push(`    "${Tag.fromUlong(t.ulong).typed}" 0x${t.ulong.toString(16).padStart(8, '0')}  ${routines}  (${describeCallSites(t.counts)}, ${t.callSites[0].confidence}${t.shared ? ', shared tag' : ''}${inBuilds})`);
          if (opts.all) for (const c of t.callSites) text.push(`      ${callSiteLine(c)}`);
        }
      }
      for (const s of (r.strings as { kind: string; text: string }[]).slice(0, 12)) text.push(`  ${s.kind.padEnd(9)}${safeText(s.text, 160)}`);
      text.push('');
    }
    process.stdout.write(opts.json ? toJson(out.length === 1 ? out[0] : out) + '\n' : text.join('\n'));
    return 0;
  } finally {
    await store.close();
  }
}

export async function statsCommand(opts: DbOption): Promise<number> {
  const store = await openRead(opts, 'stats');
  if (!store) return 1;
  try {
    const s = await store.stats();
    if (opts.json) {
      process.stdout.write(toJson(s) + '\n');
      return 0;
    }
    const lines = [
      `knowledge base  ${safeText(s.path, 300)} (schema ${s.schemaVersion})`,
      `hosts           ${s.hosts} (${s.reports} reports merged${s.lastMerge ? `, last ${s.lastMerge}` : ''})`,
      `drivers         ${s.drivers} distinct images, ${s.sightings} paths; ${s.driversWithTags} with tags at call sites`,
      `evidence        ${s.evidence} call sites, ${s.distinctTags} distinct tags`,
      `pooltag.txt     ${s.pooltagEntries} entries from ${s.pooltagSources.length} cop${s.pooltagSources.length === 1 ? 'y' : 'ies'}`,
      ...s.pooltagSources.map((p) => `                ${safeText(p.label ?? p.path, 200)}: ${p.entries} entries, file date ${p.fileDate?.slice(0, 10) ?? '?'}`),
      `notes           ${s.notes}`,
      `search index    ${s.index ? `${s.index.documents} documents, ${s.index.terms} terms, ${(s.index.bytes / 1e6).toFixed(1)} MB, built ${s.index.builtAt}${s.index.generation === s.generation ? '' : ' (stale: rebuilt on the next search)'}` : 'not built'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await store.close();
  }
}

export async function noteCommand(tagText: string, words: string[], opts: DbOption & { author?: string; literal?: boolean }): Promise<number> {
  const { parseTag } = await import('../tag/tag.js');
  const { refreshSearchIndex } = await import('../knowledge/search-index.js');
  const text = words.join(' ').trim();
  if (!text) {
    process.stderr.write('pooltag note: give the text of the note: pooltag note TAG "what you confirmed"\n');
    return 1;
  }
  let tag;
  try {
    tag = parseTag(tagText, { literal: !!opts.literal });
  } catch (err) {
    process.stderr.write(`pooltag note: ${(err as Error).message}\n`);
    return 1;
  }
  let author: string | null = opts.author ?? null;
  if (!author) {
    try {
      author = userInfo().username;
    } catch {
      author = null;
    }
  }
  const { store } = await openWrite(opts, 'note');
  try {
    const id = await store.addNote(tag, text, author);
    await refreshSearchIndex(store);
    if (opts.json) process.stdout.write(toJson({ id, tag: tag.display, text, author }) + '\n');
    else process.stdout.write(`note ${id} on ${JSON.stringify(tag.display)} saved in ${safeText(store.path, 300)}\n`);
  } finally {
    await store.close();
  }
  return 0;
}
