/**
 * Every tag's owners from one snapshot of the base ({@link readSnapshot}): what `lookup`
 * answers tag by tag (the same candidates, ranked and grouped the same way, by the same
 * functions: `groupBuilds`, `tagOwners`), without its queries and without building what an
 * export does not show (call sites one by one, function names, triage's advice).
 *
 * What costs is made once and shared: an image's build (metadata, names, paths, sightings),
 * its grouping key, a list of call sites sorted and summarised (images with the same sites
 * share the list, see snapshot.ts), pooltag.txt's wildcard entries by their first character,
 * the images a pooltag.txt binary column names. test/export-bulk.test.ts compares the result
 * with the per-tag path byte for byte.
 */
import { normalizeTag4, patternMatches, tagPattern, type TagPattern } from '../../knowledge/pooltag-txt.js';
import { NAMED_LIMIT, NO_SIGHTING, readSnapshot, type BaseSnapshot, type EntryRow, type EvidenceSite } from '../../knowledge/snapshot.js';
import { sql } from '../../knowledge/kysely.js';

import type { Store } from '../../knowledge/store.js';
import type { ArgumentValues, PoolArgument } from '../../evidence/types.js';
import { sharedTagInfo } from '../../tag/routines.js';
import { isPrintableTag, Tag } from '../../tag/tag.js';
import { CONF, ROLE_ORDER, driverBuild, driverKey, groupBuilds, jsonColumn, siteRole, type CallSiteCounts, type DriverBuild, type DriverCandidate } from '../driver-candidate.js';
import { imageNames, Lookup, pooltagCandidate, type Candidate } from '../lookup.js';
import { callSiteEvidence, imageOwner, knownTagKeys, mergeSummaries, summariseSites, tagOwners, type ExportOwner, type ExportTag, type SiteSummary } from './owners.js';

/** A build with its call sites of one tag summarised (instead of listed). */
interface SummarisedBuild extends DriverBuild {
  sites: SiteSummary;
}

const NO_SITES: SiteSummary = Object.freeze({ total: 0, routines: [], recoveries: [], pools: [], sizes: [] });

/** An image as a build without call sites, from the snapshot (what `DriverBuilds.build(sha, null)` reads). */
export function snapshotBuild(snap: BaseSnapshot, sha256: string): DriverBuild | null {
  const d = snap.drivers.get(sha256);
  if (!d) return null;
  const seen = snap.seen.get(sha256) ?? NO_SIGHTING;
  return driverBuild(sha256, d, seen, snap.names.get(sha256) ?? [], snap.paths.get(sha256) ?? [], Math.max(Number(seen.hosts), snap.inventoryHosts.get(sha256) ?? 0), []);
}

/** A build with its call sites of a tag (an object literal: a spread is several times slower to make). */
function withSites(b: DriverBuild, f: SiteFacts): SummarisedBuild {
  return {
    sha256: b.sha256,
    fileVersion: b.fileVersion,
    arch: b.arch,
    signer: b.signer,
    company: b.company,
    product: b.product,
    description: b.description,
    originalFilename: b.originalFilename,
    pdbPath: b.pdbPath,
    timestamp: b.timestamp,
    names: b.names,
    hosts: b.hosts,
    paths: b.paths,
    pathCount: b.pathCount,
    firstSeen: b.firstSeen,
    lastSeen: b.lastSeen,
    confidence: f.confidence,
    counts: f.counts,
    callSites: [],
    sites: f.sites,
  };
}

/** What a build of a tag takes from its call sites. */
interface SiteFacts {
  confidence: 'high' | 'medium';
  /** The counts by role (`functions` is not counted: no export shows it). */
  counts: CallSiteCounts;
  sites: SiteSummary;
  /** An export owner's evidence text for one build with these sites (made when first asked). */
  evidence?: string;
}

/**
 * What an export owner says of one image alone (a driver of one build): the same for each of
 * its tags, made once (tagOwners over groupBuilds of that one build says the same, field for
 * field; test/export-bulk.test.ts compares).
 */
type ImageOwner = Pick<ExportOwner, 'owner' | 'binaries' | 'vendors' | 'products' | 'versions' | 'signers' | 'description' | 'hosts' | 'builds'>;

/** Matches the per-tag answers of `lookup` (lookup.ts, driver-candidate.ts), from a snapshot. */
class BulkAnswers {
  private readonly builds = new Map<string, DriverBuild | null>();
  private readonly keys = new Map<string, string>();
  private readonly facts = new Map<readonly EvidenceSite[], SiteFacts>();
  private readonly imageOwners = new Map<string, ImageOwner>();
  private readonly hostCounts = new Map<string, number>();
  private readonly named = new Map<string, string[]>();
  private readonly ownerKeys = new Map<EntryRow, string>();
  private readonly ranks = new Map<EntryRow, { prefix: number; literal: number }>();
  /** Wildcard entries by their first literal character ('' for those that start with a wildcard), in file order. */
  private readonly wildByFirst = new Map<string, { e: EntryRow; p: TagPattern; i: number }[]>();

  constructor(
    private readonly store: Store,
    private readonly snap: BaseSnapshot,
  ) {
    snap.wildcardEntries.forEach((e, i) => {
      const p = tagPattern(e.tag);
      const first = p.chars[0] ?? '';
      const l = this.wildByFirst.get(first);
      if (l) l.push({ e, p, i });
      else this.wildByFirst.set(first, [{ e, p, i }]);
    });
  }

  private base(sha: string): DriverBuild | null {
    let b = this.builds.get(sha);
    if (b === undefined) this.builds.set(sha, (b = snapshotBuild(this.snap, sha)));
    return b;
  }

  private keyOf(b: DriverBuild): string {
    let k = this.keys.get(b.sha256);
    if (k === undefined) this.keys.set(b.sha256, (k = driverKey(b)));
    return k;
  }

  /** A tag's sites in one image, sorted as `sortCallSites` lists them and summarised; once per distinct list. */
  private factsOf(list: readonly EvidenceSite[]): SiteFacts {
    let f = this.facts.get(list);
    if (f) return f;
    const sites = list.map((e, i) => ({
      routine: e.routine,
      role: siteRole(e.routine),
      confidence: e.confidence,
      recovery: e.recovery,
      wrapped: e.wrapped,
      pool: jsonColumn<PoolArgument>(e.pool),
      size: jsonColumn<ArgumentValues>(e.size),
      // the evidence's key order (address, routine, tag value) stands for the address
      i,
    }));
    sites.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || CONF[a.confidence] - CONF[b.confidence] || a.i - b.i);
    const counts: CallSiteCounts = { allocations: 0, lookaside: 0, references: 0, frees: 0, dereferences: 0, functions: 0, total: sites.length };
    for (const s of sites) {
      if (s.role === 'allocate') counts.allocations++;
      else if (s.role === 'lookaside') counts.lookaside++;
      else if (s.role === 'reference') counts.references++;
      else if (s.role === 'free') counts.frees++;
      else counts.dereferences++;
    }
    f = { confidence: sites.some((s) => s.confidence === 'high') ? 'high' : 'medium', counts, sites: summariseSites(sites) };
    this.facts.set(list, f);
    return f;
  }

  /** What every owner that is this image alone says of it (a candidate of one build). */
  private imageOwner(b: DriverBuild): ImageOwner {
    let o = this.imageOwners.get(b.sha256);
    if (!o) this.imageOwners.set(b.sha256, (o = imageOwner(b)));
    return o;
  }

  /**
   * The owners of a tag whose only owner is call sites in one image (most tags): that image's
   * owner with the tag's sites, without grouping it; null for any other tag.
   */
  soleImageOwners(key: string): ExportOwner[] | null {
    const bySha = this.snap.evidence.get(key);
    if (!bySha || bySha.size !== 1 || this.snap.tagStrings.has(key)) return null;
    const tag4 = normalizeTag4(key);
    if (this.snap.entries.has(tag4) || this.wildcardsFor(tag4).length) return null;
    const [sha, list] = bySha.entries().next().value as [string, readonly EvidenceSite[]];
    const b = this.base(sha);
    if (!b || list.length === 0) return null;
    const f = this.factsOf(list);
    const o = this.imageOwner(b);
    return [
      {
        source: 'call-site',
        confidence: f.confidence,
        owner: o.owner,
        binaries: o.binaries,
        vendors: o.vendors,
        products: o.products,
        versions: o.versions,
        signers: o.signers,
        description: o.description,
        evidence: (f.evidence ??= callSiteEvidence(f.sites, 1)),
        callSites: f.sites.total,
        hosts: o.hosts,
        builds: o.builds,
        pools: f.sites.pools,
        sizes: f.sites.sizes,
      },
    ];
  }

  /** Distinct hosts that saw any of these images (asked of the base once per set). */
  private async hostsOf(shas: string[]): Promise<number> {
    const key = shas.join(',');
    let n = this.hostCounts.get(key);
    if (n === undefined) {
      n = Number(await this.store.one(sql`SELECT count(DISTINCT host_id) FROM sightings WHERE sha256 IN (${sql.join(shas)})`));
      // as lookup counts them (DriverBuilds.hostsOf): inventories per image, a lower bound for several
      for (const sha of shas) n = Math.max(n, this.snap.inventoryHosts.get(sha) ?? 0);
      this.hostCounts.set(key, n);
    }
    return n;
  }

  /** `DriverBuilds.candidates`: images grouped into drivers, each build with its call sites of `tagKey`. */
  private async candidates(shas: Iterable<string>, tagKey: string | null): Promise<DriverCandidate[]> {
    const bySha = tagKey === null ? undefined : this.snap.evidence.get(tagKey);
    const builds: DriverBuild[] = [];
    for (const sha of new Set(shas)) {
      const base = this.base(sha);
      if (!base) continue;
      const list = bySha?.get(sha);
      if (!list || list.length === 0) {
        builds.push(base);
        continue;
      }
      builds.push(withSites(base, this.factsOf(list)));
    }
    if (builds.length < 2) return groupBuilds(builds);
    const groups = new Map<string, string[]>();
    for (const b of builds) {
      const k = this.keyOf(b);
      const g = groups.get(k);
      if (g) g.push(b.sha256);
      else groups.set(k, [b.sha256]);
    }
    const hosts = new Map<string, number>();
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      const key = [...g].sort().join(',');
      hosts.set(key, await this.hostsOf(key.split(',')));
    }
    return groupBuilds(builds, (s) => hosts.get([...s].sort().join(',')) ?? 0);
  }

  /** The first NAMED_LIMIT images (by SHA-256) seen under one of these file names. */
  private namedShas(names: string[]): string[] {
    const lower = [...new Set(names.map((n) => n.toLowerCase()))];
    const key = lower.join('\0');
    let shas = this.named.get(key);
    if (!shas) {
      const all = new Set<string>();
      for (const n of lower) for (const sha of this.snap.shasByName.get(n) ?? []) all.add(sha);
      this.named.set(key, (shas = [...all].sort().slice(0, NAMED_LIMIT)));
    }
    return shas;
  }

  private wildcardsFor(tag4: string): EntryRow[] {
    const a = this.wildByFirst.get(tag4[0]) ?? [];
    const b = this.wildByFirst.get('') ?? [];
    const hits = [...a, ...b].filter((w) => patternMatches(w.p, tag4));
    if (a.length && b.length) hits.sort((x, y) => x.i - y.i);
    return hits.map((w) => w.e);
  }

  private ownerKey(e: EntryRow): string {
    let k = this.ownerKeys.get(e);
    if (k === undefined) {
      const binaries = (JSON.parse(e.binaries) as string[]).map((b) => b.toLowerCase()).sort();
      k = binaries.length ? `b:${binaries.join('|')}` : `e:${e.tag}\0${e.binary_raw ?? ''}\0${e.description}`;
      this.ownerKeys.set(e, k);
    }
    return k;
  }

  private rankOf(e: EntryRow): { prefix: number; literal: number } {
    let r = this.ranks.get(e);
    if (!r) {
      const p = tagPattern(e.tag);
      this.ranks.set(e, (r = { prefix: e.wildcard ? p.prefix.length : 5, literal: p.literalCount }));
    }
    return r;
  }

  private readonly better = (a: EntryRow, b: EntryRow): number => {
    const ra = this.rankOf(a);
    const rb = this.rankOf(b);
    return rb.prefix - ra.prefix || rb.literal - ra.literal || (b.file_date ?? '').localeCompare(a.file_date ?? '') || b.source_id - a.source_id;
  };

  /** `Lookup.answer`'s candidates for one tag key. */
  async candidatesOf(key: string): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    const snap = this.snap;

    // 1. Call sites: one candidate per driver, every build inside.
    const bySha = snap.evidence.get(key);
    const owningShas = new Set<string>();
    if (bySha) {
      for (const d of await this.candidates(bySha.keys(), key)) {
        for (const b of d.builds) owningShas.add(b.sha256);
        candidates.push({ source: 'call-site', confidence: d.confidence === 'high' ? 'high' : 'medium', driver: d });
      }
    }

    // 2. pooltag.txt: exact entries, then wildcard entries; one candidate per owner.
    const tag4 = normalizeTag4(key);
    const exact = snap.entries.get(tag4) ?? [];
    const wild = this.wildcardsFor(tag4);
    if (exact.length || wild.length) {
      const groups = new Map<string, EntryRow[]>();
      for (const e of exact.length && wild.length ? [...exact, ...wild] : exact.length ? exact : wild) {
        const k = this.ownerKey(e);
        const g = groups.get(k);
        if (g) g.push(e);
        else groups.set(k, [e]);
      }
      const ptGroups = [...groups.values()].map((g) => g.sort(this.better)).sort((a, b) => this.better(a[0], b[0]));
      for (const g of ptGroups) {
        const lead = g[0];
        const binaries = JSON.parse(lead.binaries) as string[];
        const names = imageNames(binaries);
        candidates.push(pooltagCandidate(g, binaries, names.length ? await this.candidates(this.namedShas(names), key) : []));
      }
    }

    // 3. Tag-looking strings in drivers' data (not already owners by call site).
    const strings = snap.tagStrings.get(key);
    if (strings) {
      const strShas = strings.slice(0, NAMED_LIMIT).filter((s) => !owningShas.has(s));
      for (const driver of await this.candidates(strShas, null)) candidates.push({ source: 'string', confidence: 'low', driver });
    }
    return candidates;
  }
}

const summaryOf = (d: DriverCandidate): SiteSummary => mergeSummaries(d.builds.map((b) => (b as SummarisedBuild).sites ?? NO_SITES));

/** Match keys of every tag the snapshot has an owner or a note for, in code-unit order (as `knownTagKeys`). */
export function snapshotTagKeys(snap: BaseSnapshot): string[] {
  const keys = new Set<string>(snap.evidence.keys());
  for (const t of snap.entries.keys()) keys.add(normalizeTag4(t));
  for (const k of snap.notes.keys()) keys.add(k);
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every tag the snapshot knows with its owners (what `exportTags` returns). */
export async function bulkTags(store: Store, snap: BaseSnapshot): Promise<{ tags: ExportTag[]; skipped: number }> {
  const answers = new BulkAnswers(store, snap);
  const tags: ExportTag[] = [];
  let skipped = 0;
  for (const key of snapshotTagKeys(snap)) {
    let tag: Tag;
    try {
      tag = Tag.fromMatchKey(key);
    } catch {
      skipped++;
      continue;
    }
    const owners = answers.soleImageOwners(key) ?? tagOwners({ candidates: await answers.candidatesOf(key) }, summaryOf);
    const notes = (snap.notes.get(key) ?? []).map((n) => ({ text: n.text, author: n.author, createdAt: n.created_at }));
    tags.push({ tag: tag.display, hex: tag.hex, key, shared: sharedTagInfo(tag)?.reason ?? null, printable: isPrintableTag(tag), owners, notes });
  }
  return { tags, skipped };
}

/**
 * Every tag the base knows with its owners, in a stable order (by match key). Keys that are not
 * a tag (text of more than 8 bits in a pooltag.txt copy) are left out and counted.
 *
 * The answers come from a snapshot of the whole base (a few bulk queries, {@link readSnapshot});
 * `snapshot: null` answers each tag with its own queries, as `pooltag lookup` does (the tests
 * compare the two).
 */
export async function exportTags(store: Store, snapshot?: BaseSnapshot | null): Promise<{ tags: ExportTag[]; skipped: number }> {
  if (snapshot !== null) return store.read(async () => bulkTags(store, snapshot ?? (await readSnapshot(store))));
  const lookup = new Lookup(store);
  const tags: ExportTag[] = [];
  let skipped = 0;
  for (const key of await knownTagKeys(store)) {
    let tag: Tag;
    try {
      tag = Tag.fromMatchKey(key);
    } catch {
      skipped++;
      continue;
    }
    const a = await lookup.answer(tag);
    tags.push({ tag: a.tag.display, hex: a.tag.hex, key, shared: a.shared?.reason ?? null, printable: isPrintableTag(tag), owners: tagOwners(a), notes: a.notes });
  }
  return { tags, skipped };
}
