/**
 * The known list: the image hashes a base holds (`pooltag export --format known`), for
 * `pooltag scan --known FILE`, which then reports those images as inventory only.
 *
 * The file is gzipped text, one SHA-256 in lower-case hex per line, sorted, after a header
 * line `# pooltag-known 1 <count>` (zcat or PowerShell read it; 300,000 hashes are about
 * 10 MB: hashes do not compress, hex costs twice the bytes and gzip takes most of that back).
 * A plain (not gzipped) file of such lines is read too.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

import { isGzip } from '../report/read.js';

export const KNOWN_HEADER = 'pooltag-known 1';

export class KnownListError extends Error {}

/** The known list's bytes (gzipped) for these hashes, in any order. */
export function knownListBytes(hashes: Iterable<string>): Buffer {
  const sorted = [...hashes].sort();
  const text = `# ${KNOWN_HEADER} ${sorted.length}\n${sorted.join('\n')}${sorted.length ? '\n' : ''}`;
  return gzipSync(Buffer.from(text, 'latin1'), { level: 9 });
}

/** Reads a known list: refuses a file that is not one, saying where. */
export function parseKnownList(bytes: Buffer): Set<string> {
  let b = bytes;
  if (isGzip(b)) {
    try {
      b = gunzipSync(b);
    } catch (err) {
      throw new KnownListError(`a gzip file that does not unpack (${(err as Error).message})`);
    }
  }
  const text = b.toString('latin1');
  const lines = text.split('\n');
  const first = lines[0]?.trim() ?? '';
  if (!first.startsWith(`# ${KNOWN_HEADER}`)) {
    throw new KnownListError(`not a known list (it should start with "# ${KNOWN_HEADER}"; write one with pooltag export --format known)`);
  }
  const out = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim().toLowerCase();
    if (!line || line.startsWith('#')) continue;
    if (!/^[0-9a-f]{64}$/.test(line)) throw new KnownListError(`line ${i + 1}: not a SHA-256 (${JSON.stringify(line.slice(0, 80))})`);
    out.add(line);
  }
  const declared = Number(first.split(/\s+/)[3]);
  if (Number.isSafeInteger(declared) && declared !== out.size) throw new KnownListError(`truncated or edited: the header says ${declared} hashes but ${out.size} are in the file`);
  return out;
}
