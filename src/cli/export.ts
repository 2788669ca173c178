/**
 * `pooltag export`: the knowledge base as a pooltag.txt, a localtag.txt, CSV, JSON or one
 * offline HTML page. Thin: checks the arguments, calls the library, writes, reports.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { exportBase, EXPORT_FORMATS, type ExportFormat } from '../answer/export/base.js';
import { isDebuggerPooltag } from '../answer/export/pooltag.js';
import { parsePooltagTxt, POOLMON_TAG_FILE_LIMIT, type PooltagFile } from '../knowledge/pooltag-txt.js';
import { dbTarget, Store, StoreError } from '../knowledge/store.js';
import { writeFileAtomic } from '../report/write.js';
import { formatBytes, safeText } from './text.js';

export interface ExportCliOptions {
  format?: string;
  db?: string;
  out?: string;
  mergeWith?: string;
  force?: boolean;
  quiet?: boolean;
}

const fail = (msg: string): number => {
  process.stderr.write(`pooltag export: ${msg}\n`);
  return 1;
};

export async function exportCommand(opts: ExportCliOptions): Promise<number> {
  const format = opts.format as ExportFormat;
  if (!format) return fail(`--format is required: one of ${EXPORT_FORMATS.join(', ')}, known`);
  if ((opts.format as string) === 'known') return exportKnown(opts);
  if (!EXPORT_FORMATS.includes(format)) return fail(`--format ${JSON.stringify(opts.format)} is not one of ${EXPORT_FORMATS.join(', ')}`);
  if (opts.mergeWith && format !== 'pooltag') return fail(`--merge-with is for --format pooltag (Microsoft's pooltag.txt to pass through), not --format ${format}`);
  const out = opts.out && opts.out !== '-' ? resolve(opts.out) : null;
  if (out && isDebuggerPooltag(out) && !opts.force) {
    return fail(
      `refusing to write over ${safeText(out, 300)}: it is a debugger's own triage\\pooltag.txt (reinstalling the Debugging Tools overwrites it). ` +
        'Write the file elsewhere and point the debugger at it, or add --force to replace it',
    );
  }

  if (out) {
    const dir = dirname(out);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return fail(`--out ${safeText(out, 300)}: the folder ${safeText(dir, 300)} does not exist`);
    if (existsSync(out) && statSync(out).isDirectory()) return fail(`--out ${safeText(out, 300)}: is a folder; give a file name (e.g. ${safeText(join(out, `pooltags.${opts.format === 'pooltag' || opts.format === 'localtag' ? 'txt' : opts.format}`), 300)})`);
  }

  let mergeWith: PooltagFile | null = null;
  if (opts.mergeWith) {
    const path = resolve(opts.mergeWith);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(`--merge-with ${safeText(path, 300)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a pooltag.txt' : (err as Error).message}`);
    }
    mergeWith = parsePooltagTxt(bytes, path);
    if (mergeWith.entries.length === 0) return fail(`--merge-with ${safeText(path, 300)}: no tag entries in it: not a pooltag.txt`);
  }

  const store = await openBase(opts);
  if (typeof store === 'string') return fail(store);
  let result;
  try {
    result = await exportBase(store, format, { mergeWith, dbPath: store.path, now: new Date() });
  } catch (err) {
    if (err instanceof StoreError) return fail(err.message);
    throw err;
  } finally {
    await store.close();
  }

  if (out) {
    try {
      await writeFileAtomic(out, result.bytes);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(`cannot write ${safeText(out, 300)}: ${code === 'ENOENT' ? 'its folder does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message}`);
    }
  } else {
    // A reader that stops early (`| head`) closes the pipe: that is not an error of ours.
    const closed = await new Promise<boolean>((done, reject) => {
      const onError = (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? done(true) : reject(err));
      process.stdout.once('error', onError);
      process.stdout.write(result.bytes, (err) => {
        if (!err) {
          process.stdout.off('error', onError);
          done(false);
        }
      });
    });
    if (closed) return 0;
  }

  // What was written, on stderr (stdout may be the file itself).
  const say = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  const where = out ? safeText(out, 300) : 'standard output';
  if (result.pooltag) {
    const p = result.pooltag;
    say(`wrote ${where} (${formatBytes(result.bytes.length)}): ${p.scanned} tags from scanned drivers, ${p.pooltag} pooltag.txt entries${mergeWith ? ' passed through unchanged' : ''}`);
    for (const s of p.skipped.slice(0, 5)) say(`  left out ${JSON.stringify(s.tag)}: ${safeText(s.reason, 200)}`);
    if (p.skipped.length > 5) say(`  ... and ${p.skipped.length - 5} more left out`);
  } else if (result.localtag) {
    const l = result.localtag;
    const kept = Object.values(l.kept).reduce((a, b) => a + b, 0);
    const left = Object.entries(l.left).filter(([, n]) => n > 0);
    say(`wrote ${where} (${l.bytes.toLocaleString('en-US')} bytes, ${kept} lines; poolmon rejects tag files over ${POOLMON_TAG_FILE_LIMIT.toLocaleString('en-US')} bytes)`);
    if (left.length) {
      say(`  the limit was reached: left out ${left.map(([c, n]) => `${n} ${c}`).join(', ')} (the most useful entries were kept: call sites, then pooltag.txt, then strings)`);
    }
    if (l.invalid.length) say(`  ${l.invalid.length} entries cannot be written in localtag.txt (non-ASCII tag or driver name), e.g. ${safeText(l.invalid[0].driver, 80)}`);
  } else if (result.html) {
    const h = result.html;
    say(`wrote ${where} (${formatBytes(h.bytes)}: data ${formatBytes(h.dataBytes)}, search index ${formatBytes(h.indexBytes)}): ${h.tags} tags, ${h.drivers} drivers; open it in a browser, no server needed`);
  } else {
    say(`wrote ${where} (${formatBytes(result.bytes.length)}): ${result.tags} tags`);
  }
  return 0;
}

/**
 * `--format known`: the image hashes the base holds, for `pooltag scan --known` (a host then
 * sends only what the base lacks). Gzipped: to a terminal it is not written.
 */
async function exportKnown(opts: ExportCliOptions): Promise<number> {
  if (opts.mergeWith) return fail('--merge-with is for --format pooltag, not --format known');
  const out = opts.out && opts.out !== '-' ? resolve(opts.out) : null;
  if (out) {
    const dir = dirname(out);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return fail(`--out ${safeText(out, 300)}: the folder ${safeText(dir, 300)} does not exist`);
    if (existsSync(out) && statSync(out).isDirectory()) return fail(`--out ${safeText(out, 300)}: is a folder; give a file name (e.g. ${safeText(join(out, 'known.gz'), 300)})`);
  } else if (process.stdout.isTTY) return fail('--format known writes a gzipped file: give --out FILE (e.g. --out known.gz), or redirect standard output');
  const { knownListBytes } = await import('../knowledge/known.js');
  const store = await openBase(opts);
  if (typeof store === 'string') return fail(store);
  let hashes: string[];
  try {
    hashes = await store.knownHashes();
  } finally {
    await store.close();
  }
  const bytes = knownListBytes(hashes);
  if (out) {
    try {
      await writeFileAtomic(out, bytes);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(`cannot write ${safeText(out, 300)}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message}`);
    }
  } else process.stdout.write(bytes);
  if (!opts.quiet) process.stderr.write(`wrote ${out ? safeText(out, 300) : 'standard output'} (${formatBytes(bytes.length)}): ${hashes.length} image hashes for pooltag scan --known\n`);
  return 0;
}

/** The base `--db` names (else the default), read-only; a message when it cannot be opened. */
async function openBase(opts: ExportCliOptions): Promise<Store | string> {
  try {
    return await Store.open(dbTarget(opts), { readonly: true });
  } catch (err) {
    if (err instanceof StoreError) return err.message;
    throw err;
  }
}
