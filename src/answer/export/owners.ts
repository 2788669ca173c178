/**
 * What every export writes: each tag the base knows and its owners.
 *
 * A tag is exported when the base has an owner for it: a call site in a scanned driver, a
 * pooltag.txt entry, or an engineer's note. A tag-looking string in a driver's data is shown as
 * a low-confidence owner of such a tag, never as the only reason to export it (it is a hint:
 * `pooltag lookup` still shows string-only tags).
 *
 * The owners are `pooltag lookup`'s candidates (the same ranking and the same one-candidate-per-
 * driver grouping), made export owners by ONE function, {@link tagOwners}: answered from a
 * snapshot of the base read in bulk (bulk.ts), or tag by tag by `Lookup` (the tests compare).
 */
import { normalizeTag4 } from '../../knowledge/pooltag-txt.js';
import { sql } from '../../knowledge/kysely.js';

import type { Store } from '../../knowledge/store.js';
import { driverName, type CallSite, type DriverBuild, type DriverCandidate } from '../driver-candidate.js';
import type { TagAnswer } from '../lookup.js';

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
  /** The pools its allocation sites ask for, by name (`NonPagedPoolNx`), distinct; empty when none is recorded. */
  pools?: string[];
  /** The requested sizes in bytes at its allocation sites, distinct, ascending. */
  sizes?: number[];
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

function buildsOf(d: DriverCandidate): OwnerBuild[] {
  return d.builds.map((b) => ({ sha256: b.sha256, fileVersion: b.fileVersion, arch: b.arch, hosts: b.hosts }));
}

const NO_SITES: SiteSummary = { total: 0, routines: [], recoveries: [], pools: [], sizes: [] };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * What an owner says of its call sites: how many, the routines and the ways the tag was
 * recovered (distinct, in the order the sites are listed), and the pools and sizes its
 * allocation sites ask for. Of a driver: of its builds' sites one after the other (newest build
 * first), which is {@link mergeSummaries} of each build's summary.
 */
export interface SiteSummary {
  total: number;
  routines: string[];
  recoveries: string[];
  pools: string[];
  /** Distinct, ascending. */
  sizes: number[];
}

/** The part of a call site a summary reads. */
export type SummarisedSite = Pick<CallSite, 'routine' | 'role' | 'recovery' | 'pool' | 'size'> & { wrapped: boolean };

export function summariseSites(sites: readonly SummarisedSite[]): SiteSummary {
  const alloc = sites.filter((s) => s.role === 'allocate' || s.role === 'lookaside');
  return {
    total: sites.length,
    routines: distinct(sites.map((s) => s.routine)),
    recoveries: distinct(sites.map((s) => (s.wrapped ? 'wrapper' : s.recovery))),
    pools: distinct(alloc.flatMap((s) => s.pool?.names ?? [])),
    sizes: [...new Set(alloc.flatMap((s) => s.size?.values ?? []))].sort((a, b) => a - b),
  };
}

/** The summary of several lists of sites one after the other, from theirs. */
export function mergeSummaries(list: readonly SiteSummary[]): SiteSummary {
  if (list.length === 1) return list[0];
  return {
    total: list.reduce((n, x) => n + x.total, 0),
    routines: distinct(list.flatMap((x) => x.routines)),
    recoveries: distinct(list.flatMap((x) => x.recoveries)),
    pools: distinct(list.flatMap((x) => x.pools)),
    sizes: [...new Set(list.flatMap((x) => x.sizes))].sort((a, b) => a - b),
  };
}

/** A driver's call sites (every build's), summarised: what `lookup`'s candidates carry. */
export function summariseDriver(d: DriverCandidate): SiteSummary {
  return summariseSites(d.builds.flatMap((b) => b.callSites).map((s) => ({ ...s, wrapped: !!s.wrappers?.length })));
}

/** A call-site owner's evidence in a few words: `ExAllocatePoolWithTag at 2 call sites (immediate)`, and its builds when several. */
export function callSiteEvidence(sites: SiteSummary, builds: number): string {
  const { routines, recoveries } = sites;
  const text = `${routines.slice(0, 3).join(', ')}${routines.length > 3 ? ` +${routines.length - 3}` : ''} at ${plural(sites.total, 'call site')} (${recoveries.join(', ')})`;
  return builds > 1 ? `${text}, ${plural(builds, 'build')}` : text;
}

/**
 * What an owner that is one image alone says of it: `driverOwner` of the candidate
 * `groupBuilds([b])` makes of it, the fields that do not depend on the tag (the bulk export
 * makes them once per image; test/export-bulk.test.ts compares with the path through
 * groupBuilds).
 */
export function imageOwner(b: DriverBuild): Pick<ExportOwner, 'owner' | 'binaries' | 'vendors' | 'products' | 'versions' | 'signers' | 'description' | 'hosts' | 'builds'> {
  const name = driverName(b);
  const fileNames = [...new Set(b.names)];
  const companies = distinct([b.company]);
  const signers = distinct([b.signer]);
  return {
    owner: name,
    binaries: fileNames.length ? fileNames : [name],
    vendors: distinct([...companies, ...signers.filter((s) => !companies.includes(s))]),
    products: distinct([b.product]),
    versions: b.fileVersion ? [b.fileVersion] : [],
    signers,
    description: distinct([b.description])[0] ?? '',
    hosts: b.hosts,
    builds: [{ sha256: b.sha256, fileVersion: b.fileVersion, arch: b.arch, hosts: b.hosts }],
  };
}

/** The owner a scanned driver is: one driver candidate (its builds together), as lookup groups them. */
function driverOwner(source: 'call-site' | 'string', confidence: 'high' | 'medium' | 'low', d: DriverCandidate, sites: SiteSummary): ExportOwner {
  const companies = distinct([d.company, ...d.builds.map((b) => b.company)]);
  const signers = distinct(d.signers);
  const evidence = source === 'call-site' ? callSiteEvidence(sites, d.builds.length) : `tag-like string in its data (a hint)${d.builds.length > 1 ? `, ${plural(d.builds.length, 'build')}` : ''}`;
  const owner: ExportOwner = {
    source,
    confidence,
    owner: d.name,
    binaries: d.fileNames.length ? d.fileNames : [d.name],
    vendors: distinct([...companies, ...signers.filter((s) => !companies.includes(s))]),
    products: distinct([d.product, ...d.builds.map((b) => b.product)]),
    versions: d.versions,
    signers,
    description: distinct([d.description, ...d.builds.map((b) => b.description)])[0] ?? '',
    evidence,
    callSites: sites.total,
    hosts: d.hosts,
    builds: buildsOf(d),
  };
  if (source === 'call-site') {
    owner.pools = sites.pools;
    owner.sizes = sites.sizes;
  }
  return owner;
}

/**
 * The owners of one tag, from a lookup answer: each call-site and string candidate is one
 * driver (lookup already groups its builds: each driver once per tag), pooltag.txt candidates
 * as they are. The single place that turns lookup candidates into export owners.
 * `summaryOf`: a driver's call sites summarised (the bulk export has them summarised already).
 */
export function tagOwners(answer: Pick<TagAnswer, 'candidates'>, summaryOf: (d: DriverCandidate) => SiteSummary = summariseDriver): ExportOwner[] {
  const callSites: ExportOwner[] = [];
  const entries: ExportOwner[] = [];
  const strings: ExportOwner[] = [];
  for (const c of answer.candidates) {
    if (c.source === 'pooltag.txt') {
      const src = c.sources[0];
      const builds = c.drivers.flatMap((d) => d.builds);
      entries.push({
        source: 'pooltag.txt',
        confidence: c.confidence,
        owner: c.binaryRaw ?? '<unknown>',
        binaries: c.binaries.filter((b) => /\.(sys|dll|exe|drv)$/i.test(b)),
        vendors: distinct(c.drivers.map((d) => d.company)),
        products: distinct(c.drivers.map((d) => d.product)),
        versions: distinct(builds.map((b) => b.fileVersion)),
        signers: distinct(builds.map((b) => b.signer)),
        description: c.description,
        evidence: c.wildcard ? `pooltag.txt wildcard entry ${c.entryTag.trimEnd()}` : 'pooltag.txt entry',
        callSites: 0,
        hosts: c.drivers.reduce((n, d) => n + d.hosts, 0),
        builds: c.drivers.flatMap(buildsOf),
        entryTag: c.entryTag,
        wildcard: c.wildcard,
        where: src ? `${src.label ?? src.path} line ${src.line}` : undefined,
      });
    } else if (c.source === 'call-site') callSites.push(driverOwner('call-site', c.confidence, c.driver, summaryOf(c.driver)));
    else strings.push(driverOwner('string', 'low', c.driver, NO_SITES));
  }
  // A string hint for a driver that already owns the tag by call site adds nothing.
  const owning = new Set(callSites.map((o) => o.owner));
  // Call sites first (high confidence, then the most hosts, builds and call sites), then
  // pooltag.txt as lookup ranks it, then string hints.
  callSites.sort((a, b) => (a.confidence === b.confidence ? 0 : a.confidence === 'high' ? -1 : 1) || b.hosts - a.hosts || b.builds.length - a.builds.length || b.callSites - a.callSites || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  return [...callSites, ...entries, ...strings.filter((o) => !owning.has(o.owner))];
}

/** Match keys of every tag the base has an owner or a note for, in code-unit order. */
export async function knownTagKeys(store: Store): Promise<string[]> {
  const keys = new Set<string>(await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM evidence`));
  for (const t of await store.pluck<string>(sql`SELECT DISTINCT tag FROM pooltag_entries WHERE wildcard = 0`)) keys.add(normalizeTag4(t));
  for (const k of await store.pluck<string>(sql`SELECT DISTINCT tag_key FROM notes`)) keys.add(k);
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
