/**
 * A one-line progress bar on stderr, for terminals only: a scan piped into a file or run by
 * a fleet agent prints nothing extra.
 */
import type { ScanProgress } from '../scan/scan.js';
import { formatBytes } from './text.js';

export class ProgressBar {
  private lastLen = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  static forTerminal(quiet: boolean): ProgressBar | null {
    return !quiet && process.stderr.isTTY ? new ProgressBar() : null;
  }

  update(p: ScanProgress): void {
    const width = 24;
    const frac = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
    const fill = Math.round(Math.min(1, frac) * width);
    const secs = Math.max(p.elapsedMs / 1000, 0.001);
    const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${p.filesDone}/${p.filesTotal} files  ${(p.filesDone / secs).toFixed(0)} files/s  ${formatBytes(p.bytesDone / secs)}/s`;
    this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`);
    this.lastLen = line.length;
  }

  clear(): void {
    if (this.lastLen) this.stream.write(`\r${' '.repeat(this.lastLen)}\r`);
    this.lastLen = 0;
  }
}
