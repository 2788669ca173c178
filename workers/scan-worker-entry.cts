/**
 * The file piscina loads for a scan worker thread. It is CommonJS on purpose: piscina loads a
 * worker with require() first, and require() of an ES module (Node 20.19+, 22.12+) can abort
 * the whole process with "v8::Module::IsGraphAsync must be used on an instantiated module"
 * (a race in Node's loader: about 1 scan in 50 on a loaded machine). The worker's code, an ES
 * module (scan-worker.ts), is imported here once, with import().
 */
import type { FileOutcome } from '../src/scan/analyse.js';
import type { WorkerTask } from '../src/scan/worker.js';

let handler: ((task: WorkerTask) => Promise<FileOutcome[]>) | undefined;

async function runTask(task: WorkerTask): Promise<FileOutcome[]> {
  handler ??= ((await import('./scan-worker.js')) as { default: (task: WorkerTask) => Promise<FileOutcome[]> }).default;
  return handler(task);
}

export = runTask;
