/**
 * What makes two reports the same report: the host, when it started, the tool, and the files
 * with their hashes. Re-serialising (JSON vs NDJSON, other whitespace, gzip) does not change it.
 *
 * The digest is SHA-256 over the UTF-8 of `host \0 startedAt \0 toolVersion \0`, then for every
 * file `path \0 (sha256 | error code | '') \0`. Bases store it: it must never change.
 */
import { createHash } from 'node:crypto';

import type { FileEntry, ScanReport } from './types.js';

/** Reused between calls (a merge digests 100,000 reports of some 200 KB each). */
let scratch = Buffer.allocUnsafe(1 << 20);

export function reportDigest(r: Pick<ScanReport, 'host' | 'startedAt' | 'tool'> & { files: readonly FileEntry[] }): string {
  const h = createHash('sha256');
  h.update(`${r.host.name}\0${r.startedAt}\0${r.tool.version}\0`);
  // The files' text written into one buffer and hashed once: a string per file and a join
  // cost three times as much, and one hash update per file ten times.
  let buf = scratch;
  let at = 0;
  const put = (s: string) => {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units)
    if (at + 3 * s.length + 1 > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + 3 * s.length + 1));
      buf.copy(bigger, 0, 0, at);
      buf = bigger;
    }
    at += buf.write(s, at, 'utf8');
    buf[at++] = 0;
  };
  const files = r.files;
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    put(f.path);
    put(f.sha256 ?? f.error?.code ?? '');
  }
  h.update(buf.subarray(0, at));
  if (buf.length <= 64 << 20) scratch = buf;
  return h.digest('hex');
}
