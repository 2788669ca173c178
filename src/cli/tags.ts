import { describeAllocation } from '../answer/pool-match.js';
import { readFile } from 'node:fs/promises';

import { discoverPeFiles } from '../discover/discover.js';
import { extractEvidence } from '../evidence/extract.js';
import type { Evidence, ExtractionResult } from '../evidence/types.js';
import { readPe } from '../pe/read.js';
import { parseTag, Tag } from '../tag/tag.js';
import { truncatedImageError } from '../report/file-error.js';
import { describeError } from './inspect.js';
import { safeText, toJson } from './text.js';

export interface TagsOptions {
  json?: boolean;
  find?: string;
  literal?: boolean;
  strings?: boolean;
  unresolved?: boolean;
}

interface FileResult {
  path: string;
  sha256?: string;
  arch?: string;
  company?: string | null;
  signer?: string | null;
  result?: ExtractionResult;
  error?: string;
}

async function analyse(path: string): Promise<FileResult> {
  try {
    const buf = await readFile(path);
    const image = readPe(buf);
    // As `scan` does: a cut-short file is an error, not a driver without tags.
    const cut = truncatedImageError(image);
    if (cut) return { path, error: cut.message };
    const result = await extractEvidence(buf, image);
    return {
      path,
      sha256: image.sha256 ?? undefined,
      arch: image.headers.arch,
      company: image.version?.strings.CompanyName ?? null,
      signer: image.signature?.signer.text ?? null,
      result,
    };
  } catch (err) {
    return { path, error: describeError(err) };
  }
}

function line(e: Evidence): string {
  const via = e.recovery === 'wrapper' ? `wrapper at 0x${e.wrappers![0].toString(16)}` : e.recovery;
  const fn = e.functionRva === null ? '' : ` in sub_${e.functionRva.toString(16)}`;
  const alloc = describeAllocation(e.pool ?? null, e.size ?? null);
  return `  ${JSON.stringify(e.tag).padEnd(8)} ${e.ulong}  ${e.routine.padEnd(38)} call at 0x${e.callSiteRva.toString(16)}${fn}  ${via}, ${e.confidence}${e.alternatives ? `, one of ${e.alternatives} tags at this call` : ''}${e.protected ? ', PROTECTED_POOL' : ''}${e.shared ? ', shared tag' : ''} [${e.kind}]${alloc ? ` ${alloc}` : ''}`;
}

/**
 * `pooltag tags`: the tags each driver passes at its call sites. With `--find TAG`, only the
 * drivers that pass that tag (exit 3 when none does).
 */
export async function tagsCommand(paths: string[], opts: TagsOptions): Promise<number> {
  let wanted: Tag | null = null;
  if (opts.find !== undefined) {
    try {
      wanted = parseTag(opts.find, { literal: !!opts.literal });
    } catch (err) {
      process.stderr.write(`pooltag tags: --find ${JSON.stringify(opts.find)}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const results: FileResult[] = [];
  for (const c of await discoverPeFiles(paths)) results.push(c.problem ? { path: c.path, error: c.problem.message } : await analyse(c.path));

  const matches = (e: Evidence) => !wanted || Tag.fromUlong(Number(e.ulong)).matchKey === wanted.matchKey;
  const shown = results.map((r) => ({ ...r, evidence: r.result?.evidence.filter(matches) ?? [] })).filter((r) => !wanted || r.evidence.length > 0 || r.error);

  if (opts.json) {
    process.stdout.write(
      toJson(
        shown.map(({ result, evidence, ...rest }) => ({
          ...rest,
          evidence,
          ...(opts.strings && result ? { strings: result.strings } : {}),
          ...(opts.unresolved && result ? { unresolved: result.unresolved } : {}),
        })),
      ) + '\n',
    );
  } else {
    const out: string[] = [];
    for (const r of shown) {
      out.push(safeText(r.path, 400));
      if (r.error) {
        out.push(`  error: ${r.error}`);
        continue;
      }
      const who = [r.company ? safeText(r.company, 80) : null, r.signer ? `signed by ${safeText(r.signer, 120)}` : null].filter(Boolean).join(', ');
      out.push(`  ${r.arch}${who ? ', ' + who : ''}`);
      if (r.evidence.length === 0) out.push('  no tags found at call sites');
      for (const e of r.evidence) out.push(line(e));
      if (opts.unresolved) for (const u of r.result!.unresolved) out.push(`  ?        ${u.routine} call at 0x${u.callSiteRva.toString(16)}: ${safeText(u.reason, 160)}`);
      if (opts.strings) for (const s of r.result!.strings.filter((x) => x.kind !== 'tag')) out.push(`  ${s.kind.padEnd(9)}${safeText(s.text, 200)} (${s.encoding}, 0x${s.offset.toString(16)})`);
    }
    if (wanted && shown.every((r) => r.error)) out.push(`no driver passes ${JSON.stringify(wanted.display)} (${wanted.hex}) at a call site in ${results.length} file(s)`);
    process.stdout.write(out.join('\n') + '\n');
  }
  if (results.some((r) => r.error)) return 2;
  if (wanted && !shown.some((r) => r.evidence.length > 0)) return 3;
  return 0;
}
