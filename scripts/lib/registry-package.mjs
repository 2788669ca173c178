// A package from the npm registry, unpacked once into ~/.cache/pooltag-dev/<area> (outside the
// repository) with `npm pack`, and checked against the integrity pinned by the caller: a tarball
// that differs is refused. The Node.js runtimes of build:exe and test:node come this way.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEV_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pooltag-dev');

/** The folder of `spec` (name@version) unpacked: its `package/` directory. */
export function registryPackage(spec, integrity, area = 'exe', log = (m) => process.stderr.write(`${m}\n`)) {
  const dir = join(DEV_CACHE, area, spec.replace('@', '-'));
  if (existsSync(join(dir, 'package', 'package.json'))) return join(dir, 'package');
  mkdirSync(dir, { recursive: true });
  log(`fetching ${spec} from the npm registry`);
  const out = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = join(dir, JSON.parse(out)[0].filename);
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== integrity) throw new Error(`${spec}: integrity ${got}, expected ${integrity}`);
  execFileSync('tar', ['xzf', tgz, '-C', dir]);
  rmSync(tgz);
  return join(dir, 'package');
}
