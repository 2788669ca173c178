// A scan worker for tests of the pool's limits (a test-only fault hook): a file whose name
// contains "stall" never finishes, one whose name contains "crash" ends the worker thread,
// one whose name contains "boom" throws out of the task, one whose name contains "slow" takes
// 400 ms more to analyse (not to hash); every other file goes to the real worker. Loaded by piscina from the test, never by the product.
import realWorker from '../../dist/src/scan/worker.js';
import { BatchProgress } from '../../dist/src/scan/worker.js';

export default async function (task) {
  const progress = new BatchProgress(task.progress);
  const out = [];
  for (let i = 0; i < task.paths.length; i++) {
    const p = task.paths[i];
    if (p.includes('stall')) {
      progress.start(i);
      for (;;) {} // a decoder stuck in a loop
    }
    if (p.includes('crash')) {
      progress.start(i);
      process.exit(70); // in a worker thread this ends the thread only
    }
    if (p.includes('boom')) {
      progress.start(i);
      throw new RangeError('fault hook: an exception out of the worker task');
    }
    progress.start(i);
    if (p.includes('slow') && task.op === 'analyse') await new Promise((resolve) => setTimeout(resolve, 400));
    const [r] = await realWorker({ ...task, paths: [p], hashes: task.hashes ? [task.hashes[i]] : undefined, progress: new SharedArrayBuffer(16) });
    out.push(r);
    progress.finish();
  }
  return out;
}
