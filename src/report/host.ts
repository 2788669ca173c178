import { arch, hostname, platform, release, type, version } from 'node:os';

import { isWsl } from '../platform/paths.js';
import type { HostInfo } from './types.js';

/** Who ran the scan: enough to tell hosts apart in a merged knowledge base. */
export function hostInfo(): HostInfo {
  const p = platform();
  const rel = release();
  let os: string;
  try {
    // On Windows os.version() is the edition ("Windows 10 Pro"); elsewhere a kernel build string.
    os = p === 'win32' ? version() : `${type()} ${rel}`;
  } catch {
    os = `${type()} ${rel}`;
  }
  const build = p === 'win32' ? Number(rel.split('.')[2]) : NaN;
  return { name: hostname(), platform: p, os, release: rel, windowsBuild: Number.isFinite(build) ? build : null, wsl: isWsl(), arch: arch() };
}
