/**
 * Writing reports: atomically (a temporary file in the same folder, then a rename), so that a
 * fleet collector never picks up half a report; JSON or NDJSON.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

import type { ScanReport } from './types.js';

export type ReportFormat = 'json' | 'ndjson';

export async function writeFileAtomic(file: string, data: string | Uint8Array | Iterable<string>): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    if (typeof data === 'string') await fh.writeFile(data, 'utf8');
    else if (data instanceof Uint8Array) await fh.writeFile(data);
    else for (const chunk of data) await fh.write(chunk, null, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * NDJSON: one record per line, each with a `type`: first `scan` (everything but the files and
 * images), then one `image` per distinct SHA-256, then one `file` per path. Line-oriented tools
 * (jq -c, Splunk, Velociraptor) take it as it is.
 */
export function* reportLines(report: ScanReport): Generator<string> {
  const { files, images, ...header } = report;
  yield JSON.stringify({ type: 'scan', ...header }) + '\n';
  for (const image of images) yield JSON.stringify({ type: 'image', ...image }) + '\n';
  for (const file of files) yield JSON.stringify({ type: 'file', ...file }) + '\n';
}

export function serialiseReport(report: ScanReport, format: ReportFormat): string | Iterable<string> {
  return format === 'ndjson' ? reportLines(report) : JSON.stringify(report) + '\n';
}

/** A report named `*.gz` is written gzipped: a host's report shrinks about tenfold. */
export const wantsGzip = (file: string) => /\.gz$/i.test(file);

export function reportBytes(report: ScanReport, format: ReportFormat): Buffer {
  const out = serialiseReport(report, format);
  const text = typeof out === 'string' ? out : [...out].join('');
  return gzipSync(Buffer.from(text, 'utf8'), { level: 6 });
}

export async function writeReport(report: ScanReport, file: string, format: ReportFormat): Promise<void> {
  await writeFileAtomic(file, wantsGzip(file) ? reportBytes(report, format) : serialiseReport(report, format));
}
