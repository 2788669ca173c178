/**
 * A driver candidate as text a person reads at a glance: one driver once, its builds
 * summarised (expanded with --builds), the call sites that prove ownership first, summarised
 * and cut to a few (all with --all), wrapper chains as chains.
 */
import { describeAllocation } from '../answer/pool-match.js';
import { describeCallSites, type CallSite, type DriverBuild, type DriverCandidate } from '../answer/driver-candidate.js';
import { safeText } from './text.js';

export interface DriverTextOptions {
  /** One line per build (image) with its hosts, paths and call sites. */
  builds?: boolean;
  /** Every call site, not the first few. */
  all?: boolean;
}

/** Call sites shown per build unless --all. */
export const FIRST_SITES = 4;

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;
const hex = (n: number) => `0x${n.toString(16)}`;

/** `core.sys - Pooltag Fixtures` (+ the product when it says more than the vendor). */
export function driverTitle(d: DriverCandidate): string {
  const who = [d.company, d.product && d.product !== d.company ? d.product : null].filter(Boolean).join(', ');
  // Seen under other file names than the one it calls itself (ntoskrnl.exe is ntkrnlmp.exe inside).
  const others = d.fileNames.filter((f) => f !== d.name.toLowerCase());
  const as = others.length && !d.fileNames.includes(d.name.toLowerCase()) ? ` (as ${others.slice(0, 2).map((f) => safeText(f, 80)).join(', ')}${others.length > 2 ? ', ...' : ''})` : '';
  return `${safeText(d.name, 80)}${as}${who ? ` - ${safeText(who, 160)}` : ''}`;
}

function signerText(s: string | null): string {
  return s ? `signed by ${safeText(s, 120)}` : 'unsigned';
}

/** `1.2.3.4 x64, signed by Contoso`. */
export function buildTitle(b: DriverBuild): string {
  return `${b.fileVersion ? safeText(b.fileVersion, 40) : 'no version'} ${b.arch ?? '?'}, ${signerText(b.signer)}`;
}

export function pathsText(paths: string[], total: number, shown = 2): string {
  const list = paths.slice(0, shown).map((p) => safeText(p, 200));
  const more = total - list.length;
  return `${list.join(', ')}${more > 0 ? ` (+${more} more)` : ''}`;
}

/** `ExAllocatePoolWithTag at 0x160e in sub_1600 via MyAlloc <- MyAllocOuter (wrapper, medium)`. */
export function callSiteLine(s: CallSite): string {
  const where = s.functionName ? ` in ${safeText(s.functionName, 80)}` : '';
  const via = s.via?.length ? ` via ${s.via.map((v) => safeText(v, 80)).join(' ← ')}` : '';
  const alt = s.alternatives ? `, one of ${s.alternatives} tags this call can pass` : '';
  const alloc = describeAllocation(s.pool, s.size);
  return `${s.routine} at ${hex(s.callSiteRva)}${where}${via} (${s.recovery}, ${s.confidence}${alt})${alloc ? `: ${safeText(alloc, 200)}` : ''}`;
}

function siteLines(b: DriverBuild, opts: DriverTextOptions, indent: string): string[] {
  const shown = opts.all ? b.callSites : b.callSites.slice(0, FIRST_SITES);
  const lines = shown.map((s) => `${indent}${callSiteLine(s)}`);
  if (shown.length < b.callSites.length) lines.push(`${indent}... ${b.callSites.length - shown.length} more (--all)`);
  return lines;
}

/** Builds with the same version, architecture and signer, in one line each. */
function buildSummaryLines(d: DriverCandidate, indent: string): string[] {
  const groups = new Map<string, DriverBuild[]>();
  for (const b of d.builds) {
    const k = buildTitle(b);
    const g = groups.get(k);
    if (g) g.push(b);
    else groups.set(k, [b]);
  }
  const lines: string[] = [];
  for (const [title, g] of groups) {
    const paths = g.flatMap((b) => b.paths);
    const total = g.reduce((s, b) => s + b.pathCount, 0);
    const seen = g.length === 1 ? `${plural(g[0].hosts, 'host')}: ` : '';
    const sha = g.length === 1 ? `; sha256 ${g[0].sha256.slice(0, 16)}...` : '';
    lines.push(`${indent}${title}${g.length > 1 ? ` (${g.length} builds)` : ''}: ${seen}${pathsText(paths, total, 1)}${sha}`);
  }
  return lines;
}

/** One build, expanded (--builds). */
function buildLines(b: DriverBuild, opts: DriverTextOptions, withSites: boolean, indent: string): string[] {
  const lines = [`${indent}${buildTitle(b)}; sha256 ${b.sha256.slice(0, 16)}...; ${plural(b.hosts, 'host')}: ${pathsText(b.paths, b.pathCount)}`];
  if (withSites && b.callSites.length) {
    lines.push(`${indent}  ${describeCallSites(b.counts)}:`);
    lines.push(...siteLines(b, opts, `${indent}    `));
  }
  return lines;
}

/**
 * A candidate's lines after its title: what the evidence is, its builds, its call sites.
 * `evidence` says what kind of candidate it is ("call sites in a scanned driver, high confidence").
 */
export function driverLines(d: DriverCandidate, evidence: string, opts: DriverTextOptions, indent = '      '): string[] {
  const hasSites = d.builds.some((b) => b.callSites.length);
  const n = d.builds.length;
  const lines = [`${indent}${evidence}; ${plural(n, 'build')} on ${plural(d.hosts, 'host')}${n > 1 && !opts.builds ? ' (--builds for each)' : ''}`];
  if (opts.builds) {
    for (const b of d.builds) lines.push(...buildLines(b, opts, hasSites, indent));
    return lines;
  }
  lines.push(...buildSummaryLines(d, indent));
  if (hasSites) {
    const lead = d.builds[d.lead];
    lines.push(`${indent}${describeCallSites(lead.counts)}${n > 1 ? ` (in ${buildTitle(lead)}, ${lead.sha256.slice(0, 12)})` : ''}:`);
    lines.push(...siteLines(lead, opts, `${indent}  `));
  }
  return lines;
}

/** One line for a scanned driver a pooltag.txt entry names. */
export function linkedDriverLine(d: DriverCandidate): string {
  const lead = d.builds[d.lead];
  const sites = lead.callSites.length ? `its call sites: ${describeCallSites(lead.counts)}` : 'no call site of this tag found in it';
  return `${driverTitle(d)}; ${plural(d.builds.length, 'build')} on ${plural(d.hosts, 'host')}; ${sites}`;
}
