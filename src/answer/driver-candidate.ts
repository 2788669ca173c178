/**
 * One candidate per driver: the images (builds) of one driver grouped together.
 *
 * A driver ships as many images: x86, x64 and ARM64 builds, a Win7 build, a signed copy,
 * every version a fleet still runs. They are one answer to "who owns this tag", so the images
 * are grouped by what names the driver (its OriginalFilename, else its file name), its vendor
 * (CompanyName) and its product (ProductName). Two vendors shipping the same file name stay
 * two candidates. Each image is a build: version, architecture, signer, where it was seen and
 * its call sites, newest first.
 *
 * Within a build, the call sites that prove ownership (allocations, lookaside lists,
 * references) come before the ones that release (frees, dereferences), and a wrapper chain is
 * kept as the chain it is, with the functions' names when the image exports them.
 *
 * `driverCandidatesForTag` is the one function that turns the store's rows for a tag into
 * grouped candidates; `lookup`, `show`, `triage` and the exports use it, not the CLI.
 */
import { sql, type RawBuilder } from '../knowledge/kysely.js';

import type { ArgumentValues, PoolArgument } from '../evidence/types.js';
import { DRIVER_COLUMNS, EVIDENCE_COLUMNS, NO_SIGHTING, PATH_LIMIT, type DriverRow, type EvidenceRow, type SeenRow } from '../knowledge/snapshot.js';
import { p } from '../knowledge/sql.js';
import type { Store } from '../knowledge/store.js';
import { loadRoutines, type RoutineAction } from '../tag/routines.js';
import type { Tag } from '../tag/tag.js';

/** What a call site does with the tag, in the order they are shown. */
export type SiteRole = 'allocate' | 'lookaside' | 'reference' | 'free' | 'dereference';

export const ROLE_ORDER: Record<SiteRole, number> = { allocate: 0, lookaside: 1, reference: 2, free: 3, dereference: 4 };

export interface CallSite {
  routine: string;
  kind: string;
  role: SiteRole;
  callSiteRva: number;
  functionRva: number | null;
  /** The enclosing function's name (from the image's exports), else `sub_<rva>`, else null. */
  functionName: string | null;
  recovery: string;
  confidence: string;
  /** The in-image wrapper chain as the evidence records it (RVAs, outermost first). */
  wrappers: number[] | null;
  /** The site can pass this many different tags (branches, conditional moves); null when one. */
  alternatives: number | null;
  /**
   * The same chain as it reads from the routine outwards: the wrapper that calls the routine
   * first, then the wrapper that calls it (`via MyAlloc <- MyAllocZero`). Names from the
   * image's exports, else `sub_<rva>`.
   */
  via: string[] | null;
  /** The pool the allocation asks for (by name), null when not recorded or not an allocation. */
  pool: PoolArgument | null;
  /** The requested size in bytes, null when not recorded or not an allocation. */
  size: ArgumentValues | null;
}

export interface CallSiteCounts {
  /** Allocation call sites (ExAllocatePoolWithTag & co.). */
  allocations: number;
  /** Lookaside lists initialised with the tag. */
  lookaside: number;
  /** Object references taken with the tag. */
  references: number;
  frees: number;
  dereferences: number;
  /** Distinct functions holding the allocation, lookaside and reference sites. */
  functions: number;
  total: number;
}

/** One image of a driver: one SHA-256. */
export interface DriverBuild {
  sha256: string;
  fileVersion: string | null;
  arch: string | null;
  signer: string | null;
  company: string | null;
  product: string | null;
  description: string | null;
  originalFilename: string | null;
  pdbPath: string | null;
  /** COFF TimeDateStamp (a hash in reproducible builds). */
  timestamp: number | null;
  /** File names it was seen under (lower case), most common first. */
  names: string[];
  hosts: number;
  /** Up to 5 paths, most recently seen first. */
  paths: string[];
  pathCount: number;
  firstSeen: string | null;
  lastSeen: string | null;
  /** The strongest of its call sites for the tag; null when it has none (a string hint, a pooltag.txt file name). */
  confidence: 'high' | 'medium' | null;
  counts: CallSiteCounts;
  /** Call sites of the tag: allocations, lookaside lists and references first, then frees. */
  callSites: CallSite[];
}

/** One driver: its builds grouped by name, vendor and product. */
export interface DriverCandidate {
  /** OriginalFilename of the newest build that has one, else its file name. */
  name: string;
  /** File names its builds were seen under (lower case). */
  fileNames: string[];
  company: string | null;
  product: string | null;
  description: string | null;
  /** Distinct versions, newest first. */
  versions: string[];
  archs: string[];
  /** Distinct signers; null stands for unsigned builds. */
  signers: (string | null)[];
  /** Distinct hosts over every build. */
  hosts: number;
  pathCount: number;
  /** The group's strongest evidence: high or medium call sites, low for a string hint only. */
  confidence: 'high' | 'medium' | 'low';
  /** The counts of its lead build (`builds[lead]`), the one shown first. */
  counts: CallSiteCounts;
  /** Index in `builds` of the build shown first: the strongest evidence, then the most hosts, then the newest. */
  lead: number;
  /** Every build (image), newest first. */
  builds: DriverBuild[];
}

/** Confidence ranks: the strongest first. */
export const CONF: Record<string, number> = { high: 0, medium: 1, low: 2 };

let roles: Map<string, SiteRole> | null = null;
function roleOfAction(action: RoutineAction, kind: string): SiteRole {
  if (action === 'initialize') return 'lookaside';
  if (action === 'reference') return 'reference';
  if (action === 'dereference') return 'dereference';
  if (action === 'free') return 'free';
  return kind === 'object' ? 'reference' : 'allocate';
}

/** The role of a routine's call site, from `data/routines.json` (`action`). */
export function siteRole(routine: string): SiteRole {
  if (!roles) {
    roles = new Map();
    for (const r of loadRoutines().all) roles.set(r.name, roleOfAction(r.action, r.kind));
  }
  return roles.get(routine) ?? 'allocate';
}

export function countCallSites(sites: readonly CallSite[]): CallSiteCounts {
  const c: CallSiteCounts = { allocations: 0, lookaside: 0, references: 0, frees: 0, dereferences: 0, functions: 0, total: sites.length };
  const fns = new Set<number>();
  for (const s of sites) {
    if (s.role === 'allocate') c.allocations++;
    else if (s.role === 'lookaside') c.lookaside++;
    else if (s.role === 'reference') c.references++;
    else if (s.role === 'free') c.frees++;
    else c.dereferences++;
    if (ROLE_ORDER[s.role] < ROLE_ORDER.free && s.functionRva !== null) fns.add(s.functionRva);
  }
  c.functions = fns.size;
  return c;
}

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

/** "12 allocation sites in 5 functions, 2 lookaside lists, 20 frees". */
export function describeCallSites(c: CallSiteCounts): string {
  const owning = c.allocations + c.lookaside + c.references;
  const parts: string[] = [];
  if (c.allocations) parts.push(plural(c.allocations, 'allocation site'));
  if (c.lookaside) parts.push(plural(c.lookaside, 'lookaside list'));
  if (c.references) parts.push(plural(c.references, 'reference'));
  if (parts.length && c.functions) parts[parts.length - 1] += ` in ${plural(c.functions, 'function')}`;
  if (c.frees) parts.push(plural(c.frees, 'free'));
  if (c.dereferences) parts.push(plural(c.dereferences, 'dereference'));
  if (!owning && parts.length) parts[0] = `only ${parts[0]}`;
  return parts.join(', ') || 'no call sites';
}

/** Dotted versions compared number by number (`10.0.19041.1` > `6.3.9600.2`). */
export function compareVersions(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d) return d;
  }
  return a.localeCompare(b);
}

/** Newest first: version, then when it was last seen, then the link timestamp. */
export function newerFirst(a: DriverBuild, b: DriverBuild): number {
  return (
    compareVersions(b.fileVersion, a.fileVersion) ||
    (b.lastSeen ?? '').localeCompare(a.lastSeen ?? '') ||
    (b.timestamp ?? 0) - (a.timestamp ?? 0) ||
    (a.arch ?? '').localeCompare(b.arch ?? '') ||
    (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0)
  );
}

/** What names a driver: its OriginalFilename, else the file name it was seen under, else its hash. */
export function driverName(b: Pick<DriverBuild, 'originalFilename' | 'names' | 'sha256'>): string {
  return b.originalFilename?.trim() || b.names[0] || b.sha256.slice(0, 12);
}

/** The grouping key: name, vendor and product, compared case-insensitively. */
export function driverKey(b: DriverBuild): string {
  const norm = (s: string | null) => (s ?? '').trim().toLowerCase();
  return `${norm(driverName(b))}\0${norm(b.company)}\0${norm(b.product)}`;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/**
 * Groups builds into driver candidates (pure: no store). `hostsOf` counts the distinct hosts
 * of a set of images (a host running two builds counts once); without it the largest build's
 * count is used. Candidates are ranked by their strongest evidence, then hosts, then how many
 * owning call sites their lead build has, then name.
 */
export function groupBuilds(builds: readonly DriverBuild[], hostsOf?: (sha256s: string[]) => number): DriverCandidate[] {
  const groups = new Map<string, DriverBuild[]>();
  for (const b of builds) {
    const k = driverKey(b);
    const g = groups.get(k);
    if (g) g.push(b);
    else groups.set(k, [b]);
  }
  const out: DriverCandidate[] = [];
  for (const g of groups.values()) {
    g.sort(newerFirst);
    let lead = 0;
    // The lead: the strongest evidence, then the build most hosts run, then the newest.
    for (let i = 1; i < g.length; i++) {
      const d = confRank(g[i]) - confRank(g[lead]);
      if (d < 0 || (d === 0 && g[i].hosts > g[lead].hosts)) lead = i;
    }
    const named = g.find((b) => b.originalFilename?.trim()) ?? g[0];
    const best = g[lead];
    out.push({
      name: driverName(named),
      fileNames: uniq(g.flatMap((b) => b.names)),
      company: named.company,
      product: named.product,
      description: g.find((b) => b.description)?.description ?? null,
      versions: uniq(g.map((b) => b.fileVersion).filter((v): v is string => !!v)),
      archs: uniq(g.map((b) => b.arch).filter((a): a is string => !!a)),
      signers: uniq(g.map((b) => b.signer)),
      hosts: g.length === 1 ? g[0].hosts : hostsOf ? hostsOf(g.map((b) => b.sha256)) : Math.max(...g.map((b) => b.hosts)),
      pathCount: g.reduce((s, b) => s + b.pathCount, 0),
      confidence: best.confidence ?? 'low',
      counts: best.counts,
      lead,
      builds: g,
    });
  }
  const owning = (c: DriverCandidate) => c.counts.allocations + c.counts.lookaside + c.counts.references;
  out.sort((a, b) => CONF[a.confidence] - CONF[b.confidence] || b.hosts - a.hosts || owning(b) - owning(a) || b.counts.total - a.counts.total || a.name.localeCompare(b.name));
  return out;
}

function confRank(b: DriverBuild): number {
  return b.confidence === null ? 2 : CONF[b.confidence];
}

/** Allocations, lookaside lists and references first, then frees; by address within each. */
export function sortCallSites(sites: CallSite[]): CallSite[] {
  return sites.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || CONF[a.confidence] - CONF[b.confidence] || a.callSiteRva - b.callSiteRva);
}

/** A JSON column of the base (pool, size), null when absent or unreadable. */
export function jsonColumn<T>(text: string | null): T | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as T & { values?: unknown };
    return v && Array.isArray(v.values) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Reads builds from the store: one image's metadata, sightings and call sites of one tag.
 * Statements are prepared once per instance. (The exports read the whole base at once
 * instead: export/bulk.ts.)
 */
/**
 * One image as a build: its row, where it was seen, and its call sites of a tag (sorted).
 * `hosts`: the hosts that sent it in full, or those whose inventory has it (a `--known`
 * fleet), whichever is more. One object literal, one shape, for lookup and the exports alike.
 */
export function driverBuild(sha256: string, d: Omit<DriverRow, 'function_names'>, seen: SeenRow, names: string[], paths: string[], hosts: number, sites: CallSite[]): DriverBuild {
  return {
    sha256,
    fileVersion: d.file_version,
    arch: d.arch,
    signer: d.signer,
    company: d.company,
    product: d.product,
    description: d.description,
    originalFilename: d.original_filename,
    pdbPath: d.pdb_path,
    timestamp: d.timestamp,
    names,
    hosts,
    paths,
    pathCount: seen.paths,
    firstSeen: seen.first,
    lastSeen: seen.last,
    confidence: sites.length ? (sites.some((s) => s.confidence === 'high') ? 'high' : 'medium') : null,
    counts: countCallSites(sites),
    callSites: sites,
  };
}

export class DriverBuilds {
  private readonly q;

  constructor(readonly store: Store) {
    const q = (name: string, build: () => RawBuilder<unknown>) => store.stmt(`builds:${name}`, build);
    this.q = {
      driver: q('driver', () => sql`SELECT ${sql.raw(DRIVER_COLUMNS)} FROM drivers WHERE sha256 = ${p('sha')}`),
      names: q('names', () => sql`SELECT name FROM sightings WHERE sha256 = ${p('sha')} GROUP BY name ORDER BY count(*) DESC, name`),
      seen: q('seen', () => sql`SELECT count(DISTINCT host_id) AS hosts, count(*) AS paths, min(first_seen) AS first, max(last_seen) AS last FROM sightings WHERE sha256 = ${p('sha')}`),
      inventoryHosts: q('inventoryHosts', () => sql`SELECT h.hosts FROM image_hosts h JOIN images i ON i.id = h.image_id WHERE i.sha256 = ${p('sha')}`),
      paths: q('paths', () => sql`SELECT path FROM sightings WHERE sha256 = ${p('sha')} GROUP BY path ORDER BY max(last_seen) DESC, path LIMIT ${sql.raw(String(PATH_LIMIT))}`),
      evidence: q('evidence', () => sql`SELECT ${sql.raw(EVIDENCE_COLUMNS)} FROM evidence WHERE sha256 = ${p('sha')} AND tag_key = ${p('key')} ORDER BY call_site_rva, routine, ulong`),
      tagShas: q('tagShas', () => sql`SELECT DISTINCT sha256 FROM evidence WHERE tag_key = ${p('key')} ORDER BY sha256`),
      allEvidence: q('allEvidence', () => sql`SELECT tag, ulong, shared, ${sql.raw(EVIDENCE_COLUMNS)} FROM evidence WHERE sha256 = ${p('sha')} ORDER BY tag`),
      functionNames: q('functionNames', () => sql`SELECT function_names FROM drivers WHERE sha256 = ${p('sha')}`),
    };
  }

  /** Images with call sites of a tag key, by SHA-256. */
  async shasWithTag(tagKey: string): Promise<string[]> {
    return this.q.tagShas.pluck<string>({ key: tagKey });
  }

  private namer(json: string | null | undefined): (rva: number) => string {
    let names: Record<string, string> = {};
    if (json) {
      try {
        names = JSON.parse(json) as Record<string, string>;
      } catch {
        names = {};
      }
    }
    return (rva) => names[`0x${rva.toString(16)}`] ?? `sub_${rva.toString(16)}`;
  }

  private site(r: EvidenceRow, nameOf: (rva: number) => string): CallSite {
    const wrappers = r.wrappers ? (JSON.parse(r.wrappers) as number[]) : null;
    return {
      routine: r.routine,
      kind: r.kind,
      role: siteRole(r.routine),
      callSiteRva: r.call_site_rva,
      functionRva: r.function_rva,
      functionName: r.function_rva === null ? null : nameOf(r.function_rva),
      recovery: r.recovery,
      confidence: r.confidence,
      wrappers,
      alternatives: r.alternatives ?? null,
      via: wrappers?.length ? [...wrappers].reverse().map(nameOf) : null,
      pool: jsonColumn<PoolArgument>(r.pool),
      size: jsonColumn<ArgumentValues>(r.size),
    };
  }

  /** Every tag an image passes at its call sites, each with its sites (allocations first), by tag. */
  async tagsOf(sha256: string): Promise<{ tag: string; ulong: number; shared: boolean; counts: CallSiteCounts; callSites: CallSite[] }[]> {
    const nameOf = this.namer((await this.q.functionNames.pluck<string | null>({ sha: sha256 }))[0]);
    const byTag = new Map<string, { tag: string; ulong: number; shared: boolean; counts: CallSiteCounts; callSites: CallSite[] }>();
    for (const r of await this.q.allEvidence.all<Required<EvidenceRow>>({ sha: sha256 })) {
      let t = byTag.get(r.tag);
      if (!t) byTag.set(r.tag, (t = { tag: r.tag, ulong: r.ulong, shared: !!r.shared, counts: countCallSites([]), callSites: [] }));
      t.callSites.push(this.site(r, nameOf));
    }
    for (const t of byTag.values()) t.counts = countCallSites(sortCallSites(t.callSites));
    return [...byTag.values()];
  }

  /** One image as a build; `tagKey` selects its call sites (none when null). Null when the image is unknown. */
  async build(sha256: string, tagKey: string | null): Promise<DriverBuild | null> {
    const d = await this.q.driver.get<DriverRow>({ sha: sha256 });
    if (!d) return null;
    const seen = (await this.q.seen.get<SeenRow>({ sha: sha256 })) ?? NO_SIGHTING;
    const nameOf = this.namer(d.function_names);
    const rows = !tagKey ? [] : await this.q.evidence.all<EvidenceRow>({ sha: sha256, key: tagKey });
    const sites: CallSite[] = rows.map((r) => this.site(r, nameOf));
    sortCallSites(sites);
    const names = await this.q.names.pluck<string>({ sha: sha256 });
    const paths = await this.q.paths.pluck<string>({ sha: sha256 });
    return driverBuild(sha256, d, seen, names, paths, Math.max(Number(seen.hosts), await this.inventoryHosts(sha256)), sites);
  }

  /**
   * Hosts whose inventory has the image (a fleet scanned with `--known` reports most images as
   * inventory, not sightings).
   */
  private async inventoryHosts(sha256: string): Promise<number> {
    return Number((await this.q.inventoryHosts.pluck<number>({ sha: sha256 }))[0] ?? 0);
  }

  /**
   * Distinct hosts that saw any of these images: the union of their sightings, or the most
   * hosts one of them is inventoried on when that is more (inventories are counted per image,
   * so for several builds this is a lower bound).
   */
  async hostsOf(sha256s: string[]): Promise<number> {
    if (sha256s.length === 0) return 0;
    let n = Number(await this.store.one(sql`SELECT count(DISTINCT host_id) FROM sightings WHERE sha256 IN (${sql.join(sha256s)})`));
    for (const sha of sha256s) n = Math.max(n, await this.inventoryHosts(sha));
    return n;
  }

  /** Images grouped into driver candidates; `tagKey` selects the call sites each build lists. */
  async candidates(sha256s: Iterable<string>, tagKey: string | null): Promise<DriverCandidate[]> {
    const builds: DriverBuild[] = [];
    for (const sha of new Set(sha256s)) {
      const b = await this.build(sha, tagKey);
      if (b) builds.push(b);
    }
    // hosts over a driver's several builds: asked here, before grouping (which does not wait)
    const groups = new Map<string, string[]>();
    for (const b of builds) {
      const k = driverKey(b);
      const g = groups.get(k);
      if (g) g.push(b.sha256);
      else groups.set(k, [b.sha256]);
    }
    const hosts = new Map<string, number>();
    for (const g of groups.values()) if (g.length > 1) hosts.set([...g].sort().join(','), await this.hostsOf(g));
    return groupBuilds(builds, (s) => hosts.get([...s].sort().join(',')) ?? 0);
  }
}

/**
 * The drivers that pass a tag at their call sites, one candidate per driver with every build,
 * ranked by their strongest evidence. Usable without the CLI (`triage`, `export`).
 */
export async function driverCandidatesForTag(store: Store, tag: Tag, builds: DriverBuilds = new DriverBuilds(store)): Promise<DriverCandidate[]> {
  const key = tag.matchKey;
  return builds.candidates(await builds.shasWithTag(key), key);
}
