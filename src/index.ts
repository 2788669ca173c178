/**
 * pooltag as a library. The stages follow the data:
 *   discover -> read PE -> extract evidence -> report -> merge -> index -> answer.
 * Each stage lives in its own folder under src/ and is exported from here.
 *
 * Scanning, merging and asking, as the CLI does:
 *
 *   import { scan, Store, Lookup, ownerAnswers, readInput, triage } from 'pooltag';
 *   const report = await scan({ paths: ['C:\\Windows\\System32\\drivers'], jobs: 4, cache: null });
 *   const store = await Store.open('fleet.db'); // or a postgres:// URL: the same API on a PostgreSQL server
 *   await store.mergeReport(report);
 *   const lookup = new Lookup(store);
 *   for (const a of (await lookup.lookup('ShAp')).answers) console.log(a.candidates.map((c) => ('driver' in c ? c.driver.name : c.binaryRaw)), a.next);
 *   const input = readInput(readFileSync('poolmon.txt'), 'poolmon.txt'); // any encoding
 *   const result = triage([input], { lookup: await ownerAnswers(lookup, [input]), sort: 'bytes', top: 20 });
 *   for (const v of result.verdict) console.log(v.text, v.next ?? '');
 *   await store.close();
 *
 * One PE file: `readPe(bytes)` gives its headers, imports, version strings, signer and PDB
 * path; `await extractEvidence(bytes, image)` the tags at its call sites.
 */
export * from './pe/index.js';
export { extractEvidence, type ExtractOptions, type ExtractionWithStrings } from './evidence/extract.js';
export type * from './evidence/types.js';
export { Tag, parseTag, TagParseError, PROTECTED_POOL } from './tag/tag.js';
export { loadRoutines, findRoutine, sharedTagInfo } from './tag/routines.js';
export { VERSION } from './version.js';

// discover -> scan -> report
export { discover, DEFAULT_INCLUDE, isKernelImageName, sniffNative, type Candidate as DiscoveredFile, type DiscoverOptions } from './discover/discover.js';
export { scan, DEFAULTS as SCAN_DEFAULTS, defaultCacheFile, type ScanOptions, type ScanProgress } from './scan/scan.js';
export { analyseFile, analyseBytes, type AnalyseOptions, type FileOutcome } from './scan/analyse.js';
export type * from './report/types.js';
export { REPORT_FORMAT, REPORT_SCHEMA_VERSION } from './report/types.js';
export { parseReport, ReportError } from './report/read.js';
export { writeReport, serialiseReport, reportLines, type ReportFormat } from './report/write.js';
export { defaultDriverRoots, defaultKernelRoots, userCacheDir, userDataDir } from './platform/paths.js';

// merge -> index -> answer
export { Store, StoreError, defaultDbPath, dbTarget, reportDigest, SCHEMA_VERSION, APPLICATION_ID, type StoreOptions } from './knowledge/store.js';
export { parsePooltagTxt, pooltagTxtProblem, matchTag, writePooltagTxt, encodePooltagTxt, writeLocalTagTxt, type PooltagFile, type PooltagEntry } from './knowledge/pooltag-txt.js';
export { findInstalledPooltag, pooltagCandidates } from './knowledge/locate.js';
export { refreshSearchIndex, loadSearchIndex, searchIndex, rewriteQuery } from './knowledge/search-index.js';
export { Lookup, type LookupResult, type TagAnswer, type Candidate as OwnerCandidate } from './answer/lookup.js';
export {
  driverCandidatesForTag,
  groupBuilds,
  DriverBuilds,
  describeCallSites,
  countCallSites,
  siteRole,
  compareVersions,
  type DriverCandidate,
  type DriverBuild,
  type CallSite,
  type CallSiteCounts,
  type SiteRole,
} from './answer/driver-candidate.js';
export { kernelImages, imagesForBinary, type KernelImages } from './platform/kernel-images.js';
export {
  exportBase,
  exportTags,
  tagOwners,
  exportPooltag,
  exportLocaltag,
  exportRows,
  exportCsv,
  exportJson,
  exportHtml,
  isDebuggerPooltag,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  type ExportResult,
  type ExportTag,
  type ExportOwner,
  type ExportRow,
} from './answer/export/index.js';
export { detectPoolOutput, parsePoolmon, parsePoolused, parsePool, parsePoolFind, type PoolOutput, type PoolRow } from './answer/pool-output.js';
export { readPoolContext, contextFindings, type PoolContext, type PoolFinding, type VmContext, type FragContext } from './answer/pool-context.js';
export { parsePoolCsv, parsePoolJson, columnField, type PoolTable } from './answer/pool-table.js';
export {
  triage,
  readInput,
  decodeInput,
  summariseOwner,
  parseTimestamp,
  parseInterval,
  OwnerResolver,
  type TriageResult,
  type TriageOptions,
  type TriageSort,
  type TriagePool,
  type TriageRow,
  type GrowthRow,
  type OwnerSummary,
  type OwnerDriver,
  ownerAnswers,
  type OwnerAnswers,
  type InputRead,
  type Snapshot,
  type PoolEntry,
  type VerdictLine,
} from './answer/triage.js';
