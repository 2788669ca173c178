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
import { sql } from '../knowledge/kysely.js';

import { tagPattern, patternMatches, normalizeTag4 } from '../knowledge/pooltag-txt.js';
import { ENTRY_COLUMNS, NAMED_LIMIT, type EntryRow, type NoteRow } from '../knowledge/snapshot.js';
import { p } from '../knowledge/sql.js';
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
      /**
       * Every entry of every imported copy that names this owner for the tag, the best first
       * (the one the fields above come from): an exact entry before a wildcard one, then the
       * newest copy. Each says which entry (`Ntf0`, `Ntf?`) and what it says.
       */
      sources: { path: string; label: string | null; fileDate: string | null; line: number; entryTag: string; wildcard: boolean; description: string }[];
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
  /** `typed` is what to type to look this tag up again (`Fx\x01!` where `display` says `Fx.!`). */
  tag: { display: string; hex: string; literal: string; protected: boolean; typed: string };
  shared: { reason: string } | null;
  candidates: Candidate[];
  notes: Note[];
  /** Plain advice when nothing (or only weak evidence) knows the tag. */
  advice: string[];
  /**
   * When nothing knows the tag: the tags the base knows that it may have meant, the same
   * but for case (tags are case-sensitive: `fxap` for `FxAp`), or with a non-printable byte
   * where the query has the `.` it is displayed as (`Fx.!` for `Fx\x01!`).
   */
  didYouMean: { display: string; hex: string; typed: string }[];
  /** What to do next, as triage says it (`Next: contact the vendor (Contoso) or update the driver.`). */
  next: string;
}

/**
 * A tag key folded for "did you mean": ASCII letters in lower case, a non-printable byte
 * as the `.` it is displayed as.
 */
function foldKey(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    out += c < 0x20 || c > 0x7e ? '.' : c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : key[i];
  }
  return out;
}

export interface LookupResult {
  query: string;
  /** A wildcard query (`Afd?`, `Ntf*`) lists every known tag it matches. */
  wildcard: boolean;
  answers: TagAnswer[];
  /** A wildcard query that matches nothing: known tags it matches but for case (`fx*` for `FxAp`), at most 10. */
  didYouMean: TagAnswer['didYouMean'];
}

/** The image names pooltag.txt's binaries stand for (`nt!io` is ntoskrnl.exe, ...), each once. */
export function imageNames(binaries: readonly string[]): string[] {
  return [...new Set(binaries.flatMap(imagesForBinary))];
}

/**
 * A pooltag.txt answer: one group of entries that say the same (best first), with the scanned
 * drivers its binaries name. Lookup and the exports make it alike.
 */
export function pooltagCandidate(g: readonly (EntryRow & { path: string; label: string | null; file_date: string | null })[], binaries: string[], drivers: DriverCandidate[]): Candidate {
  const lead = g[0];
  return {
    source: 'pooltag.txt',
    confidence: lead.wildcard ? 'low' : 'medium',
    entryTag: lead.tag,
    wildcard: !!lead.wildcard,
    binaries,
    binaryRaw: lead.binary_raw,
    description: lead.description,
    sources: g.map((e) => ({ path: e.path, label: e.label, fileDate: e.file_date, line: e.line, entryTag: e.tag, wildcard: !!e.wildcard, description: e.description })),
    drivers,
  };
}

/**
 * What to do about tags nothing in the base knows. The same for every such tag, so a command
 * that answers for many says it once (the WinDbg line names the tag, or says `TAG` for several).
 */
export function unknownTagAdvice(tags: Tag[]): string[] {
  const one = tags.length === 1 ? tags[0].trimmed : 'TAG';
  return [
    'Scan the drivers this machine loads and the DriverStore: `pooltag scan` (on the affected host), then `pooltag merge REPORT`.',
    'Scan the folder the service loads from (`sc qc SERVICE` shows it; third-party drivers also live under Program Files): `pooltag scan --include "**/*.sys" --include "**/*.dll" FOLDER`.',
    'Import Microsoft\'s pooltag.txt if not done yet: `pooltag import-pooltag` (Debugging Tools for Windows).',
    'Live: in WinDbg, `!poolfind ' + one + '` finds allocations with the tag, and `!pool ADDRESS` their owners; or set a breakpoint on ExAllocatePoolWithTag with a condition on the tag.',
  ];
}

/** A poolmon-style wildcard query: `?` one character, `*` the rest. */
export function isWildcardQuery(q: string): boolean {
  return /[?*]/.test(q) && !/^0x[0-9a-f]+$/i.test(q);
}

export class Lookup {
  /** pooltag.txt's wildcard entries (about 100 per copy), read once. */
  private wildcardEntries: (EntryRow & { pattern: ReturnType<typeof tagPattern> })[] | null = null;

  /** Each answer reads what it needs (the exports answer every tag from one bulk read instead: export/bulk.ts). */
  constructor(private readonly store: Store) {}

  /** Every tag key the base knows an owner or a note for, by folded key; read once, when a tag is unknown. */
  private folded: Map<string, string[]> | null = null;

  /** Known tags that differ from `key` only by case or by a non-printable byte shown as `.`. */
  private async similarTags(key: string): Promise<Tag[]> {
    return ((await this.foldedKeys()).get(foldKey(key)) ?? [])
      .filter((k) => k !== key)
      .sort()
      .map((k) => Tag.fromMatchKey(k));
  }

  /** Known tags a wildcard query matches but for case (`fx*` for `FxAp`), at most `limit`. */
  private async similarToWildcard(query: string, limit = 10): Promise<Tag[]> {
    const pattern = tagPattern(foldKey(normalizeWildcard(query)));
    const out: string[] = [];
    for (const [f, keys] of await this.foldedKeys()) if (patternMatches(pattern, f)) out.push(...keys);
    return out.sort().slice(0, limit).map((k) => Tag.fromMatchKey(k));
  }

  private async foldedKeys(): Promise<Map<string, string[]>> {
    if (!this.folded) {
      const store = this.store;
      const keys = new Set<string>(await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM evidence`));
      for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag FROM pooltag_entries WHERE wildcard = 0`)) keys.add(normalizeTag4(k));
      for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM notes`)) keys.add(k);
      this.folded = new Map();
      for (const k of keys) {
        const f = foldKey(k);
        const list = this.folded.get(f);
        if (list) list.push(k);
        else this.folded.set(f, [k]);
      }
    }
    return this.folded;
  }

  private buildsCache: DriverBuilds | null = null;

  /** Reads builds and groups them into driver candidates (statements prepared once). */
  get builds(): DriverBuilds {
    return (this.buildsCache ??= new DriverBuilds(this.store));
  }

  /** Scanned drivers seen under one of these file names (the first NAMED_LIMIT by SHA-256), with their call sites of `tagKey`. */
  private async driversNamed(names: string[], tagKey: string): Promise<DriverCandidate[]> {
    if (names.length === 0) return [];
    const lower = [...new Set(names.map((n) => n.toLowerCase()))];
    const shas = await this.store.pluck<string>(sql`SELECT DISTINCT sha256 FROM sightings WHERE name IN (${sql.join(lower)}) ORDER BY sha256 LIMIT ${sql.raw(String(NAMED_LIMIT))}`);
    return this.builds.candidates(shas, tagKey);
  }

  /** Every known tag key matching a wildcard query, in display order. */
  private async expandWildcard(query: string): Promise<Tag[]> {
    const pattern = tagPattern(normalizeWildcard(query));
    const store = this.store;
    const keys = new Set<string>();
    // Only keys that start with the pattern's literal prefix (an index range), then the pattern.
    const lo = pattern.prefix;
    const hi = lo + '\u{10ffff}';
    for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM evidence WHERE tag_key >= ${lo} AND tag_key < ${hi}`)) keys.add(k);
    for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag FROM pooltag_entries WHERE tag >= ${lo} AND tag < ${hi} AND wildcard = 0`)) keys.add(normalizeTag4(k));
    for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM notes WHERE tag_key >= ${lo} AND tag_key < ${hi}`)) keys.add(k);
    const out: Tag[] = [];
    for (const k of [...keys].sort()) if (patternMatches(pattern, k)) out.push(Tag.fromMatchKey(k));
    return out;
  }

  async answer(tag: Tag): Promise<TagAnswer> {
    const store = this.store;
    const key = tag.matchKey;
    const candidates: Candidate[] = [];

    // 1. Call sites: one candidate per driver, every build inside.
    const owners = await driverCandidatesForTag(this.store, tag, this.builds);
    const owningShas = new Set<string>();
    for (const d of owners) {
      for (const b of d.builds) owningShas.add(b.sha256);
      candidates.push({ source: 'call-site', confidence: d.confidence === 'high' ? 'high' : 'medium', driver: d });
    }

    // 2. pooltag.txt: exact entries, then wildcard entries (longest literal prefix first).
    const tag4 = normalizeTag4(key);
    this.wildcardEntries ??= (
      await store.all<EntryRow>(sql`SELECT ${sql.raw(ENTRY_COLUMNS)} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.wildcard = 1 ORDER BY p.source_id, p.line`)
    ).map((e) => ({ ...e, pattern: tagPattern(e.tag) }));
    const exact = await store
      .stmt('lookup:entries', () => sql`SELECT ${sql.raw(ENTRY_COLUMNS)} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id WHERE p.tag = ${p('tag')} AND p.wildcard = 0 ORDER BY p.source_id, p.line`)
      .all<EntryRow>({ tag: tag4 });
    const matching: EntryRow[] = [...exact, ...this.wildcardEntries.filter((e) => patternMatches(e.pattern, tag4))];
    // One candidate per owner: the entries that name the same binary (an exact and a wildcard
    // entry, in several copies: `Ntf0` and `Ntf?` for ntfs.sys) are its sources, the best first
    // (exact before wildcard, the longest literal prefix, the newest copy); it speaks for them.
    const rankOf = (e: EntryRow) => {
      const p = tagPattern(e.tag);
      return { prefix: e.wildcard ? p.prefix.length : 5, literal: p.literalCount };
    };
    const better = (a: EntryRow, b: EntryRow) => {
      const ra = rankOf(a);
      const rb = rankOf(b);
      return rb.prefix - ra.prefix || rb.literal - ra.literal || (b.file_date ?? '').localeCompare(a.file_date ?? '') || b.source_id - a.source_id;
    };
    const ownerKey = (e: EntryRow) => {
      const binaries = (JSON.parse(e.binaries) as string[]).map((b) => b.toLowerCase()).sort();
      return binaries.length ? `b:${binaries.join('|')}` : `e:${e.tag}\0${e.binary_raw ?? ''}\0${e.description}`;
    };
    const groups = new Map<string, EntryRow[]>();
    for (const e of matching) {
      const k = ownerKey(e);
      const g = groups.get(k);
      if (g) g.push(e);
      else groups.set(k, [e]);
    }
    const ptGroups = [...groups.values()].map((g) => g.sort(better)).sort((a, b) => better(a[0], b[0]));
    for (const g of ptGroups) {
      const lead = g[0];
      const binaries = JSON.parse(lead.binaries) as string[];
      candidates.push(pooltagCandidate(g, binaries, await this.driversNamed(imageNames(binaries), key)));
    }

    // 3. Tag-looking strings in drivers' data (not already owners by call site).
    const stringShas = await store.stmt('lookup:strings', () => sql`SELECT sha256 FROM tag_strings WHERE tag_key = ${p('key')} ORDER BY sha256 LIMIT ${sql.raw(String(NAMED_LIMIT))}`).pluck<string>({ key });
    const strShas = stringShas.filter((s) => !owningShas.has(s));
    for (const driver of await this.builds.candidates(strShas, null)) candidates.push({ source: 'string', confidence: 'low', driver });

    const notes = (await store.stmt('lookup:notes', () => sql`SELECT text, author, created_at FROM notes WHERE tag_key = ${p('key')} ORDER BY created_at, id`).all<NoteRow>({ key })).map(
      (n) => ({ text: n.text, author: n.author, createdAt: n.created_at }),
    );
    const shared = sharedTagInfo(tag);
    const advice: string[] = [];
    const didYouMean: TagAnswer['didYouMean'] = [];
    if (!candidates.some((c) => c.source !== 'string') && notes.length === 0) {
      for (const t of await this.similarTags(key)) didYouMean.push({ display: t.display, hex: t.hex, typed: t.typed });
      advice.push(
        `nothing in the knowledge base knows "${tag.typed}" (${tag.hex})${candidates.length ? ' beyond a string in a driver\'s data, which is a hint, not an owner' : ''}.`,
        ...unknownTagAdvice([tag]),
      );
    }
    const answer: TagAnswer = {
      tag: { display: tag.display, hex: tag.hex, literal: tag.literal, protected: tag.protected, typed: tag.typed },
      shared: shared ? { reason: shared.reason } : null,
      candidates,
      notes,
      advice,
      didYouMean,
      next: '',
    };
    // triage (and its pool readers) loads with the first answer: the exports, which read lookup's
    // types and helpers, never pay for it
    answer.next = (await import('./triage.js')).summariseOwner(tag.display, answer, null).next;
    return answer;
  }

  /** Looks up one user-typed tag (every form `parseTag` takes, or a wildcard). */
  async lookup(query: string, opts: ParseTagOptions = {}): Promise<LookupResult> {
    if (isWildcardQuery(query)) {
      const tags = await this.expandWildcard(query);
      const didYouMean = tags.length ? [] : (await this.similarToWildcard(query)).map((t) => ({ display: t.display, hex: t.hex, typed: t.typed }));
      const answers: TagAnswer[] = [];
      for (const t of tags) answers.push(await this.answer(t));
      return { query, wildcard: true, answers, didYouMean };
    }
    const tag = parseTag(query, opts);
    return { query, wildcard: false, answers: [await this.answer(tag)], didYouMean: [] };
  }
}

/** `Afd?` stays; `Ntf*` stays; a short pattern without `*` is padded with spaces like a tag. */
function normalizeWildcard(q: string): string {
  const s = q.replace(/^["']|["']$/g, '');
  if (s.length >= 4 || s.includes('*')) return s.length > 4 ? s.slice(0, 4) : s.padEnd(4, s.includes('*') ? '*' : ' ');
  return s.padEnd(4, ' ');
}
