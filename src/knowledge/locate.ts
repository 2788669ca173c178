/**
 * Where the Debugging Tools for Windows install pooltag.txt. No registry, no network: the
 * well-known folders of the Windows Kits (10, 8.1, 8.0) for each debugger architecture, and
 * the WinDbg app's package folders. Under WSL the same below /mnt/c.
 */
import { existsSync, readdirSync } from 'node:fs';
import { posix, win32 } from 'node:path';

import { isWsl } from '../platform/paths.js';

type Env = Record<string, string | undefined>;

export interface PooltagLocation {
  path: string;
  /** `Windows Kits 10 x64`, `WinDbg 1.2402.24001.0 amd64`. */
  label: string;
}

export function pooltagCandidates(env: Env = process.env, platform = process.platform): PooltagLocation[] {
  let pf86: string;
  let pf: string;
  let path: typeof win32 | typeof posix;
  if (platform === 'win32') {
    pf86 = env['ProgramFiles(x86)'] ?? 'C:\\Program Files (x86)';
    pf = env.ProgramFiles ?? 'C:\\Program Files';
    path = win32;
  } else if (isWsl(env, platform)) {
    pf86 = '/mnt/c/Program Files (x86)';
    pf = '/mnt/c/Program Files';
    path = posix;
  } else {
    return [];
  }
  const out: PooltagLocation[] = [];
  for (const kit of ['10', '8.1', '8.0']) {
    for (const arch of ['x64', 'x86', 'arm64']) {
      out.push({ path: path.join(pf86, 'Windows Kits', kit, 'Debuggers', arch, 'triage', 'pooltag.txt'), label: `Windows Kits ${kit} ${arch}` });
    }
  }
  // The WinDbg app (Microsoft Store / winget): Program Files\WindowsApps\Microsoft.WinDbg_<version>_<arch>__8wekyb3d8bbwe\<arch>\triage
  const apps = path.join(pf, 'WindowsApps');
  try {
    for (const d of readdirSync(apps)) {
      const m = /^Microsoft\.WinDbg(?:\.Fast|\.Slow)?_([\d.]+)_/i.exec(d);
      if (!m) continue;
      for (const arch of ['amd64', 'x86', 'arm64']) out.push({ path: path.join(apps, d, arch, 'triage', 'pooltag.txt'), label: `WinDbg ${m[1]} ${arch}` });
    }
  } catch {
    // WindowsApps is not listable without rights, or absent
  }
  return out;
}

/** The candidates that exist. */
export function findInstalledPooltag(env: Env = process.env, platform = process.platform): PooltagLocation[] {
  return pooltagCandidates(env, platform).filter((c) => existsSync(c.path));
}
