import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { NoDefaultRootsError, userDataDir } from '../platform/paths.js';
import type { ScanReport } from '../report/types.js';
import { serialiseReport, writeReport, type ReportFormat } from '../report/write.js';
import { scan, DEFAULTS, defaultCacheFile } from '../scan/scan.js';
import { ProgressBar } from './progress.js';
import { formatBytes, safeText } from './text.js';
import { UsageError } from './usage.js';

export interface ScanCliOptions {
  include?: string[];
  exclude?: string[];
  jobs?: string;
  maxSize?: string;
  timeout?: string;
  minString?: string;
  out?: string;
  format?: string;
  cache?: string | boolean;
  verify?: boolean;
  known?: string;
  quiet?: boolean;
  json?: boolean;
}

export { UsageError } from './usage.js';

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} wants a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** A folder (a share that cannot be read says no). */
function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Default report path: the user's data folder, one file per host and start time. */
export function defaultReportPath(report: ScanReport, format: ReportFormat): string {
  const stamp = report.startedAt.replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z');
  const host = report.host.name.replace(/[^A-Za-z0-9._-]/g, '_') || 'host';
  return join(userDataDir(), 'reports', `scan-${host}-${stamp}.${format === 'ndjson' ? 'ndjson' : 'json'}`);
}

export function summaryLines(r: ScanReport, reportPath: string | null): string[] {
  const s = r.summary;
  const secs = s.durationMs / 1000;
  const lines = [
    `scanned   ${s.scanned} of ${s.files} files (${formatBytes(s.bytes)}), ${s.images} distinct images${s.cached ? `, ${s.cached} from the cache` : ''}`,
    `tags      ${s.distinctTags} distinct tags at call sites in ${s.imagesWithTags} images`,
    `errors    ${s.errors}`,
    `time      ${secs.toFixed(2)} s, ${formatBytes(s.bytesAnalysed / Math.max(secs, 0.001))}/s analysed, ${(s.files / Math.max(secs, 0.001)).toFixed(0)} files/s, ${r.options.jobs} workers`,
  ];
  const errs = r.files.filter((f) => f.error);
  for (const f of errs.slice(0, 20)) lines.push(`  ${safeText(f.path, 200)}: ${f.error!.code}: ${safeText(f.error!.message, 200)}`);
  if (errs.length > 20) lines.push(`  ... and ${errs.length - 20} more errors (see the report)`);
  if (s.files === 0) lines.push(`no files matched ${r.options.include.join(', ')} under ${r.options.roots.map((x) => safeText(x)).join(', ')} (use --include "**/*.dll" for other files)`);
  if (reportPath) lines.push(`report    ${safeText(reportPath, 400)}`);
  return lines;
}

/** Why an --include matched no file, and what to type instead when quotes are the reason. */
export function includeWarning(include: string[], roots: string[]): string {
  const quoted = include.filter((p) => /^'.*'$/.test(p));
  const hint = quoted.length
    ? `; the single quotes are part of the pattern (cmd.exe keeps them): write --include "${quoted[0].slice(1, -1)}"`
    : '';
  return `--include ${include.map((p) => safeText(p, 100)).join(' --include ')} matched no file under ${roots.map((r) => safeText(r, 200)).join(', ')}${hint}`;
}

/** `pooltag scan`: exit 0 when every file was scanned, 2 when some failed, 1 on usage errors. */
export async function scanCommand(paths: string[], opts: ScanCliOptions): Promise<number> {
  let format: ReportFormat;
  let jobs: number | undefined;
  let maxFileSize: number;
  let timeoutMs: number;
  let minStringLength: number;
  let outFolder: string | null = null;
  try {
    format = (opts.format ?? 'json') as ReportFormat;
    if (format !== 'json' && format !== 'ndjson') throw new UsageError(`--format is json or ndjson, not ${JSON.stringify(opts.format)}`);
    jobs = opts.jobs === undefined ? undefined : Math.floor(positiveInt('--jobs', opts.jobs, 1));
    maxFileSize = Math.floor(positiveInt('--max-size', opts.maxSize, DEFAULTS.maxFileSize / 1048576) * 1048576);
    timeoutMs = Math.floor(positiveInt('--timeout', opts.timeout, DEFAULTS.timeoutMs / 1000) * 1000);
    minStringLength = Math.floor(positiveInt('--min-string', opts.minString, DEFAULTS.minStringLength));
    // Before scanning, not after: a report that cannot be written would cost the whole scan.
    if (opts.out && opts.out !== '-') {
      const out = resolve(opts.out);
      if (isFolder(out)) outFolder = out;
      const parent = dirname(out);
      if (!existsSync(parent)) throw new UsageError(`--out ${opts.out}: the folder ${parent} does not exist`);
      if (!statSync(parent).isDirectory()) throw new UsageError(`--out ${opts.out}: ${parent} is not a folder`);
    }
  } catch (err) {
    process.stderr.write(`pooltag scan: ${(err as Error).message}\n`);
    return 1;
  }
  let known: Set<string> | null = null;
  if (opts.known) {
    const { parseKnownList } = await import('../knowledge/known.js');
    try {
      let bytes: Buffer;
      try {
        bytes = readFileSync(resolve(opts.known));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a known list' : (err as Error).message);
      }
      known = parseKnownList(bytes);
    } catch (err) {
      process.stderr.write(`pooltag scan: --known ${safeText(opts.known, 300)}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const cache = opts.cache === false ? null : typeof opts.cache === 'string' ? resolve(opts.cache) : defaultCacheFile();
  const toStdout = opts.out === '-';
  const bar = ProgressBar.forTerminal(!!opts.quiet);

  // Ctrl-C: the bar's line is cleared and the scan says it stopped, before the default exit (130).
  const interrupted = () => {
    bar?.clear();
    process.stderr.write('pooltag scan: interrupted (Ctrl-C); no report written\n');
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  let report: ScanReport;
  try {
    report = await scan({
      paths,
      include: opts.include,
      exclude: opts.exclude,
      jobs,
      maxFileSize,
      timeoutMs,
      minStringLength,
      cache,
      verify: !!opts.verify,
      known,
      onNote: opts.quiet ? undefined : (m) => process.stderr.write(`pooltag scan: note: ${safeText(m, 400)}\n`),
      onProgress: bar ? (p) => bar.update(p) : undefined,
    });
  } catch (err) {
    bar?.clear();
    if (err instanceof NoDefaultRootsError) {
      process.stderr.write(`pooltag scan: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', interrupted);
  }
  bar?.clear();

  let reportPath: string | null = null;
  if (toStdout) {
    const out = serialiseReport(report, format);
    if (typeof out === 'string') process.stdout.write(out);
    else for (const line of out) process.stdout.write(line);
  } else {
    // --out FOLDER (a collection share): this host's own name and time, gzipped
    reportPath = outFolder ? join(outFolder, `${basename(defaultReportPath(report, format))}.gz`) : resolve(opts.out ?? defaultReportPath(report, format));
    await mkdir(dirname(reportPath), { recursive: true });
    await writeReport(report, reportPath, format);
  }
  if (opts.json && !toStdout) process.stdout.write(JSON.stringify({ report: reportPath, summary: report.summary }) + '\n');
  else if (!opts.quiet) (toStdout ? process.stderr : process.stdout).write(summaryLines(report, reportPath).join('\n') + '\n');
  // Patterns that match nothing are a mistake, most often quoting: cmd.exe passes '**/*.sys'
  // with its single quotes, and no file name starts with one.
  if (opts.include?.length && report.summary.files === 0) {
    process.stderr.write(`pooltag scan: warning: ${includeWarning(opts.include, report.options.roots)}\n`);
    return 1;
  }
  return report.summary.errors > 0 ? 2 : 0;
}
