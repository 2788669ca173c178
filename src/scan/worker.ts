/**
 * The body of a scan worker thread (piscina runs `workers/scan-worker.ts`, which re-exports
 * this). A task is a batch of paths; the worker reports which file it is on through a small
 * shared buffer, so that the pool can enforce a per-file time limit and, if the thread dies,
 * knows which file killed it.
 */
import { analyseFile, hashOneFile, type AnalyseOptions, type FileOutcome, type KnownHash } from './analyse.js';

export type TaskOp = 'analyse' | 'hash';

export interface WorkerTask {
  op: TaskOp;
  paths: string[];
  /** For `analyse`: each file's SHA-256 when the hash pass computed it already (null: hash it). */
  hashes?: (KnownHash | null)[];
  opts: AnalyseOptions;
  /** `BatchProgress` layout: Int32 [0] index of the file being read (-1 before the first), [1] files done; Float64 [1] start time (ms since the epoch) of the current file. */
  progress: SharedArrayBuffer;
}

export const PROGRESS_BYTES = 16;

export class BatchProgress {
  readonly ints: Int32Array;
  readonly times: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer, 0, 2);
    this.times = new Float64Array(buffer, 8, 1);
  }
  /** A fresh progress record, before any file started. */
  static create(): BatchProgress {
    const p = new BatchProgress(new SharedArrayBuffer(PROGRESS_BYTES));
    p.ints[0] = -1;
    return p;
  }
  start(index: number): void {
    this.times[0] = Date.now();
    Atomics.store(this.ints, 0, index);
  }
  finish(): void {
    Atomics.add(this.ints, 1, 1);
  }
  get current(): number {
    return Atomics.load(this.ints, 0);
  }
  get done(): number {
    return Atomics.load(this.ints, 1);
  }
  get startedAt(): number {
    return this.times[0];
  }
}

export default async function runTask(task: WorkerTask): Promise<FileOutcome[]> {
  const progress = new BatchProgress(task.progress);
  const opts = { ...task.opts, reuseBuffer: true };
  const out: FileOutcome[] = [];
  for (let i = 0; i < task.paths.length; i++) {
    progress.start(i);
    out.push(task.op === 'hash' ? await hashOneFile(task.paths[i], opts) : await analyseFile(task.paths[i], opts, task.hashes?.[i] ?? null));
    progress.finish();
  }
  return out;
}
