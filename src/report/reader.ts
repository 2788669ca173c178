/**
 * Reads the reports of a merge ahead of it, in worker threads (piscina), in the order given:
 * `get(i)` is report i made ready (merge-input.ts), and starts reading the next few. The main
 * thread is left to write the base; with one thread per core a fleet merge uses the machine.
 *
 * With `threads: 0` (or no compiled worker) the reports are read on the main thread, the disk
 * reads still ahead: a merge of a few reports does not pay for starting threads.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Piscina } from 'piscina';

import { packageRoot } from '../tag/routines.js';
import { mergeInputFromBytes, pathHashSeed, readErrorText, type MergeInput, type MergeInputError, type MergeInputMerged } from './merge-input.js';

export type ReadReport = MergeInput | MergeInputMerged | MergeInputError;

export interface ReportReaderOptions {
  /** Worker threads; 0 reads on the main thread. */
  threads: number;
  /** The bytes of `-` (stdin), read before. */
  stdin?: Buffer | null;
  /** SHA-256 of the report files merged before: those are read and hashed, not parsed. */
  merged?: readonly string[];
  /** Reports in flight at most (default: 4 per thread, at least 8). */
  ahead?: number;
}

/** The compiled worker piscina loads, dist/workers/report-worker-entry.cjs (CommonJS, importing the ES module), or null when it is not built. */
export function reportWorkerFile(): string | null {
  const f = join(packageRoot(), 'dist', 'workers', 'report-worker-entry.cjs');
  return existsSync(f) ? f : null;
}

export class ReportReader {
  private readonly pool: Piscina<string, ReadReport> | null;
  private readonly pending = new Map<number, Promise<ReadReport>>();
  private readonly ahead: number;

  constructor(
    private readonly files: readonly string[],
    private readonly opts: ReportReaderOptions,
  ) {
    const worker = opts.threads > 0 ? reportWorkerFile() : null;
    this.pool = worker
      ? new Piscina<string, ReadReport>({
          filename: worker,
          minThreads: opts.threads,
          maxThreads: opts.threads,
          idleTimeout: 1000,
          // the paths' hashes made with this thread's seed are the merge's cache keys
          workerData: { merged: opts.merged ?? [], seed: pathHashSeed() },
          // a hostile report that unpacks to gigabytes ends its thread, not the merge
          resourceLimits: { maxOldGenerationSizeMb: 2048 },
        })
      : null;
    this.ahead = opts.ahead ?? Math.max(8, 4 * opts.threads);
    this.merged = new Set(worker ? [] : (opts.merged ?? []));
  }

  private readonly merged: ReadonlySet<string>;

  /** Worker threads reading (0: the main thread reads). */
  get threads(): number {
    return this.pool ? this.opts.threads : 0;
  }

  private start(i: number): void {
    if (i >= this.files.length || this.pending.has(i)) return;
    const f = this.files[i];
    let p: Promise<ReadReport>;
    if (f === '-') p = Promise.resolve(mergeInputFromBytes(this.opts.stdin ?? Buffer.alloc(0), this.merged));
    else if (this.pool) p = this.pool.run(f).catch((err: Error) => ({ ok: false, message: `could not be read: ${err.message}` }) as const);
    else
      p = readFile(f).then(
        (raw) => mergeInputFromBytes(raw, this.merged),
        (err) => ({ ok: false, message: readErrorText(err) }) as const,
      );
    this.pending.set(i, p);
  }

  /** Report i, read and checked (or why not); reports are asked for in order. */
  async get(i: number): Promise<ReadReport> {
    for (let k = i; k < i + this.ahead; k++) this.start(k);
    const r = await this.pending.get(i)!;
    this.pending.delete(i);
    return r;
  }

  async close(): Promise<void> {
    this.pending.clear();
    await this.pool?.destroy();
  }
}
