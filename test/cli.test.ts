/**
 * The command line, run as a user runs it (bin/pooltag over the build that `npm install`
 * makes), on the fixture drivers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin/pooltag');
const fx = join(root, 'test/fixtures/bin');

function run(...args: string[]) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm install` (or `npm run build`) before the tests');
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pooltag CLI', () => {
  it('--help lists the commands with examples; --version prints the version', () => {
    const h = run('--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/inspect/);
    expect(h.out).toMatch(/tags/);
    expect(h.out).toMatch(/Examples:/);
    expect(run('--version').out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('usage errors exit 1', () => {
    expect(run('no-such-command').code).toBe(1);
    expect(run('tags').code).toBe(1);
  });

  it('inspect prints the metadata of a fixture, and exit 2 for files it cannot read', () => {
    const r = run('inspect', join(fx, 'signed/core-x64-clang-O2.sys'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PE32\+ x64/);
    expect(r.out).toMatch(/CN=Pooltag Test Signer/);
    expect(r.out).toMatch(/CompanyName\s+Pooltag Fixtures/);
    const bad = run('inspect', join(root, 'package.json'), join(root, 'nope.sys'));
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/no MZ signature/);
    expect(bad.out).toMatch(/no such file/);
  });

  it('inspect escapes hostile version strings', () => {
    const r = run('inspect', join(fx, 'x64-clang-O2/hostile.sys'));
    expect(r.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(r.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(r.out).toMatch(/characters\)/); // the 1994-character CompanyName is cut
  });

  it('tags --find finds the drivers that pass a tag, at every architecture', () => {
    const r = run('tags', '--json', '--find', 'FxAp', fx);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { path: string; arch: string; evidence: { tag: string; routine: string }[] }[];
    expect(new Set(rows.map((x) => x.arch))).toEqual(new Set(['x86', 'x64', 'arm64']));
    for (const row of rows) for (const e of row.evidence) expect(e).toMatchObject({ tag: 'FxAp', routine: 'ExAllocatePoolWithTag' });
    expect(run('tags', '--find', 'pAxF', '--literal', join(fx, 'x64-clang-O2')).code).toBe(0);
    expect(run('tags', '--find', 'Zzzz', join(fx, 'x64-clang-O2')).code).toBe(3);
  });
});

describe('a half-copied driver (issue 22, item 2)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pooltag-cli-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('tags, inspect and scan all call the first 2,000 bytes of core.sys malformed and exit 2', () => {
    const cut = join(tmp, 'core.sys');
    writeFileSync(cut, readFileSync(join(fx, 'x64-clang-O2/core.sys')).subarray(0, 2000));
    const why = /malformed PE image: file is truncated: the section table describes raw data up to offset 0x[0-9a-f]+, the file has 2000 bytes/;
    const tags = run('tags', cut);
    expect(tags.code).toBe(2);
    expect(tags.out).toMatch(why);
    expect(tags.out).not.toMatch(/no tags found/);
    const tj = JSON.parse(run('tags', '--json', cut).out) as { error?: string }[];
    expect(tj[0].error).toMatch(why);
    const inspect = run('inspect', cut);
    expect(inspect.code).toBe(2);
    expect(inspect.out.split('\n')[1]).toMatch(why); // right under the file name, before what could be read
    expect(inspect.out).toMatch(/PE32\+ x64/);
    const scan = run('scan', '--no-cache', '--quiet', '--out', join(tmp, 'r.json'), cut);
    expect(scan.code).toBe(2);
    expect(readFileSync(join(tmp, 'r.json'), 'utf8')).toMatch(why);
  });
});

describe('Ctrl-C during a scan (issue 22, item 8)', () => {
  it("clears the progress bar's line, says the scan stopped, exits 130", async () => {
    const probe = spawnSync('script', ['-qc', 'true', '/dev/null']);
    if (probe.error || probe.status !== 0) throw new Error('this test needs util-linux `script` to give the command a terminal');
    const tmp = mkdtempSync(join(tmpdir(), 'pooltag-int-'));
    try {
      // `script` gives the scan a terminal (the bar is drawn on terminals only); SIGINT once the bar shows.
      const cmd = `echo PID $$; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} scan --no-cache --jobs 1 --out ${JSON.stringify(join(tmp, 'r.json'))} ${JSON.stringify(fx)}`;
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: root });
      let out = '';
      let sent = false;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const pid = /PID (\d+)/.exec(out);
        if (!sent && pid && /files\/s/.test(out)) {
          sent = true;
          process.kill(Number(pid[1]), 'SIGINT');
        }
      });
      const code = await new Promise<number | null>((res) => child.on('close', res));
      expect(sent).toBe(true);
      expect(code).toBe(130);
      // The bar's last drawing is blanked out (\r, spaces, \r) before the message, which starts a clean line.
      const tail = out.slice(out.lastIndexOf('files/s'));
      expect(tail).toMatch(/^files\/s[^\r]*\r {20,}\rpooltag scan: interrupted \(Ctrl-C\); no report written\r?\n$/);
      expect(existsSync(join(tmp, 'r.json'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('output into a pipe that closes early', () => {
  it('`pooltag tags --json ... | head -1` ends quietly: no EPIPE, no stack trace', () => {
    const r = spawnSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} tags --json test/fixtures/bin | head -1`], { encoding: 'utf8', cwd: root });
    expect(r.stdout).toBe('[\n');
    expect(r.stderr).not.toMatch(/EPIPE|at .*\(|Error/);
  });
});
