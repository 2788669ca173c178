/**
 * The incremental scan cache: results by path + size + mtime, so that a rescan of an unchanged
 * folder reads no file. One JSON file, written atomically; a cache written by another tool
 * version, with other extraction settings or other routine tables is ignored (and replaced).
 * Entries are keyed by `pathKey`: on Windows a path typed in another case is the same file.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { pathKey } from '../platform/paths.js';
import { dataPath } from '../tag/routines.js';
import { VERSION } from '../version.js';
import { ENGINE_VERSION } from '../evidence/version.js';
import { writeFileAtomic } from '../report/write.js';
import type { ImageRecord } from '../report/types.js';

const CACHE_FORMAT = 'pooltag-scan-cache';
const CACHE_VERSION = 1;

export interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

interface CacheFile {
  format: typeof CACHE_FORMAT;
  cacheVersion: number;
  /** Tool version, extraction settings and a hash of the routine tables. */
  fingerprint: string;
  entries: Record<string, CacheEntry>;
  images: Record<string, ImageRecord>;
}

let dataHash: string | null = null;
/** The tables that decide what extraction finds: a change to them invalidates every result. */
function tablesHash(): string {
  if (dataHash) return dataHash;
  const h = createHash('sha256');
  for (const f of ['routines.json', 'shared-tags.json']) h.update(readFileSync(dataPath(f)));
  dataHash = h.digest('hex').slice(0, 16);
  return dataHash;
}

export function cacheFingerprint(minStringLength: number): string {
  return `${VERSION}|engine ${ENGINE_VERSION}|strings>=${minStringLength}|${tablesHash()}`;
}

export class ScanCache {
  private entries = new Map<string, CacheEntry>();
  private images = new Map<string, ImageRecord>();
  /** Why a cache file was not used; null when it was used or absent. */
  discarded: string | null = null;
  /** Something changed since the file was read: `save()` writes only then. */
  private dirty = false;

  private constructor(
    readonly file: string,
    private readonly fingerprint: string,
  ) {}

  static async open(file: string, minStringLength: number): Promise<ScanCache> {
    const c = new ScanCache(file, cacheFingerprint(minStringLength));
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return c; // no cache yet
    }
    try {
      const data = JSON.parse(text) as CacheFile;
      if (data?.format !== CACHE_FORMAT || data.cacheVersion !== CACHE_VERSION) c.discarded = 'not a pooltag scan cache of this version';
      else if (data.fingerprint !== c.fingerprint) c.discarded = `written by ${data.fingerprint}, this is ${c.fingerprint}`;
      else {
        for (const [k, v] of Object.entries(data.entries ?? {})) c.entries.set(k, v);
        for (const [k, v] of Object.entries(data.images ?? {})) c.images.set(k, v);
      }
    } catch (err) {
      c.discarded = `unreadable (${(err as Error).message})`;
    }
    return c;
  }

  /** The cached result for a file, if its size and mtime are unchanged. */
  lookup(path: string, size: number, mtimeMs: number): ImageRecord | null {
    const e = this.entries.get(pathKey(path));
    if (!e || e.size !== size || e.mtimeMs !== mtimeMs) return null;
    return this.images.get(e.sha256) ?? null;
  }

  image(sha256: string): ImageRecord | null {
    return this.images.get(sha256) ?? null;
  }

  /** Sizes of the cached images: a new file of one of these sizes may be a known image renamed. */
  imageSizes(): Set<number> {
    return new Set([...this.images.values()].map((i) => i.size));
  }

  set(path: string, size: number, mtimeMs: number, image: ImageRecord): void {
    const e = this.entries.get(pathKey(path));
    if (e && e.size === size && e.mtimeMs === mtimeMs && e.sha256 === image.sha256 && this.images.has(image.sha256)) return;
    this.entries.set(pathKey(path), { size, mtimeMs, sha256: image.sha256 });
    this.images.set(image.sha256, image);
    this.dirty = true;
  }

  forget(path: string): void {
    if (this.entries.delete(pathKey(path))) this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty && !this.discarded) return;
    // Images no path refers to any more are dropped.
    const used = new Set([...this.entries.values()].map((e) => e.sha256));
    const data: CacheFile = {
      format: CACHE_FORMAT,
      cacheVersion: CACHE_VERSION,
      fingerprint: this.fingerprint,
      entries: Object.fromEntries(this.entries),
      images: Object.fromEntries([...this.images].filter(([k]) => used.has(k))),
    };
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(data));
  }
}
