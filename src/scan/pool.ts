/**
 * A piscina pool of scan workers, with what piscina does not do by itself: batches of files
 * per task, a time limit per file (not per batch), and a dead worker costing one file, not
 * its whole batch.
 *
 * Each batch shares a `BatchProgress` with its worker. A watchdog reads it: when one file has
 * run longer than the limit, the batch is aborted (piscina ends that thread and starts a new
 * one), the file gets a `timeout` error, and the other files of the batch are queued again.
 * A thread that dies (out of memory, a crash in native code) is handled the same way, with a
 * `worker-died` error for the file it was on.
 */
import { availableParallelism } from 'node:os';

import { Piscina } from 'piscina';

import type { FileError } from '../report/types.js';
import type { AnalyseOptions, FileOutcome, KnownHash } from './analyse.js';
import { BatchProgress, type TaskOp, type WorkerTask } from './worker.js';

export interface PoolItem {
  path: string;
  size: number;
  /** The file's SHA-256 and size when a hash pass already computed it (the analysis does not hash it again). */
  known?: KnownHash;
}

export interface PoolOptions {
  /** Worker threads (default: one per core). */
  jobs?: number;
  /** Per-file time limit in ms. */
  timeoutMs: number;
  analyse: AnalyseOptions;
  /** The worker module (compiled JS). Tests pass their own to exercise timeouts and crashes. */
  workerFile: string;
  /** Files per batch at most (default 16). */
  batchFiles?: number;
  /** Bytes per batch at most, unless one file is larger (default 32 MiB). */
  batchBytes?: number;
}

interface Running {
  op: TaskOp;
  items: PoolItem[];
  progress: BatchProgress;
  abort: AbortController;
  timedOut: number | null;
}

export class ScanPool {
  readonly jobs: number;
  private pool: Piscina<WorkerTask, FileOutcome[]> | null = null;
  private readonly running = new Set<Running>();
  private watchdog: NodeJS.Timeout | null = null;
  /** Files finished per operation (in finished batches), and their bytes. */
  private readonly finished = { hash: { files: 0, bytes: 0 }, analyse: { files: 0, bytes: 0 } };

  constructor(private readonly opts: PoolOptions) {
    this.jobs = Math.max(1, opts.jobs ?? availableParallelism());
  }

  /** Threads start on first use: a scan served from the cache starts none. */
  private get piscina(): Piscina<WorkerTask, FileOutcome[]> {
    this.pool ??= new Piscina<WorkerTask, FileOutcome[]>({
      filename: this.opts.workerFile,
      minThreads: this.jobs,
      maxThreads: this.jobs,
      idleTimeout: 1000,
      // A hostile file must not take the whole process down with it.
      resourceLimits: { maxOldGenerationSizeMb: 2048 },
    });
    return this.pool;
  }

  /**
   * Files and bytes `op` has finished so far (for the progress bar): a file hashed to find
   * copies is not analysed yet, so the two are counted apart.
   */
  progress(op: TaskOp): { files: number; bytes: number } {
    let { files, bytes } = this.finished[op];
    for (const r of this.running) {
      if (r.op !== op) continue;
      const done = Math.min(r.progress.done, r.items.length);
      files += done;
      for (let i = 0; i < done; i++) bytes += r.items[i].size;
    }
    return { files, bytes };
  }

  private batches(items: PoolItem[]): PoolItem[][] {
    const maxFiles = this.opts.batchFiles ?? 16;
    const maxBytes = this.opts.batchBytes ?? 32 * 1024 * 1024;
    // Largest first, so that one big file does not finish alone at the end.
    const sorted = [...items].sort((a, b) => b.size - a.size);
    const out: PoolItem[][] = [];
    let cur: PoolItem[] = [];
    let bytes = 0;
    for (const it of sorted) {
      if (cur.length > 0 && (cur.length >= maxFiles || bytes + it.size > maxBytes)) {
        out.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(it);
      bytes += it.size;
    }
    if (cur.length) out.push(cur);
    return out;
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const r of this.running) {
        const i = r.progress.current;
        if (i >= 0 && r.timedOut === null && r.progress.done <= i && now - r.progress.startedAt > this.opts.timeoutMs) {
          r.timedOut = i;
          r.abort.abort();
        }
      }
    }, Math.min(100, Math.max(10, this.opts.timeoutMs / 4)));
    this.watchdog.unref();
  }

  /** Runs `op` over every item; resolves with one outcome per path. Never rejects for a bad file. */
  async run(op: TaskOp, items: PoolItem[]): Promise<Map<string, FileOutcome>> {
    const results = new Map<string, FileOutcome>();
    if (items.length === 0) return results;
    this.startWatchdog();
    const runBatch = async (batch: PoolItem[]): Promise<void> => {
      const r: Running = { op, items: batch, progress: BatchProgress.create(), abort: new AbortController(), timedOut: null };
      this.running.add(r);
      try {
        const out = await this.piscina.run(
          { op, paths: batch.map((b) => b.path), hashes: batch.map((b) => b.known ?? null), opts: this.opts.analyse, progress: r.progress.buffer },
          { signal: r.abort.signal },
        );
        batch.forEach((b, i) => results.set(b.path, out[i]));
        this.running.delete(r);
        this.finished[op].files += batch.length;
        for (const b of batch) this.finished[op].bytes += b.size;
      } catch (err) {
        this.running.delete(r);
        const at = r.timedOut ?? r.progress.current;
        if (at < 0) {
          // The thread failed before it took the first file: nothing to blame on a file.
          const error: FileError = { code: 'worker-died', message: `scan worker failed before reading the file: ${describe(err)}` };
          for (const b of batch) results.set(b.path, { kind: 'error', size: b.size, error });
          this.finished[op].files += batch.length;
          for (const b of batch) this.finished[op].bytes += b.size;
          return;
        }
        const culprit = batch[at];
        const error: FileError =
          r.timedOut !== null
            ? { code: 'timeout', message: `analysis took longer than ${this.opts.timeoutMs} ms (--timeout); the worker was stopped` }
            : { code: 'worker-died', message: `the scan worker died while reading this file: ${describe(err)}` };
        results.set(culprit.path, { kind: 'error', size: culprit.size, error });
        this.finished[op].files += 1;
        this.finished[op].bytes += culprit.size;
        // The rest of the batch (done or not: a dead thread's results are lost) runs again.
        const again = batch.filter((_, i) => i !== at);
        await Promise.all(this.batches(again).map(runBatch));
      }
    };
    await Promise.all(this.batches(items).map(runBatch));
    return results;
  }

  async close(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const p = this.pool;
    this.pool = null;
    if (p) await p.destroy();
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`;
  return String(err);
}
