/**
 * The entry of pooltag.exe: a Node.js single executable application (SEA) built by
 * `npm run build:exe` (scripts/build-exe.mjs) around this module and the CLI, bundled.
 *
 * The executable carries, as SEA assets, the files the package reads from its own folder
 * (data/, the scan worker, the x86 decoder's WebAssembly, lunr's script for the HTML export)
 * and the SQLite addon. A worker thread and a native addon must be files on disk, so on first
 * use they are written once into a folder of their own, named after the build
 * (%LOCALAPPDATA%\pooltag\Cache\exe\<version>-<build>, else the temporary folder), laid out as
 * the package is: the bundled code then finds its data, its worker and its decoder there as it
 * does in an installed package. The folder is written under a temporary name and renamed when
 * complete, so two pooltag.exe starting at once never see half of it.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { userCacheDir } from '../platform/paths.js';

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
  getAsset(key: string, encoding: string): string;
}

/** What the build put in the executable (asset `manifest.json`). */
interface ExeManifest {
  version: string;
  /** A digest of every asset: a new build gets a new folder. */
  build: string;
  /** Asset names, each a path relative to the package folder (forward slashes). */
  files: string[];
  /** The SQLite addon, relative to the package folder. */
  sqliteAddon: string;
  /** piscina's worker script, relative to the package folder. */
  piscinaWorker: string;
}

declare global {
  var __pooltagModuleUrl: string | undefined;
  var __pooltagPiscinaWorker: string | undefined;
}

/** Writes the package folder when it is not there yet; returns it. */
export function unpack(sea: SeaModule, manifest: ExeManifest): string {
  const name = `${manifest.version}-${manifest.build}`;
  for (const base of [join(userCacheDir(), 'exe'), join(tmpdir(), 'pooltag-exe')]) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
    const part = `${dir}.part-${process.pid}`;
    try {
      for (const f of manifest.files) {
        const to = join(part, ...f.split('/'));
        mkdirSync(dirname(to), { recursive: true });
        writeFileSync(to, new Uint8Array(sea.getAsset(f)));
      }
      // last: its presence says the folder is complete
      writeFileSync(join(part, 'package.json'), JSON.stringify({ name: 'pooltag', version: manifest.version, private: true }));
      try {
        renameSync(part, dir);
      } catch (err) {
        rmSync(part, { recursive: true, force: true });
        if (!existsSync(join(dir, 'package.json'))) throw err;
      }
      return dir;
    } catch {
      rmSync(part, { recursive: true, force: true });
      // not writable: try the next place
    }
  }
  throw new Error('pooltag.exe cannot write its files to %LOCALAPPDATA%\\pooltag\\Cache or the temporary folder');
}

export async function exeMain(sea: SeaModule): Promise<void> {
  const manifest = JSON.parse(sea.getAsset('manifest.json', 'utf8')) as ExeManifest;
  let dir: string;
  try {
    dir = unpack(sea, manifest);
  } catch (err) {
    process.stderr.write(`pooltag: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  // The bundled modules ask import.meta.url where they are: in the package folder, as dist/src/*.js.
  globalThis.__pooltagModuleUrl = pathToFileURL(join(dir, 'dist', 'src', 'index.js')).href;
  globalThis.__pooltagPiscinaWorker = join(dir, ...manifest.piscinaWorker.split('/'));
  process.env.POOLTAG_SQLITE_ADDON = join(dir, ...manifest.sqliteAddon.split('/'));
  const { main } = await import('./main.js');
  await main(process.argv);
}
