// A real-world PE corpus for development checks: Debian's `libwine` package (about 690
// x86-64 Windows DLLs, EXEs and drivers built by mingw), plus a few tiny Debian
// packages (architecture "all") that ship 32-bit x86 PE files, because the amd64 libwine
// package has an empty `i386-windows` folder and `libwine:i386` would need
// `dpkg --add-architecture i386` on the machine.
//
// Everything is cached OUTSIDE the repository:
//   ${POOLTAG_WINE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pooltag-dev/wine}/
//     debs/            the downloaded .deb files (kept: re-extracting needs no network)
//     root/<package>/  each package extracted with `dpkg -x`
//     root/.complete   marker (JSON) written last; when it is there and names the same
//                      packages, the cache is reused without touching the network.
//
// Nothing here executes a PE file: files are only read.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The package the check is about. It must yield at least MIN_MAIN_PE_FILES PE files. */
export const MAIN_PACKAGE = 'libwine';
/** Small "Architecture: all" packages that add 32-bit x86 PE coverage (~50 PE32 files, <2 MB). */
export const EXTRA_PACKAGES = ['nsis-common', 'win32-loader', 'libz-mingw-w64'];
export const PACKAGES = [MAIN_PACKAGE, ...EXTRA_PACKAGES];
export const MIN_MAIN_PE_FILES = 500;

const MARKER = '.complete';
const MARKER_FORMAT = 1;

export class WineCorpusError extends Error {
  constructor(message) {
    super(message);
    this.name = 'WineCorpusError';
  }
}

/** The cache folder (not created). */
export function wineCacheDir(env = process.env) {
  if (env.POOLTAG_WINE_DIR) return path.resolve(env.POOLTAG_WINE_DIR);
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'pooltag-dev', 'wine');
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function run(cmd, args, opts = {}) {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
    return { ok: true, out, err: '' };
  } catch (e) {
    if (e.code === 'ENOENT') return { ok: false, missing: true, out: '', err: `${cmd}: command not found` };
    return { ok: false, out: String(e.stdout ?? ''), err: String(e.stderr ?? e.message).trim() };
  }
}

const lastLines = (s, n = 6) => s.split('\n').filter(Boolean).slice(-n).join('\n');

function findDeb(debDir, pkg) {
  if (!fs.existsSync(debDir)) return null;
  // Debian file names: <package>_<version>_<arch>.deb (the version may be URL-encoded).
  const hits = fs.readdirSync(debDir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort();
  return hits.length ? path.join(debDir, hits[hits.length - 1]) : null;
}

/** Downloads the packages that are not in debDir yet (one `apt-get update` at most). */
function downloadDebs(debDir, packages, log) {
  const wanted = packages.filter((p) => !findDeb(debDir, p));
  if (!wanted.length) return;
  fs.mkdirSync(debDir, { recursive: true });
  // As root, apt drops to the `_apt` user to download, which cannot write into a folder
  // under /root: say so up front instead of getting a warning on every download.
  const aptArgs = [...(isRoot() ? ['-o', 'APT::Sandbox::User=root'] : []), '-q', 'download', ...wanted];
  log(`wine corpus: apt-get download ${wanted.join(' ')} -> ${debDir}`);
  let r = run('apt-get', aptArgs, { cwd: debDir });
  if (r.missing) {
    throw new WineCorpusError(
      'wine corpus: `apt-get` was not found. The check downloads the Debian packages ' +
        `${packages.join(', ')} with apt, so it needs a Debian/Ubuntu machine (as CI is). ` +
        'Or copy a complete cache folder (with its root/.complete) from such a machine and point POOLTAG_WINE_DIR at it.',
    );
  }
  if (!r.ok) {
    log(`wine corpus: apt-get download failed (${lastLines(r.err, 2)}); running apt-get update once and retrying`);
    const u = run('apt-get', ['-q', 'update']);
    if (!u.ok) {
      throw new WineCorpusError(
        `wine corpus: \`apt-get download ${wanted.join(' ')}\` failed:\n${lastLines(r.err)}\n` +
          `and \`apt-get update\` failed too:\n${lastLines(u.err)}\n` +
          (isRoot()
            ? 'Fix: make the Debian package repositories reachable (check /etc/apt/sources.list*), then rerun.'
            : 'Fix: run `sudo apt-get update` (updating package lists needs root), then rerun.'),
      );
    }
    r = run('apt-get', aptArgs, { cwd: debDir });
    if (!r.ok) {
      throw new WineCorpusError(
        `wine corpus: \`apt-get download ${wanted.join(' ')}\` failed even after \`apt-get update\`:\n${lastLines(r.err)}\n` +
          'Fix: make sure these packages exist for this Debian release (`apt-cache policy ' +
          `${wanted.join(' ')}\`) and that the Debian mirror is reachable.`,
      );
    }
  }
  const still = packages.filter((p) => !findDeb(debDir, p));
  if (still.length) {
    throw new WineCorpusError(`wine corpus: apt-get download reported success but no .deb for ${still.join(', ')} is in ${debDir}`);
  }
}

function debVersion(deb) {
  const r = run('dpkg-deb', ['-f', deb, 'Version']);
  return r.ok ? r.out.trim() : path.basename(deb);
}

function readMarker(root) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, MARKER), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * PE probe: the first bytes are `MZ` and `PE\0\0` is at e_lfanew. Returns the COFF
 * machine, section count and optional-header magic read directly from the file (an
 * independent cross-check for the reader), or null when the file is not a PE image.
 */
export function probePe(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const dos = Buffer.alloc(64);
    if (fs.readSync(fd, dos, 0, 64, 0) < 64 || dos[0] !== 0x4d || dos[1] !== 0x5a) return null;
    const lfanew = dos.readUInt32LE(0x3c);
    const nt = Buffer.alloc(4 + 20 + 2);
    if (fs.readSync(fd, nt, 0, nt.length, lfanew) < nt.length) return null;
    if (nt.readUInt32LE(0) !== 0x00004550) return null;
    return {
      machine: nt.readUInt16LE(4),
      numberOfSections: nt.readUInt16LE(6),
      sizeOfOptionalHeader: nt.readUInt16LE(20),
      magic: nt.readUInt16LE(24),
    };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function* walk(dir) {
  for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) yield* walk(p);
    else if (ent.isFile()) yield p; // symlinks are skipped: their targets are listed anyway
  }
}

/** All PE files under dir, sorted by path. */
export function listPeFiles(dir) {
  const out = [];
  for (const f of walk(dir)) if (probePe(f)) out.push(f);
  return out;
}

/** Which package a file of the corpus came from (its first folder under root). */
export function packageOf(root, file) {
  return path.relative(root, file).split(path.sep)[0];
}

/**
 * Makes sure the corpus is downloaded and extracted, and lists its PE files.
 * @returns {{ dir: string, files: string[], packages: Record<string,string>, mainFiles: number, cached: boolean }}
 *   `dir` is the extraction root (one sub-folder per package); `files` are absolute
 *   paths sorted by path. Throws WineCorpusError with what failed and how to fix it.
 */
export function ensureWineCorpus({ log = (m) => console.error(m) } = {}) {
  const cacheDir = wineCacheDir();
  const root = path.join(cacheDir, 'root');
  const debDir = path.join(cacheDir, 'debs');
  let marker = readMarker(root);
  const fresh = !(
    marker &&
    marker.format === MARKER_FORMAT &&
    PACKAGES.every((p) => marker.packages?.[p]) &&
    Object.keys(marker.packages).length === PACKAGES.length
  );
  if (fresh) {
    fs.mkdirSync(cacheDir, { recursive: true });
    downloadDebs(debDir, PACKAGES, log);
    const tmp = path.join(cacheDir, `root.tmp-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    const packages = {};
    for (const pkg of PACKAGES) {
      const deb = findDeb(debDir, pkg);
      const dest = path.join(tmp, pkg);
      fs.mkdirSync(dest, { recursive: true });
      log(`wine corpus: dpkg -x ${path.basename(deb)}`);
      const r = run('dpkg', ['-x', deb, dest]);
      if (!r.ok) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw new WineCorpusError(
          `wine corpus: \`dpkg -x ${deb}\` failed:\n${lastLines(r.err)}\n` +
            (r.missing ? 'Fix: this needs dpkg (Debian/Ubuntu).' : `Fix: delete ${deb} (it may be truncated) and rerun.`),
        );
      }
      packages[pkg] = debVersion(deb);
    }
    fs.rmSync(root, { recursive: true, force: true });
    fs.renameSync(tmp, root);
    marker = { format: MARKER_FORMAT, packages, created: new Date().toISOString() };
    fs.writeFileSync(path.join(root, MARKER), JSON.stringify(marker, null, 2) + '\n');
  }
  const files = listPeFiles(root);
  const mainFiles = files.filter((f) => packageOf(root, f) === MAIN_PACKAGE).length;
  if (mainFiles < MIN_MAIN_PE_FILES) {
    throw new WineCorpusError(
      `wine corpus: only ${mainFiles} PE files found in ${path.join(root, MAIN_PACKAGE)} (expected at least ${MIN_MAIN_PE_FILES}). ` +
        `The package layout may have changed or the cache is damaged: delete ${cacheDir} and rerun.`,
    );
  }
  return { dir: root, files, packages: marker.packages, mainFiles, cached: !fresh };
}
