/**
 * The "answer" stage: which driver owns a tag, from the knowledge base, offline.
 *
 * Candidates are ranked by the strength of their evidence, one candidate per driver (its
 * builds grouped, see driver-candidate.ts):
 *   1. call sites in a scanned driver (the tag is passed to an allocation routine there),
 *      high confidence before medium (wrappers, tables, struct fields);
 *   2. pooltag.txt owners: exact entries, then wildcard entries by poolmon's longest-prefix rule,
 *      each with the scanned drivers its binary column names (`nt!io` -> ntoskrnl.exe);
 *   3. a tag-looking string in a driver's data (what `strings | findstr` finds): a hint only.
 * Engineers' notes are shown with every answer. Shared tags (`None`, `Ddk `, `NDam`, ...) say
 * so: finding one in a driver does not make that driver the owner.
 */
import { tagPattern, patternMatches, normalizeTag4 } from '../knowledge/pooltag-txt.js';
import { ENTRY_COLUMNS, NAMED_LIMIT, type BaseSnapshot, type EntryRow, type NoteRow } from '../knowledge/snapshot.js';
import type { Store } from '../knowledge/store.js';
import { imagesForBinary } from '../platform/kernel-images.js';
import { DriverBuilds, driverCandidatesForTag, type DriverCandidate } from './driver-candidate.js';
import { sharedTagInfo } from '../tag/routines.js';
import { parseTag, Tag, type ParseTagOptions } from '../tag/tag.js';

export type Candidate =
  | { source: 'call-site'; confidence: 'high' | 'medium'; driver: DriverCandidate }
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
      /**
       * Scanned drivers the binary column names (a file name, or `nt!` for the kernel's
       * images), one per driver; a build's `callSites` are the tag's call sites found in it.
       */
      drivers: DriverCandidate[];
    }
  | { source: 'string'; confidence: 'low'; driver: DriverCandidate };

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

/** A poolmon-style wildcard query: `?` one character, `*` the rest. */
export function isWildcardQuery(q: string): boolean {
  return /[?*]/.test(q) && !/^0x[0-9a-f]+$/i.test(q);
}

export class Lookup {
  /** pooltag.txt's wildcard entries (about 100 per copy), read once. */
  private wildcardEntries: (EntryRow & { pattern: ReturnType<typeof tagPattern> })[] | null = null;

  /**
   * `snapshot`: the whole base read at once (the exports, which answer every tag); without it
   * each answer reads what it needs.
   */
  constructor(
    private readonly store: Store,
    private readonly snapshot: BaseSnapshot | null = null,
  ) {}

  private buildsCache: DriverBuilds | null = null;

  /** Reads builds and groups them into driver candidates (statements prepared once). */
  get builds(): DriverBuilds {
    return (this.buildsCache ??= new DriverBuilds(this.store, this.snapshot));
  }

  /** Scanned drivers seen under one of these file names (the first NAMED_LIMIT by SHA-256), with their call sites of `tagKey`. */
  private driversNamed(names: string[], tagKey: string): DriverCandidate[] {
    if (names.length === 0) return [];
    const lower = [...new Set(names.map((n) => n.toLowerCase()))];
    let shas: string[];
    if (this.snapshot) {
      const all = new Set<string>();
      for (const n of lower) for (const sha of this.snapshot.shasByName.get(n) ?? []) all.add(sha);
      shas = [...all].sort().slice(0, NAMED_LIMIT);
    } else {
      const marks = lower.map(() => '?').join(',');
      shas = this.store.db.prepare(`SELECT DISTINCT sha256 FROM sightings WHERE name IN (${marks}) ORDER BY sha256 LIMIT ${NAMED_LIMIT}`).pluck().all(...lower) as string[];
    }
    return this.builds.candidates(shas, tagKey);
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

    // 1. Call sites: one candidate per driver, every build inside.
    const owners = driverCandidatesForTag(this.store, tag, this.builds);
    const owningShas = new Set<string>();
    for (const d of owners) {
      for (const b of d.builds) owningShas.add(b.sha256);
      candidates.push({ source: 'call-site', confidence: d.confidence === 'high' ? 'high' : 'medium', driver: d });
    }

    // 2. pooltag.txt: exact entries, then wildcard entries (longest literal prefix first).
    const tag4 = normalizeTag4(key);
    const snap = this.snapshot;
    this.wildcardEntries ??= (
      snap ? snap.wildcardEntries : (db.prepare(`SELECT ${ENTRY_COLUMNS} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.wildcard = 1 ORDER BY p.source_id, p.line`).all() as EntryRow[])
    ).map((e) => ({ ...e, pattern: tagPattern(e.tag) }));
    const exact = snap
      ? (snap.entries.get(tag4) ?? [])
      : (db.prepare(`SELECT ${ENTRY_COLUMNS} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.tag = ? AND p.wildcard = 0 ORDER BY p.source_id, p.line`).all(tag4) as EntryRow[]);
    const matching: EntryRow[] = [...exact, ...this.wildcardEntries.filter((e) => patternMatches(e.pattern, tag4))];
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
          drivers: this.driversNamed([...new Set(binaries.flatMap(imagesForBinary))], key),
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
    const stringShas = snap ? (snap.tagStrings.get(key) ?? []).slice(0, NAMED_LIMIT) : (db.prepare(`SELECT sha256 FROM tag_strings WHERE tag_key = ? ORDER BY sha256 LIMIT ${NAMED_LIMIT}`).pluck().all(key) as string[]);
    const strShas = stringShas.filter((s) => !owningShas.has(s));
    for (const driver of this.builds.candidates(strShas, null)) candidates.push({ source: 'string', confidence: 'low', driver });

    const notes = (snap ? (snap.notes.get(key) ?? []) : (db.prepare('SELECT text, author, created_at FROM notes WHERE tag_key = ? ORDER BY created_at, id').all(key) as NoteRow[])).map(
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
