/**
 * What every export writes: each tag the base knows and its owners.
 *
 * A tag is exported when the base has an owner for it: a call site in a scanned driver, a
 * pooltag.txt entry, or an engineer's note. A tag-looking string in a driver's data is shown as
 * a low-confidence owner of such a tag, never as the only reason to export it (it is a hint:
 * `pooltag lookup` still shows string-only tags).
 *
 * The owners come from {@link Lookup} (the same ranking as `pooltag lookup`) through ONE
 * function, {@link tagOwners}, which groups the builds of one driver file name into one owner so
 * that each file name appears once per tag.
 */
import { normalizeTag4 } from '../../knowledge/pooltag-txt.js';
import type { Store } from '../../knowledge/store.js';
import { isPrintableTag, Tag } from '../../tag/tag.js';
import { Lookup, type Candidate, type DriverSummary, type TagAnswer } from '../lookup.js';

export type OwnerSource = 'call-site' | 'pooltag.txt' | 'string';

export interface OwnerBuild {
  sha256: string;
  fileVersion: string | null;
  arch: string | null;
  hosts: number;
}

/** One owner of one tag: a driver file name (all its builds), or a pooltag.txt entry. */
export interface ExportOwner {
  source: OwnerSource;
  confidence: 'high' | 'medium' | 'low';
  /** The driver file name (lower case, as seen), or the pooltag.txt binary column (`<unknown>` when none). */
  owner: string;
  /** Driver file names this owner stands for (pooltag.txt: the file names of its binary column). */
  binaries: string[];
  /** CompanyName values, then signers that differ from them (distinct, in order). */
  vendors: string[];
  products: string[];
  /** File versions of the builds (distinct). */
  versions: string[];
  signers: string[];
  /** The driver's FileDescription, or the pooltag.txt description. */
  description: string;
  /** In a few words: how the tag was found (`ExAllocatePoolWithTag at 2 call sites (immediate)`). */
  evidence: string;
  /** Call sites over all builds (0 for pooltag.txt and strings). */
  callSites: number;
  /** Host count summed over the builds. */
  hosts: number;
  /** Scanned builds (by SHA-256); pooltag.txt: the scanned drivers with one of its file names. */
  builds: OwnerBuild[];
  /** pooltag.txt only: the entry's tag as written (`Afd?` for a wildcard entry), and where it is. */
  entryTag?: string;
  wildcard?: boolean;
  where?: string;
}

export interface ExportTag {
  /** 4-character display form (`"Io  "`). */
  tag: string;
  hex: string;
  /** The match key (PROTECTED_POOL masked, NULs as spaces): the sort key. */
  key: string;
  /** Why the tag is shared by many drivers, when it is. */
  shared: string | null;
  /** Every byte is printable ASCII (a tag file can hold it as text; `Fx.!` stands for a byte it cannot). */
  printable: boolean;
  owners: ExportOwner[];
  notes: { text: string; author: string | null; createdAt: string }[];
}

const distinct = (xs: (string | null | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => !!x && x.trim() !== ''))];

function buildOf(d: DriverSummary): OwnerBuild {
  return { sha256: d.sha256, fileVersion: d.fileVersion, arch: d.arch, hosts: d.hosts };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The owners of one tag, from a lookup answer: call-site and string candidates grouped by driver
 * file name (each name once per tag, its builds together), pooltag.txt candidates as they are.
 * The single place that turns lookup candidates into export owners.
 */
export function tagOwners(answer: TagAnswer): ExportOwner[] {
  const byName = new Map<string, { source: OwnerSource; drivers: DriverSummary[]; sites: Extract<Candidate, { source: 'call-site' }>['callSites']; high: boolean }>();
  const out: ExportOwner[] = [];
  const order: string[] = [];
  for (const c of answer.candidates) {
    if (c.source === 'pooltag.txt') {
      const src = c.sources[0];
      out.push({
        source: 'pooltag.txt',
        confidence: c.confidence,
        owner: c.binaryRaw ?? '<unknown>',
        binaries: c.binaries.filter((b) => /\.(sys|dll|exe|drv)$/i.test(b)),
        vendors: distinct(c.drivers.map((d) => d.company)),
        products: distinct(c.drivers.map((d) => d.product)),
        versions: distinct(c.drivers.map((d) => d.fileVersion)),
        signers: distinct(c.drivers.map((d) => d.signer)),
        description: c.description,
        evidence: c.wildcard ? `pooltag.txt wildcard entry ${c.entryTag.trimEnd()}` : 'pooltag.txt entry',
        callSites: 0,
        hosts: c.drivers.reduce((n, d) => n + d.hosts, 0),
        builds: c.drivers.map(buildOf),
        entryTag: c.entryTag,
        wildcard: c.wildcard,
        where: src ? `${src.label ?? src.path} line ${src.line}` : undefined,
      });
      continue;
    }
    const name = c.driver.names[0] ?? c.driver.sha256.slice(0, 12);
    const id = `${c.source}\0${name}`;
    let g = byName.get(id);
    if (!g) {
      byName.set(id, (g = { source: c.source, drivers: [], sites: [], high: false }));
      order.push(id);
    }
    g.drivers.push(c.driver);
    if (c.source === 'call-site') {
      g.sites.push(...c.callSites);
      if (c.confidence === 'high') g.high = true;
    }
  }
  const grouped: ExportOwner[] = [];
  for (const id of order) {
    const g = byName.get(id)!;
    const name = id.slice(id.indexOf('\0') + 1);
    // A string hint for a file name that already owns the tag by call site adds nothing.
    if (g.source === 'string' && byName.has(`call-site\0${name}`)) continue;
    const ds = g.drivers;
    const companies = distinct(ds.map((d) => d.company));
    const signers = distinct(ds.map((d) => d.signer));
    let evidence: string;
    if (g.source === 'call-site') {
      const routines = distinct(g.sites.map((s) => s.routine));
      const recoveries = distinct(g.sites.map((s) => (s.wrappers?.length ? 'wrapper' : s.recovery)));
      evidence = `${routines.slice(0, 3).join(', ')}${routines.length > 3 ? ` +${routines.length - 3}` : ''} at ${plural(g.sites.length, 'call site')} (${recoveries.join(', ')})`;
    } else evidence = 'tag-like string in its data (a hint)';
    if (ds.length > 1) evidence += `, ${plural(ds.length, 'build')}`;
    grouped.push({
      source: g.source,
      confidence: g.source === 'string' ? 'low' : g.high ? 'high' : 'medium',
      owner: name,
      binaries: [name],
      vendors: distinct([...companies, ...signers.filter((s) => !companies.includes(s))]),
      products: distinct(ds.map((d) => d.product)),
      versions: distinct(ds.map((d) => d.fileVersion)),
      signers,
      description: distinct(ds.map((d) => d.description))[0] ?? '',
      evidence,
      callSites: g.sites.length,
      hosts: ds.reduce((n, d) => n + d.hosts, 0),
      builds: ds.map(buildOf),
    });
  }
  // Call sites first (high confidence, then the most hosts, builds and call sites), then
  // pooltag.txt as lookup ranks it, then string hints.
  const callSites = grouped
    .filter((o) => o.source === 'call-site')
    .sort((a, b) => (a.confidence === b.confidence ? 0 : a.confidence === 'high' ? -1 : 1) || b.hosts - a.hosts || b.builds.length - a.builds.length || b.callSites - a.callSites || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  return [...callSites, ...out, ...grouped.filter((o) => o.source === 'string')];
}

/**
 * The store as Lookup sees it, with each SQL statement prepared once for the whole export:
 * Lookup prepares its statements per answer, which costs more than running them when an export
 * asks for every tag. (Each SQL text is always used the same way, plucked or not.)
 */
function withStatementCache(store: Store): Store {
  const db = store.db;
  const cache = new Map<string, ReturnType<typeof db.prepare>>();
  const cached = Object.create(db) as typeof db;
  cached.prepare = ((sql: string) => {
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = db.prepare(sql)));
    return st;
  }) as typeof db.prepare;
  return Object.create(store, { db: { value: cached } }) as Store;
}

/** Match keys of every tag the base has an owner or a note for, in code-unit order. */
export function knownTagKeys(store: Store): string[] {
  const db = store.db;
  const keys = new Set<string>(db.prepare('SELECT DISTINCT tag_key FROM evidence').pluck().all() as string[]);
  for (const t of db.prepare('SELECT DISTINCT tag FROM pooltag_entries WHERE wildcard = 0').pluck().all() as string[]) keys.add(normalizeTag4(t));
  for (const k of db.prepare('SELECT DISTINCT tag_key FROM notes').pluck().all() as string[]) keys.add(k);
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Every tag the base knows with its owners, in a stable order (by match key). Keys that are not
 * a tag (text of more than 8 bits in a pooltag.txt copy) are left out and counted.
 */
export function exportTags(store: Store): { tags: ExportTag[]; skipped: number } {
  const lookup = new Lookup(withStatementCache(store));
  // One summary per driver for the whole export (a driver owns many tags).
  const summaries = new Map<string, DriverSummary | null>();
  const summary = lookup.driverSummary.bind(lookup);
  lookup.driverSummary = (sha: string) => {
    let s = summaries.get(sha);
    if (s === undefined) summaries.set(sha, (s = summary(sha)));
    return s;
  };
  const tags: ExportTag[] = [];
  let skipped = 0;
  for (const key of knownTagKeys(store)) {
    let tag: Tag;
    try {
      tag = Tag.fromMatchKey(key);
    } catch {
      skipped++;
      continue;
    }
    const a = lookup.answer(tag);
    tags.push({ tag: a.tag.display, hex: a.tag.hex, key, shared: a.shared?.reason ?? null, printable: isPrintableTag(tag), owners: tagOwners(a), notes: a.notes });
  }
  return { tags, skipped };
}
