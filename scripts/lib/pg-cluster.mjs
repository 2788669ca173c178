// A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temporary
// folder, listening on a Unix socket in that folder only (no TCP port), trust authentication
// for its one user. PostgreSQL refuses to run as root: as root the cluster is run by `nobody`
// (runuser). Debian's `postgresql` package puts initdb in /usr/lib/postgresql/N/bin, which is
// searched when initdb is not on PATH.
//
//   const pg = await startCluster();      // null (with pg.reason) when it cannot
//   const url = await pg.createDatabase('t1');   // postgres://pooltag@%2Ftmp%2F...%2Fsock/t1
//   ...
//   pg.stop();
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The folder of initdb and pg_ctl: PATH first, else the newest of Debian's /usr/lib/postgresql/N/bin. */
export function postgresBin() {
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return { initdb: 'initdb', pgCtl: 'pg_ctl', psql: 'psql' };
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) return null;
  const bin = join(base, versions[0], 'bin');
  return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl'), psql: join(bin, 'psql') };
}

/** Why a cluster cannot be started here, or null when it can. */
export function postgresMissing() {
  if (process.platform === 'win32') return 'a PostgreSQL server (these tests start one with initdb and pg_ctl on Linux or macOS)';
  if (!postgresBin()) return "PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql)";
  if (process.getuid?.() === 0 && spawnSync('runuser', ['--help'], { stdio: 'ignore' }).status !== 0) return 'runuser (PostgreSQL does not run as root, and runuser runs it as nobody)';
  return null;
}

export async function startCluster({ user = 'pooltag' } = {}) {
  const missing = postgresMissing();
  if (missing) return { ok: false, reason: missing };
  const bin = postgresBin();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pooltag-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(sock);
  if (root) {
    const nobody = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' });
    for (const d of [dir, sock]) chownSync(d, Number(nobody.stdout), Number(gid.stdout));
  }
  chmodSync(dir, 0o700);
  const run = (cmd, args) => {
    const r = root ? spawnSync('runuser', ['-u', 'nobody', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-3).join(' | ')}`);
    return r.stdout;
  };
  run(bin.initdb, ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8', '--no-instructions']);
  // fsync off: a test's server loses nothing it needs when the machine does not crash
  run(bin.pgCtl, ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`, 'start']);
  const host = encodeURIComponent(sock);
  const url = (db) => `postgres://${user}@${host}/${db}`;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run(bin.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const { default: pg } = await import('pg');
  const createDatabase = async (name) => {
    const c = new pg.Client({ connectionString: url('postgres') });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    } finally {
      await c.end();
    }
    return url(name);
  };
  return { ok: true, dir, sock, url, createDatabase, stop };
}
