/**
 * Where pooltag keeps its files, per platform, and where Windows keeps drivers.
 * No network, no registry: environment variables and well-known folders only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, win32 } from 'node:path';

type Env = Record<string, string | undefined>;

/** Per-user cache folder: %LOCALAPPDATA%\pooltag\Cache, ~/Library/Caches/pooltag, $XDG_CACHE_HOME/pooltag. */
export function userCacheDir(env: Env = process.env, platform = process.platform): string {
  if (platform === 'win32') return win32.join(env.LOCALAPPDATA ?? win32.join(homedir(), 'AppData', 'Local'), 'pooltag', 'Cache');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'pooltag');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pooltag');
}

/** Per-user data folder: %LOCALAPPDATA%\pooltag, ~/Library/Application Support/pooltag, $XDG_DATA_HOME/pooltag. */
export function userDataDir(env: Env = process.env, platform = process.platform): string {
  if (platform === 'win32') return win32.join(env.LOCALAPPDATA ?? win32.join(homedir(), 'AppData', 'Local'), 'pooltag');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'pooltag');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'pooltag');
}

/** True under the Windows Subsystem for Linux (the Windows drive is at /mnt/c). */
export function isWsl(env: Env = process.env, platform = process.platform): boolean {
  if (platform !== 'linux') return false;
  if (env.WSL_DISTRO_NAME) return true;
  try {
    return /microsoft|wsl/i.test(readFileSync('/proc/sys/kernel/osrelease', 'utf8'));
  } catch {
    return false;
  }
}

export class NoDefaultRootsError extends Error {}

/**
 * The folders a scan reads when given no path: the loaded drivers and the DriverStore.
 * On Windows under %SystemRoot%; under WSL the same below /mnt/c; elsewhere an error that
 * says what to pass.
 */
export function defaultDriverRoots(env: Env = process.env, platform = process.platform): string[] {
  if (platform === 'win32') {
    const root = env.SystemRoot ?? env.windir ?? 'C:\\Windows';
    return [win32.join(root, 'System32', 'drivers'), win32.join(root, 'System32', 'DriverStore', 'FileRepository')];
  }
  if (isWsl(env, platform)) {
    const roots = ['/mnt/c/Windows/System32/drivers', '/mnt/c/Windows/System32/DriverStore/FileRepository'];
    if (roots.some((r) => existsSync(r))) return roots;
    throw new NoDefaultRootsError('running under WSL, but /mnt/c/Windows/System32 is not mounted; pass the drivers folder, e.g. pooltag scan /mnt/d/Windows/System32/drivers');
  }
  throw new NoDefaultRootsError(
    `no default driver folders on ${platform}: pass the folders to scan, e.g. \`pooltag scan /mnt/windows/Windows/System32/drivers\` for a mounted Windows disk, or a folder of collected drivers`,
  );
}

/**
 * The folder whose top level a default scan also reads for the kernel's own images:
 * System32 (ntoskrnl.exe, hal.dll, and the NATIVE-subsystem DLLs such as ci.dll, cng.sys,
 * clfs.sys). Only its top level: its subfolders are not kernel images (drivers\ and the
 * DriverStore are roots of their own). Empty where there is no default.
 */
export function defaultKernelRoots(env: Env = process.env, platform = process.platform): string[] {
  if (platform === 'win32') return [win32.join(env.SystemRoot ?? env.windir ?? 'C:\\Windows', 'System32')];
  if (isWsl(env, platform) && existsSync('/mnt/c/Windows/System32')) return ['/mnt/c/Windows/System32'];
  return [];
}

/**
 * Whether this process follows Windows conventions for file arguments and paths: on Windows,
 * or when POOLTAG_WINDOWS_CONVENTIONS=1 (tests on Linux use it to run the Windows behaviour).
 */
export function windowsConventions(env: Env = process.env, platform = process.platform): boolean {
  return platform === 'win32' || env.POOLTAG_WINDOWS_CONVENTIONS === '1';
}

/**
 * The key that identifies a file by its path: Windows file names do not differ by case
 * (`C:\WINDOWS\System32\drivers\NDIS.SYS` is `C:\Windows\system32\drivers\ndis.sys`), so
 * there the key is the path upper-cased (as NTFS compares) with forward slashes as backslashes;
 * elsewhere the path itself.
 */
export function pathKey(path: string, ignoreCase = windowsConventions()): string {
  return ignoreCase ? path.replace(/\//g, '\\').toUpperCase() : path;
}

/** A path as Windows writes it: a drive letter (`C:\`, `c:/`) or a UNC share (`\\server\share`). */
export function isWindowsPath(path: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(path) || /^\\\\[^\\]/.test(path);
}
