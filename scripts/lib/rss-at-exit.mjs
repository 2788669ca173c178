// Preloaded (`node --import`) into a benchmarked process: at exit, writes its peak RSS
// (worker threads included: they share the process) and CPU time to $POOLTAG_BENCH_RSS_FILE.
import { writeFileSync } from 'node:fs';

const out = process.env.POOLTAG_BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const ru = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRSSKB: ru.maxRSS, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000 }));
  });
}
