/**
 * The "answer" stage: which driver owns a tag, from the knowledge base, offline.
 *
 * Candidates are ranked by the strength of their evidence:
 *   1. call sites in a scanned driver (the tag is passed to an allocation routine there),
 *      high confidence before medium (wrappers, tables, struct fields);
 *   2. pooltag.txt owners: exact entries, then wildcard entries by poolmon's longest-prefix rule;
 *   3. a tag-looking string in a driver's data (what `strings | findstr` finds): a hint only.
 * Engineers' notes are shown with every answer. Shared tags (`None`, `Ddk `, `NDam`, ...) say
 * so: finding one in a driver does not make that driver the owner.
 */
import { tagPattern, patternMatches, normalizeTag4 } from '../knowledge/pooltag-txt.js';
import type { Store } from '../knowledge/store.js';
import { sharedTagInfo } from '../tag/routines.js';
import { parseTag, Tag, type ParseTagOptions } from '../tag/tag.js';

export interface DriverSummary {
  sha256: string;
  /** File names it was seen under (lower case), most common first. */
  names: string[];
  fileVersion: string | null;
  company: string | null;
  product: string | null;
  description: string | null;
  signer: string | null;
  arch: string | null;
  pdbPath: string | null;
  hosts: number;
  /** Up to 5 paths, most recently seen first. */
  paths: string[];
  pathCount: number;
  /** From the sightings; null for an image no merged file path pointed to. */
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface CallSiteSummary {
  routine: string;
  kind: string;
  callSiteRva: number;
  functionRva: number | null;
  recovery: string;
  confidence: string;
  wrappers: number[] | null;
}

export type Candidate =
  | { source: 'call-site'; confidence: 'high' | 'medium'; driver: DriverSummary; callSites: CallSiteSummary[] }
  | {
      source: 'pooltag.txt';
      confidence: 'medium' | 'low';
      /** The entry's tag as written (`Afd?` for a wildcard entry). */
      entryTag: string;
      wildcard: boolean;
      binaries: string[];
      binaryRaw: string | null;
      description: string;
      /** Every imported copy that says this, newest first. */
      sources: { path: string; label: string | null; fileDate: string | null; line: number }[];
      /** Scanned drivers whose file name is one of the binaries. */
      drivers: DriverSummary[];
    }
  | { source: 'string'; confidence: 'low'; driver: DriverSummary };

export interface Note {
  text: string;
  author: string | null;
  createdAt: string;
}

export interface TagAnswer {
  tag: { display: string; hex: string; literal: string; protected: boolean };
  shared: { reason: string } | null;
  candidates: Candidate[];
  notes: Note[];
  /** Plain advice when nothing (or only weak evidence) knows the tag. */
  advice: string[];
}

export interface LookupResult {
  query: string;
  /** A wildcard query (`Afd?`, `Ntf*`) lists every known tag it matches. */
  wildcard: boolean;
  answers: TagAnswer[];
}

const CONF_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

/** A poolmon-style wildcard query: `?` one character, `*` the rest. */
export function isWildcardQuery(q: string): boolean {
  return /[?*]/.test(q) && !/^0x[0-9a-f]+$/i.test(q);
}

export class Lookup {
  /** pooltag.txt's wildcard entries (about 100 per copy), read once. */
  private wildcardEntries: unknown[] | null = null;

  constructor(private readonly store: Store) {}

  driverSummary(sha256: string): DriverSummary | null {
    const db = this.store.db;
    const d = db.prepare('SELECT sha256, file_version, company, product, description, signer, arch, pdb_path FROM drivers WHERE sha256 = ?').get(sha256) as
      | Record<string, string | null>
      | undefined;
    if (!d) return null;
    const names = db.prepare('SELECT name, count(*) AS n FROM sightings WHERE sha256 = ? GROUP BY name ORDER BY n DESC, name').all(sha256) as { name: string; n: number }[];
    const agg = db.prepare('SELECT count(DISTINCT host_id) AS hosts, count(*) AS paths, min(first_seen) AS first, max(last_seen) AS last FROM sightings WHERE sha256 = ?').get(sha256) as {
      hosts: number;
      paths: number;
      first: string | null;
      last: string | null;
    };
    const paths = db.prepare('SELECT DISTINCT path FROM sightings WHERE sha256 = ? ORDER BY last_seen DESC, path LIMIT 5').pluck().all(sha256) as string[];
    return {
      sha256,
      names: names.map((n) => n.name),
      fileVersion: d.file_version,
      company: d.company,
      product: d.product,
      description: d.description,
      signer: d.signer,
      arch: d.arch,
      pdbPath: d.pdb_path,
      hosts: agg.hosts,
      paths,
      pathCount: agg.paths,
      firstSeen: agg.first,
      lastSeen: agg.last,
    };
  }

  private driversNamed(name: string): DriverSummary[] {
    const shas = this.store.db.prepare('SELECT DISTINCT sha256 FROM sightings WHERE name = ? LIMIT 10').pluck().all(name.toLowerCase()) as string[];
    return shas.map((s) => this.driverSummary(s)!).filter(Boolean);
  }

  /** Every known tag key matching a wildcard query, in display order. */
  private expandWildcard(query: string): Tag[] {
    const pattern = tagPattern(normalizeWildcard(query));
    const db = this.store.db;
    const keys = new Set<string>();
    // Only keys that start with the pattern's literal prefix (an index range), then the pattern.
    const lo = pattern.prefix;
    const hi = lo + '\u{10ffff}';
    for (const k of db.prepare('SELECT DISTINCT tag_key FROM evidence WHERE tag_key >= ? AND tag_key < ?').pluck().all(lo, hi) as string[]) keys.add(k);
    for (const k of db.prepare('SELECT DISTINCT tag FROM pooltag_entries WHERE tag >= ? AND tag < ? AND wildcard = 0').pluck().all(lo, hi) as string[]) keys.add(normalizeTag4(k));
    for (const k of db.prepare('SELECT DISTINCT tag_key FROM notes WHERE tag_key >= ? AND tag_key < ?').pluck().all(lo, hi) as string[]) keys.add(k);
    const out: Tag[] = [];
    for (const k of [...keys].sort()) if (patternMatches(pattern, k)) out.push(Tag.fromMatchKey(k));
    return out;
  }

  answer(tag: Tag): TagAnswer {
    const db = this.store.db;
    const key = tag.matchKey;
    const candidates: Candidate[] = [];

    // 1. Call sites, grouped by driver.
    const rows = db
      .prepare(
        `SELECT e.sha256, e.routine, e.kind, e.call_site_rva, e.function_rva, e.recovery, e.confidence, e.wrappers
         FROM evidence e WHERE e.tag_key = ? ORDER BY e.sha256, e.call_site_rva`,
      )
      .all(key) as { sha256: string; routine: string; kind: string; call_site_rva: number; function_rva: number | null; recovery: string; confidence: string; wrappers: string | null }[];
    const bySha = new Map<string, CallSiteSummary[]>();
    for (const r of rows) {
      let list = bySha.get(r.sha256);
      if (!list) bySha.set(r.sha256, (list = []));
      list.push({
        routine: r.routine,
        kind: r.kind,
        callSiteRva: r.call_site_rva,
        functionRva: r.function_rva,
        recovery: r.recovery,
        confidence: r.confidence,
        wrappers: r.wrappers ? (JSON.parse(r.wrappers) as number[]) : null,
      });
    }
    const callSiteCands: Extract<Candidate, { source: 'call-site' }>[] = [];
    for (const [sha, sites] of bySha) {
      const driver = this.driverSummary(sha);
      if (!driver) continue;
      const best = sites.some((s) => s.confidence === 'high') ? 'high' : 'medium';
      callSiteCands.push({ source: 'call-site', confidence: best, driver, callSites: sites });
    }
    callSiteCands.sort(
      (a, b) =>
        CONF_RANK[a.confidence] - CONF_RANK[b.confidence] ||
        b.driver.hosts - a.driver.hosts ||
        b.callSites.length - a.callSites.length ||
        (a.driver.names[0] ?? '').localeCompare(b.driver.names[0] ?? ''),
    );
    candidates.push(...callSiteCands);

    // 2. pooltag.txt: exact entries, then wildcard entries (longest literal prefix first).
    const tag4 = normalizeTag4(key);
    const cols = 'p.tag, p.wildcard, p.binaries, p.binary_raw, p.description, p.line, s.path, s.label, s.file_date, s.id AS source_id';
    type EntryRow = { tag: string; wildcard: number; binaries: string; binary_raw: string | null; description: string; line: number; path: string; label: string | null; file_date: string | null; source_id: number };
    this.wildcardEntries ??= db.prepare(`SELECT ${cols} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.wildcard = 1`).all() as EntryRow[];
    const entries = [
      ...(db.prepare(`SELECT ${cols} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.tag = ? AND p.wildcard = 0`).all(tag4) as EntryRow[]),
      ...(this.wildcardEntries as EntryRow[]),
    ];
    const matching = entries.filter((e) => (e.wildcard ? patternMatches(tagPattern(e.tag), tag4) : true));
    const grouped = new Map<string, Extract<Candidate, { source: 'pooltag.txt' }> & { prefix: number; literal: number; firstSource: number }>();
    for (const e of matching) {
      const id = `${e.tag}\0${e.binary_raw ?? ''}\0${e.description}`;
      let c = grouped.get(id);
      if (!c) {
        const p = tagPattern(e.tag);
        const binaries = JSON.parse(e.binaries) as string[];
        c = {
          source: 'pooltag.txt',
          confidence: e.wildcard ? 'low' : 'medium',
          entryTag: e.tag,
          wildcard: !!e.wildcard,
          binaries,
          binaryRaw: e.binary_raw,
          description: e.description,
          sources: [],
          drivers: binaries.filter((b) => /\.(sys|dll|exe)$/i.test(b)).flatMap((b) => this.driversNamed(b)),
          prefix: e.wildcard ? p.prefix.length : 5,
          literal: p.literalCount,
          firstSource: e.source_id,
        };
        grouped.set(id, c);
      }
      c.sources.push({ path: e.path, label: e.label, fileDate: e.file_date, line: e.line });
      c.firstSource = Math.max(c.firstSource, e.source_id);
    }
    const ptCands = [...grouped.values()].sort((a, b) => b.prefix - a.prefix || b.literal - a.literal || b.firstSource - a.firstSource);
    for (const c of ptCands) {
      c.sources.sort((a, b) => (b.fileDate ?? '').localeCompare(a.fileDate ?? ''));
      const { prefix: _p, literal: _l, firstSource: _f, ...cand } = c;
      candidates.push(cand);
    }

    // 3. Tag-looking strings in drivers' data (not already owners by call site).
    const strShas = db.prepare('SELECT sha256 FROM tag_strings WHERE tag_key = ? LIMIT 50').pluck().all(key) as string[];
    for (const sha of strShas) {
      if (bySha.has(sha)) continue;
      const driver = this.driverSummary(sha);
      if (driver) candidates.push({ source: 'string', confidence: 'low', driver });
    }

    const notes = (db.prepare('SELECT text, author, created_at FROM notes WHERE tag_key = ? ORDER BY created_at').all(key) as { text: string; author: string | null; created_at: string }[]).map(
      (n) => ({ text: n.text, author: n.author, createdAt: n.created_at }),
    );
    const shared = sharedTagInfo(tag);
    const advice: string[] = [];
    if (!candidates.some((c) => c.source !== 'string') && notes.length === 0) {
      advice.push(
        `nothing in the knowledge base knows ${JSON.stringify(tag.display)} (${tag.hex})${candidates.length ? ' beyond a string in a driver\'s data, which is a hint, not an owner' : ''}.`,
        'Scan the drivers this machine loads and the DriverStore: `pooltag scan` (on the affected host), then `pooltag merge REPORT`.',
        'Scan the folder the service loads from (`sc qc SERVICE` shows it; third-party drivers also live under Program Files): `pooltag scan --include "**/*.sys" --include "**/*.dll" FOLDER`.',
        'Import Microsoft\'s pooltag.txt if not done yet: `pooltag import-pooltag` (Debugging Tools for Windows).',
        'Live: in WinDbg, `!poolfind ' + tag.trimmed + '` finds allocations with the tag, and `!pool ADDRESS` their owners; or set a breakpoint on ExAllocatePoolWithTag with a condition on the tag.',
      );
    }
    return {
      tag: { display: tag.display, hex: tag.hex, literal: tag.literal, protected: tag.protected },
      shared: shared ? { reason: shared.reason } : null,
      candidates,
      notes,
      advice,
    };
  }

  /** Looks up one user-typed tag (every form `parseTag` takes, or a wildcard). */
  lookup(query: string, opts: ParseTagOptions = {}): LookupResult {
    if (isWildcardQuery(query)) {
      const tags = this.expandWildcard(query);
      return { query, wildcard: true, answers: tags.map((t) => this.answer(t)) };
    }
    return { query, wildcard: false, answers: [this.answer(parseTag(query, opts))] };
  }
}

/** `Afd?` stays; `Ntf*` stays; a short pattern without `*` is padded with spaces like a tag. */
function normalizeWildcard(q: string): string {
  const s = q.replace(/^["']|["']$/g, '');
  if (s.length >= 4 || s.includes('*')) return s.length > 4 ? s.slice(0, 4) : s.padEnd(4, s.includes('*') ? '*' : ' ');
  return s.padEnd(4, ' ');
}
