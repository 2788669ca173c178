/**
 * `pooltag export --format localtag`: poolmon's `localtag.txt` (the `poolmon /c` format, read
 * back with `poolmon /g FILE`), one line per (tag, driver): `Tag   -  driver` (no `.sys`).
 *
 * poolmon rejects tag files over 1,000,000 bytes. When the base holds more than fits, the most
 * useful entries are kept, and written first:
 *   1. call sites in scanned drivers, high confidence;
 *   2. call sites, medium confidence (wrappers, tables, struct fields);
 *   3. pooltag.txt entries that name a driver file (exact tags; wildcards cannot be written);
 *   4. tag-like strings in a driver's data (hints);
 * within a class, drivers seen on more hosts first, then by tag. What was left out is counted.
 * Shared tags (`None`, `Ddk `, ...) get no scanned line: their drivers are not their owners.
 */
import { POOLMON_TAG_FILE_LIMIT, writeLocalTagTxt } from '../../knowledge/pooltag-txt.js';
import type { ExportTag } from './owners.js';

export const LOCALTAG_CLASSES = ['call-site high', 'call-site medium', 'pooltag.txt', 'string'] as const;
export type LocaltagClass = (typeof LOCALTAG_CLASSES)[number];

export interface LocaltagExport {
  text: string;
  bytes: number;
  /** The byte limit applied (poolmon's 1,000,000 unless told otherwise). */
  limit: number;
  /** Lines written, per class. */
  kept: Record<LocaltagClass, number>;
  /** Lines that did not fit under the limit, per class. */
  left: Record<LocaltagClass, number>;
  /** Entries that cannot be a localtag.txt line (non-ASCII tag or driver name), with the reason. */
  invalid: { tag: string; driver: string; reason: string }[];
}

const zero = (): Record<LocaltagClass, number> => ({ 'call-site high': 0, 'call-site medium': 0, 'pooltag.txt': 0, string: 0 });

export function exportLocaltag(tags: readonly ExportTag[], opts: { limit?: number; eol?: '\r\n' | '\n' } = {}): LocaltagExport {
  const limit = opts.limit ?? POOLMON_TAG_FILE_LIMIT;
  const eol = opts.eol ?? '\r\n';
  const candidates: { cls: number; hosts: number; key: string; tag: string; driver: string }[] = [];
  for (const t of tags) {
    if (!t.printable) continue; // `Fx.!` in a tag file would name another tag
    for (const o of t.owners) {
      if (o.source === 'pooltag.txt') {
        if (o.wildcard) continue;
        for (const b of o.binaries) candidates.push({ cls: 2, hosts: o.hosts, key: t.key, tag: t.tag, driver: b });
        continue;
      }
      if (t.shared) continue;
      const cls = o.source === 'string' ? 3 : o.confidence === 'high' ? 0 : 1;
      candidates.push({ cls, hosts: o.hosts, key: t.key, tag: t.tag, driver: o.owner });
    }
  }
  candidates.sort((a, b) => a.cls - b.cls || b.hosts - a.hosts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || (a.driver < b.driver ? -1 : a.driver > b.driver ? 1 : 0));

  const kept = zero();
  const left = zero();
  const invalid: LocaltagExport['invalid'] = [];
  const seen = new Set<string>();
  const lines: string[] = [];
  let bytes = 0;
  let full = false;
  for (const c of candidates) {
    const tag = c.tag.replace(/ +$/, '');
    const id = `${c.key}\0${c.driver.toLowerCase().replace(/\.sys$/, '')}`;
    if (seen.has(id)) continue; // the same (tag, driver) from a weaker class
    seen.add(id);
    let line: string;
    try {
      line = writeLocalTagTxt([{ tag, driver: c.driver }], { eol });
    } catch (err) {
      invalid.push({ tag: c.tag, driver: c.driver, reason: (err as Error).message });
      continue;
    }
    const cls = LOCALTAG_CLASSES[c.cls];
    if (full || bytes + line.length > limit) {
      full = true; // everything after the first line that does not fit is less useful
      left[cls]++;
      continue;
    }
    bytes += line.length;
    kept[cls]++;
    lines.push(line);
  }
  return { text: lines.join(''), bytes, limit, kept, left, invalid };
}
