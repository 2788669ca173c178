/**
 * `scan()`: folders in, a `ScanReport` out. The stages in order:
 *   discover (fast-glob) -> stat -> cache -> find duplicates -> analyse in workers -> report.
 *
 * Duplicates: a file whose size no other file (and no cached image) shares cannot be a copy
 * and goes straight to analysis (read, hash and analyse in one pass). Files that share a size
 * are hashed first, and each distinct SHA-256 is analysed once; every path is still reported.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { discover, DEFAULT_INCLUDE, type Candidate } from '../discover/discover.js';
import { defaultDriverRoots, defaultKernelRoots, NoDefaultRootsError, userCacheDir } from '../platform/paths.js';
import { hostInfo } from '../report/host.js';
import { REPORT_FORMAT, REPORT_SCHEMA_VERSION, type FileEntry, type ImageRecord, type ScanReport } from '../report/types.js';
import { packageRoot } from '../tag/routines.js';
import { VERSION } from '../version.js';
import type { FileOutcome } from './analyse.js';
import { ScanCache } from './cache.js';
import { ScanPool, type PoolItem } from './pool.js';

export interface ScanOptions {
  /** Files and folders; none = the platform's driver folders. */
  paths?: string[];
  include?: string[];
  exclude?: string[];
  /** Worker threads (default: one per core). */
  jobs?: number;
  /** Bytes; larger files are reported as `too-large` (default 256 MiB). */
  maxFileSize?: number;
  /** Per-file analysis limit in ms (default 120 s). */
  timeoutMs?: number;
  minStringLength?: number;
  /** Cache file; `null` disables the cache; undefined = the default in the user's cache folder. */
  cache?: string | null;
  /** Re-hash every file, even when size and mtime say it is unchanged. */
  verify?: boolean;
  /**
   * Hashes of images the base already holds (`pooltag export --format known`): every file is
   * hashed, and one of these is reported as inventory only (`known: true`, no image record).
   */
  known?: ReadonlySet<string> | null;
  /** Called a few times a second while files are read. */
  onProgress?: (p: ScanProgress) => void;
  /**
   * Told what a default scan left out: a default folder this machine does not have (no
   * DriverStore) is skipped with a note, not reported as an error.
   */
  onNote?: (message: string) => void;
  /** The compiled worker module (tests substitute their own). */
  workerFile?: string;
}

export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
}

export const DEFAULTS = {
  maxFileSize: 256 * 1024 * 1024,
  timeoutMs: 120_000,
  minStringLength: 4,
};

export function defaultCacheFile(): string {
  return join(userCacheDir(), 'scan-cache.json');
}

/**
 * The compiled worker piscina loads, dist/workers/scan-worker-entry.cjs (also when this module
 * runs from src/ under vitest): CommonJS, which imports the worker's ES module (see there why).
 */
export function defaultWorkerFile(): string {
  const f = join(packageRoot(), 'dist', 'workers', 'scan-worker-entry.cjs');
  if (!existsSync(f)) throw new Error('the compiled scan worker (dist/workers/scan-worker-entry.cjs) is missing: run `npm run build`');
  return f;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The default folders that exist here; each missing one is a note. None at all is an error. */
export function presentRoots(roots: string[], onNote?: (message: string) => void): string[] {
  const present = roots.filter((r) => existsSync(r));
  for (const r of roots) if (!present.includes(r)) onNote?.(`${r} does not exist on this machine; skipped`);
  if (present.length === 0) throw new NoDefaultRootsError(`none of the default driver folders exists (${roots.join(', ')}); pass the folders to scan`);
  return present;
}

export async function scan(options: ScanOptions = {}): Promise<ScanReport> {
  const t0 = performance.now();
  const startedAt = new Date();
  // No path: the drivers, the DriverStore, and System32's top level for the kernel's images.
  const kernelRoots = options.paths?.length ? [] : defaultKernelRoots();
  const roots = options.paths?.length ? options.paths : presentRoots([...defaultDriverRoots(), ...kernelRoots], options.onNote);
  const analyse = {
    maxFileSize: options.maxFileSize ?? DEFAULTS.maxFileSize,
    minStringLength: options.minStringLength ?? DEFAULTS.minStringLength,
  };
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const cacheFile = options.cache === undefined ? defaultCacheFile() : options.cache;
  const verify = !!options.verify;

  const candidates = await discover(roots, { include: options.include, exclude: options.exclude, shallow: kernelRoots });
  const cache = cacheFile ? await ScanCache.open(cacheFile, analyse.minStringLength) : null;
  const pool = new ScanPool({ jobs: options.jobs, timeoutMs, analyse, workerFile: options.workerFile ?? defaultWorkerFile() });

  // What each path turned into: an image (by hash) or an error.
  const outcome = new Map<string, { sha256: string; cached: boolean; known?: boolean } | { error: FileEntry['error'] }>();
  const knownList = options.known ?? null;
  const images = new Map<string, ImageRecord>();
  const todo: (Candidate & { size: number; mtimeMs: number })[] = [];

  for (const c of candidates) {
    if (c.problem) outcome.set(c.path, { error: c.problem });
    else if (c.size === 0) outcome.set(c.path, { error: { code: 'empty', message: 'file is empty (0 bytes)' } });
    else if (c.size! > analyse.maxFileSize) outcome.set(c.path, { error: { code: 'too-large', message: `file of ${c.size} bytes is over the ${analyse.maxFileSize}-byte limit (--max-size)` } });
    else {
      const hit = !verify && cache ? cache.lookup(c.path, c.size!, c.mtimeMs!) : null;
      if (hit && knownList?.has(hit.sha256)) outcome.set(c.path, { sha256: hit.sha256, cached: true, known: true });
      else if (hit) {
        outcome.set(c.path, { sha256: hit.sha256, cached: true });
        images.set(hit.sha256, hit);
      } else todo.push(c as Candidate & { size: number; mtimeMs: number });
    }
  }

  // Which files might be copies of another: same size as another file or a cached image.
  const sizeCount = new Map<number, number>();
  for (const c of todo) sizeCount.set(c.size, (sizeCount.get(c.size) ?? 0) + 1);
  const cachedSizes = cache ? cache.imageSizes() : new Set<number>();
  const direct: PoolItem[] = [];
  const hashFirst: PoolItem[] = [];
  // With a known list every file is hashed first: a known image is not analysed at all.
  for (const c of todo) (verify || knownList || sizeCount.get(c.size)! > 1 || cachedSizes.has(c.size) ? hashFirst : direct).push({ path: c.path, size: c.size });

  const filesTotal = candidates.length;
  const bytesTotal = todo.reduce((s, c) => s + c.size, 0);
  const preDone = filesTotal - todo.length;
  let timer: NodeJS.Timeout | null = null;
  /** Files of the hash pass that need no analysis (copies, cached images, errors), and their bytes. */
  const settled = { files: 0, bytes: 0 };
  const report = () => {
    if (!options.onProgress) return;
    // A file is done when its outcome is known: analysed, or settled by its hash. Hashing
    // alone is not done (the bar would reach the end long before the analysis does).
    const p = pool.progress('analyse');
    options.onProgress({
      filesDone: Math.min(filesTotal, preDone + settled.files + p.files),
      filesTotal,
      bytesDone: Math.min(bytesTotal, settled.bytes + p.bytes),
      bytesTotal,
      elapsedMs: performance.now() - t0,
    });
  };
  if (options.onProgress) {
    timer = setInterval(report, 200);
    timer.unref();
  }

  let bytesAnalysed = 0;
  const take = (path: string, o: FileOutcome, cachedImage = false) => {
    if (o.kind === 'error') outcome.set(path, { error: o.error });
    else if (o.kind === 'image') {
      images.set(o.sha256, o.image);
      outcome.set(path, { sha256: o.sha256, cached: cachedImage });
      bytesAnalysed += o.size;
    }
  };

  try {
    const hashed = (async () => {
      const hashes = await pool.run('hash', hashFirst);
      const firstOf = new Map<string, PoolItem>();
      const waiting: [PoolItem, string][] = [];
      const settle = (it: PoolItem) => {
        settled.files++;
        settled.bytes += it.size;
      };
      for (const it of hashFirst) {
        const h = hashes.get(it.path)!;
        if (h.kind !== 'hash') {
          take(it.path, h);
          settle(it);
          continue;
        }
        if (knownList?.has(h.sha256)) {
          outcome.set(it.path, { sha256: h.sha256, cached: false, known: true });
          settle(it);
          continue;
        }
        const known = cache?.image(h.sha256);
        if (known) {
          images.set(h.sha256, known);
          outcome.set(it.path, { sha256: h.sha256, cached: true });
          settle(it);
          continue;
        }
        // The first file of each hash is analysed, without hashing it a second time.
        if (!firstOf.has(h.sha256)) firstOf.set(h.sha256, { ...it, known: { sha256: h.sha256, size: h.size } });
        else settle(it); // a copy: done when its first is (counted now: its bytes are not analysed again)
        waiting.push([it, h.sha256]);
      }
      const analysed = await pool.run('analyse', [...firstOf.values()]);
      for (const [it, sha] of waiting) {
        const first = firstOf.get(sha)!;
        const o = analysed.get(first.path)!;
        if (first.path === it.path) take(it.path, o);
        else if (o.kind === 'image') outcome.set(it.path, { sha256: o.sha256, cached: false });
        else if (o.kind === 'error') outcome.set(it.path, { error: o.error }); // same bytes, same failure
      }
    })();
    const directly = pool.run('analyse', direct).then((m) => {
      for (const [path, o] of m) take(path, o);
    });
    await Promise.all([hashed, directly]);
  } finally {
    if (timer) clearInterval(timer);
    await pool.close();
  }
  report();

  const files: FileEntry[] = candidates.map((c) => {
    const o = outcome.get(c.path)!;
    const base = { path: c.path, size: c.size, mtime: iso(c.mtimeMs) };
    if ('error' in o) return { ...base, sha256: null, error: o.error };
    return { ...base, sha256: o.sha256, ...(o.cached ? { cached: true } : {}), ...(o.known ? { known: true } : {}) };
  });

  if (cache) {
    for (const c of candidates) {
      const o = outcome.get(c.path)!;
      if ('sha256' in o) {
        // an inventory-only file has no image record to cache: a cached one stays as it was
        const img = images.get(o.sha256);
        if (img) cache.set(c.path, c.size!, c.mtimeMs!, img);
      } else cache.forget(c.path);
    }
    await cache.save();
  }

  const used = new Set(files.map((f) => f.sha256).filter((s): s is string => !!s));
  const imageList = [...images.values()].filter((i) => used.has(i.sha256)).sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
  const tags = new Set<string>();
  let imagesWithTags = 0;
  for (const img of imageList) {
    const own = img.evidence.filter((e) => !e.shared);
    if (own.length) imagesWithTags++;
    for (const e of own) tags.add(e.ulong);
  }
  const ok = files.filter((f) => !f.error);
  const durationMs = performance.now() - t0;
  return {
    format: REPORT_FORMAT,
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'pooltag', version: VERSION },
    host: hostInfo(),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: {
      roots,
      include: options.include?.length ? options.include : DEFAULT_INCLUDE,
      exclude: options.exclude ?? [],
      jobs: pool.jobs,
      maxFileSize: analyse.maxFileSize,
      timeoutMs,
      minStringLength: analyse.minStringLength,
      cache: cacheFile,
      verify,
    },
    summary: {
      files: files.length,
      scanned: ok.length,
      errors: files.length - ok.length,
      cached: files.filter((f) => f.cached).length,
      ...(knownList ? { known: files.filter((f) => f.known).length } : {}),
      images: imageList.length,
      imagesWithTags,
      distinctTags: tags.size,
      bytes: ok.reduce((s, f) => s + (f.size ?? 0), 0),
      bytesAnalysed,
      durationMs: Math.round(durationMs),
    },
    files,
    images: imageList,
  };
}
