/**
 * Reading reports back (what `pooltag merge` takes): JSON or NDJSON, from any host and any
 * older schema version. A report is untrusted input: its shape is checked before use, and a
 * bad one is refused with a message that says what is wrong, never half-merged.
 */
import { isAscii } from 'node:buffer';
import { gunzipSync } from 'node:zlib';

import { REPORT_FORMAT, REPORT_SCHEMA_VERSION, type FileEntry, type ImageRecord, type ScanReport } from './types.js';

export class ReportError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new ReportError(what);
}

// What a merge stores must have the type it is stored as: a report from another tool version,
// or an edited or damaged one, is refused with the field's name instead of failing inside SQLite.
const isStr = (v: unknown): v is string => typeof v === 'string';
const optStr = (v: unknown) => v === undefined || v === null || typeof v === 'string';
const optInt = (v: unknown) => v === undefined || v === null || Number.isSafeInteger(v);
const optNum = (v: unknown) => v === undefined || v === null || (typeof v === 'number' && Number.isFinite(v));
const optName = (v: unknown) => v === undefined || v === null || (isObj(v) && optStr(v.cn) && optStr(v.text) && optStr(v.o));

/** An argument's value set (evidence `pool`, `size`): non-negative integers, and an optional reason. */
const okValues = (v: unknown): v is Record<string, unknown> & { values: number[] } =>
  isObj(v) && Array.isArray(v.values) && v.values.length <= 64 && v.values.every((x) => Number.isSafeInteger(x) && (x as number) >= 0) && optStr(v.unknown);

/** 64 lower-case hex digits (a loop: a fleet merge checks some 2,000 per report, and the regular expression took twice as long). */
export function isSha256Hex(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function checkReport(r: unknown): ScanReport {
  check(isObj(r), 'not a JSON object');
  check(r.format === REPORT_FORMAT, `not a pooltag scan report (format is ${JSON.stringify(r.format)})`);
  check(Number.isInteger(r.schemaVersion) && (r.schemaVersion as number) >= 1, 'schemaVersion is missing');
  check((r.schemaVersion as number) <= REPORT_SCHEMA_VERSION, `schemaVersion ${r.schemaVersion} is newer than this pooltag reads (${REPORT_SCHEMA_VERSION}); upgrade pooltag`);
  check(isObj(r.host) && typeof r.host.name === 'string' && r.host.name.length > 0, 'host.name is missing');
  for (const k of ['platform', 'os', 'release'] as const) check(optStr(r.host[k]), `host.${k} is not a string`);
  check(optInt(r.host.windowsBuild), 'host.windowsBuild is not an integer');
  check(typeof r.startedAt === 'string', 'startedAt is missing');
  check(optStr(r.finishedAt), 'finishedAt is not a string');
  check(isObj(r.tool) && typeof r.tool.version === 'string', 'tool.version is missing');
  check(Array.isArray(r.files), 'files[] is missing');
  check(Array.isArray(r.images), 'images[] is missing');
  for (let i = 0; i < r.files.length; i++) {
    const f = r.files[i];
    check(isObj(f) && typeof f.path === 'string' && (f.sha256 === null || (typeof f.sha256 === 'string' && isSha256Hex(f.sha256))), `files[${i}] is not a file entry`);
    check(f.known === undefined || (f.known === true && f.sha256 !== null), `files[${i}].known is set on a file without a hash`);
  }
  r.images.forEach((img, i) => {
    check(isObj(img) && typeof img.sha256 === 'string' && isSha256Hex(img.sha256), `images[${i}] has no valid sha256`);
    check(Array.isArray(img.evidence), `images[${i}].evidence is not a list`);
  });
  if (!isObj(r.summary)) (r as Record<string, unknown>).summary = { errors: r.files.filter((f) => isObj(f) && f.error).length };
  const sum = r.summary as Record<string, unknown>;
  check(optInt(sum.errors), 'summary.errors is not an integer');
  // A report cut short (a copy interrupted between two NDJSON lines) is still valid JSON line
  // by line; its summary, written first, says how much there should be.
  for (const k of ['files', 'images'] as const) {
    const n = sum[k];
    const have = (r[k] as unknown[]).length;
    if (Number.isSafeInteger(n) && n !== have) throw new ReportError(`truncated or edited: the summary lists ${n} ${k} but ${have} are in the report`);
  }
  return r as unknown as ScanReport;
}

/** gzip's magic bytes: a report written as `.json.gz` (or compressed on the way) starts with them. */
export const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Most a compressed report may unpack to (a host's full report is tens of MB). */
const MAX_REPORT_BYTES = 1024 * 1024 * 1024;

/**
 * A report file's bytes unpacked: gzip (`.json.gz`, `.ndjson.gz`, whatever the name) is
 * unpacked; binary data that is not gzip is refused (a report is text).
 */
export function reportBytes(bytes: Buffer): Buffer {
  let b = bytes;
  if (isGzip(b)) {
    try {
      // In chunks as large as gzip's trailer says the text is (mod 4 GiB; at least 64 KiB, at
      // most 16 MiB): the default 16 KiB chunks cost as much again as the inflating.
      const told = b.length >= 18 ? b.readUInt32LE(b.length - 4) : 0;
      const chunkSize = Math.min(Math.max(told + 1, 64 * 1024), 16 * 1024 * 1024);
      b = gunzipSync(b, { maxOutputLength: MAX_REPORT_BYTES, chunkSize });
    } catch (err) {
      throw new ReportError(`a gzip file that does not unpack (${(err as Error).message}); copied incompletely?`);
    }
  }
  const nul = b.indexOf(0);
  if (nul >= 0) throw new ReportError(`binary data (a NUL byte at offset 0x${nul.toString(16)}), not a scan report (a .json or .ndjson file that pooltag scan wrote, or the same gzipped)`);
  return b;
}

/** A report file's bytes as text (unpacked as `reportBytes` does). */
export function reportText(bytes: Buffer): string {
  return textOf(reportBytes(bytes));
}

// Text that is all ASCII (a report nearly always is) is copied as it is, without UTF-8 decoding.
const textOf = (b: Buffer, ascii = isAscii(b), start = 0, end = b.length) => b.toString(ascii ? 'latin1' : 'utf8', start, end);

/** Parses a report file's bytes: JSON or NDJSON, plain or gzipped. */
export function parseReportBytes(bytes: Buffer): ScanReport {
  const b = reportBytes(bytes);
  if (b.length > PIECE_BYTES) {
    const r = parseInPieces(b);
    if (r) return checkReport(r);
  }
  return parseReport(textOf(b));
}

/**
 * Pieces of a large report are parsed this size or a little more: V8 makes a string over
 * 128 KiB in pages of its own, mapped and faulted in afresh every time (a 270 KB report's text
 * took 2-3 ms to make, ten times the parse), while pieces stay in the ordinary heap.
 */
const PIECE_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The end of the JSON string opening at `b[at]` (the index of its closing quote), or -1. */
function stringEnd(b: Buffer, at: number): number {
  let j = at + 1;
  for (;;) {
    j = b.indexOf(QUOTE, j);
    if (j < 0) return -1;
    let k = j - 1;
    while (b[k] === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j; // an even run of backslashes: the quote is not escaped
    j++;
  }
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * A JSON report (an object with one `files` array) parsed as its top level with the file list
 * left out, then the list in pieces cut between its entries. Null for anything else: NDJSON,
 * an object key written with escapes, `files` twice, text that is not JSON. Those go the one
 * way that parses the whole text at once (and says what is wrong with it), so both ways give
 * the same report or the same error.
 */
export function parseInPieces(b: Buffer): Record<string, unknown> | null {
  const n = b.length;
  let i = 0;
  while (i < n && isWs(b[i])) i++;
  if (b[i] !== 0x7b) return null; // '{'
  let depth = 0;
  let filesAt = -1; // the '[' of the files array
  let filesDepth = -1; // the depth inside it
  let filesEnd = -1; // its ']'
  const cuts: number[] = []; // commas between entries of the files array where a piece ends
  let lastCut = -1;
  for (; i < n; i++) {
    const c = b[i];
    if (c === QUOTE) {
      const j = stringEnd(b, i);
      if (j < 0) return null;
      if (depth === 1) {
        let k = j + 1;
        while (k < n && isWs(b[k])) k++;
        if (b[k] === 0x3a) {
          // a key of the top-level object
          const esc = b.indexOf(BACKSLASH, i + 1);
          if (esc >= 0 && esc < j) return null;
          if (j - i - 1 === 5 && b.toString('latin1', i + 1, j) === 'files') {
            if (filesAt >= 0) return null;
            k++;
            while (k < n && isWs(b[k])) k++;
            if (b[k] !== 0x5b) return null; // '['
            filesAt = k;
            lastCut = k;
          }
        }
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (i === filesAt) filesDepth = depth;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === filesDepth && filesEnd < 0) filesEnd = i;
      depth--;
      if (depth < 0) return null;
    } else if (c === 0x2c && depth === filesDepth && filesEnd < 0 && i - lastCut >= PIECE_BYTES) {
      cuts.push(i);
      lastCut = i;
    }
  }
  if (filesAt < 0 || filesEnd < 0) return null;
  const ascii = isAscii(b);
  try {
    const top = JSON.parse(textOf(b, ascii, 0, filesAt + 1) + textOf(b, ascii, filesEnd)) as unknown;
    if (!isObj(top) || !Array.isArray(top.files) || top.files.length !== 0) return null;
    const files: unknown[] = [];
    let from = filesAt + 1;
    for (const cut of [...cuts, filesEnd]) {
      const piece = JSON.parse(`[${textOf(b, ascii, from, cut)}]`) as unknown[];
      for (let e = 0; e < piece.length; e++) files.push(piece[e]);
      from = cut + 1;
    }
    top.files = files;
    return top;
  } catch {
    return null;
  }
}

/** Parses a report written as JSON or NDJSON (`pooltag scan --format ndjson`). */
export function parseReport(text: string): ScanReport {
  const start = text.trimStart();
  if (start.startsWith('{"type":"scan"') || /^\{\s*"type"\s*:\s*"scan"/.test(start)) {
    let header: Record<string, unknown> | null = null;
    const files: FileEntry[] = [];
    const images: ImageRecord[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch (err) {
        throw new ReportError(`line ${i + 1}: not JSON (${(err as Error).message})`);
      }
      const { type, ...rest } = rec;
      if (type === 'scan') header = rest;
      else if (type === 'image') images.push(rest as unknown as ImageRecord);
      else if (type === 'file') files.push(rest as unknown as FileEntry);
      else throw new ReportError(`line ${i + 1}: unknown record type ${JSON.stringify(type)}`);
    }
    check(header, 'no scan record');
    return checkReport({ ...header, files, images });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReportError(`not JSON (${(err as Error).message})`);
  }
  return checkReport(data);
}

/**
 * The parts of an image record a merge stores, checked when the image is new to the base
 * (an image already known is not read again, so a fleet of 1,000 reports of mostly the same
 * drivers is not validated 1,000 times).
 */
export function checkImageForMerge(img: ImageRecord): void {
  const where = `image ${String(img.sha256).slice(0, 16)}`;
  const i = img as unknown as Record<string, unknown>;
  for (const k of ['size', 'machine', 'subsystem'] as const) check(optInt(i[k]), `${where}: ${k} is not an integer`);
  check(optNum(i.timestamp), `${where}: timestamp is not a number`);
  for (const k of ['format', 'arch', 'fileVersion', 'productVersion'] as const) check(optStr(i[k]), `${where}: ${k} is not a string`);
  img.evidence.forEach((e, j) =>
    check(
      isObj(e) &&
        typeof e.ulong === 'string' &&
        /^0x[0-9a-f]{1,8}$/i.test(e.ulong) &&
        isStr(e.routine) &&
        Number.isSafeInteger(e.callSiteRva) &&
        isStr(e.kind) &&
        optStr(e.module) &&
        optInt(e.functionRva) &&
        optStr(e.arch) &&
        optStr(e.recovery) &&
        optStr(e.confidence) &&
        optInt(e.tableIndex) &&
        (e.wrappers === undefined || e.wrappers === null || Array.isArray(e.wrappers)),
      `${where}: evidence[${j}] is malformed`,
    ),
  );
  img.evidence.forEach((e, j) => {
    const r = e as unknown as Record<string, unknown>;
    check(r.pool === undefined || r.pool === null || (okValues(r.pool) && (r.pool.encoding === 'pool-type' || r.pool.encoding === 'pool-flags') && Array.isArray(r.pool.names) && r.pool.names.every(isStr)), `${where}: evidence[${j}].pool is malformed`);
    check(r.size === undefined || r.size === null || okValues(r.size), `${where}: evidence[${j}].size is malformed`);
  });
  check(img.tagStrings === undefined || (Array.isArray(img.tagStrings) && img.tagStrings.every((t) => typeof t === 'string')), `${where}: tagStrings is not a list of strings`);
  check(img.strings === undefined || (Array.isArray(img.strings) && img.strings.every((x) => isObj(x))), `${where}: strings is not a list of objects`);
  check(img.versionStrings === undefined || (isObj(img.versionStrings) && Object.values(img.versionStrings).every(isStr)), `${where}: versionStrings is not an object of strings`);
  check(img.importModules === undefined || Array.isArray(img.importModules), `${where}: importModules is not a list`);
  check(img.unresolved === undefined || Array.isArray(img.unresolved), `${where}: unresolved is not a list`);
  const sig = i.signature;
  check(
    sig === undefined || sig === null || (isObj(sig) && isObj(sig.signer) && optName(sig.signer) && isObj(sig.issuer) && optName(sig.issuer) && optStr(sig.signingTime)),
    `${where}: signature is malformed`,
  );
  const pdb = i.pdb;
  check(pdb === undefined || pdb === null || (isObj(pdb) && optStr(pdb.path) && optStr(pdb.guid) && optInt(pdb.age)), `${where}: pdb is malformed`);
  check(
    img.functionNames === undefined || (isObj(img.functionNames) && Object.entries(img.functionNames).every(([k, v]) => /^0x[0-9a-f]+$/i.test(k) && typeof v === 'string')),
    `${where}: functionNames is not a map of 0x-RVAs to names`,
  );
}
