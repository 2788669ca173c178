import { Command, CommanderError, Option } from 'commander';

import { VERSION } from '../version.js';
import * as HELP from './help.js';
import type { ExportCliOptions } from './export.js';
import type { DbOption } from './kb.js';
import type { ScanCliOptions } from './scan.js';
import type { TriageCliOptions } from './triage.js';

/**
 * File arguments as the user's shell left them: cmd.exe and PowerShell do not expand `*.sys`,
 * so on Windows pooltag does (src/platform/wildcards.ts). Tags (`Ntf*`) are not file arguments.
 */
async function files(args: string[]): Promise<string[]> {
  return (await import('../platform/wildcards.js')).expandWildcards(args);
}

// Each command's module is loaded when it runs: `pooltag lookup` must not pay for the PE
// reader, the decoders or the worker pool.

/** Exit codes, the same for every command. */
export const EXIT = {
  ok: 0,
  usage: 1,
  /** Some inputs could not be read; the others were processed. */
  partial: 2,
} as const;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pooltag')
    .description('Find which Windows driver owns a kernel pool tag: scan drivers for tags at their call sites, answer offline.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'on an unexpected error, print its stack trace (for a bug report)')
    // Commander's own errors (an unknown option, a bad choice) are printed by main() as ONE line with the command's prefix.
    .configureOutput({ outputError: () => {} })
    .addHelpText('after', HELP.ROOT_HELP);

  program
    .command('inspect')
    .alias('pe')
    .description('Read PE files and print their metadata: headers, imports, version strings, signer, PDB path, hash.')
    .argument('<path...>', 'PE files (.sys, .dll, .exe; wildcards such as *.sys on Windows), or folders searched for .sys/.dll/.exe/.drv')
    .option('--json', 'print JSON (one object per file in an array)')
    .option('--imports', 'list every imported function, not only the modules')
    .addHelpText('after', HELP.INSPECT_HELP)
    .action(async (paths: string[], opts: { json?: boolean; imports?: boolean }) => {
      process.exitCode = await (await import('./inspect.js')).inspectCommand(await files(paths), opts);
    });

  program
    .command('tags')
    .description('Recover the pool tags each driver passes at its call sites (x86, x64, ARM64), with the evidence.')
    .argument('<path...>', 'driver files (wildcards such as hid*.sys on Windows), or folders searched for .sys/.dll/.exe/.drv')
    .option('--find <tag>', 'only drivers that pass this tag (ShAp, "Io  ", 0x70416853, \\x06ab...); exit 3 when none does')
    .option('--literal', 'read --find as a C literal as written in source (pAhS for ShAp)')
    .option('--strings', 'also list classified strings (device names, registry paths, URLs, PDB paths, file names)')
    .option('--unresolved', 'also list call sites whose tag could not be recovered, with the reason')
    .option('--json', 'print JSON')
    .addHelpText('after', HELP.TAGS_HELP)
    .action(async (paths: string[], opts: { json?: boolean; find?: string; literal?: boolean; strings?: boolean; unresolved?: boolean }) => {
      process.exitCode = await (await import('./tags.js')).tagsCommand(await files(paths), opts);
    });

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('scan')
    .description('Scan driver folders in parallel into a report: every driver\'s tags, evidence and vendor metadata.')
    .argument('[path...]', 'files and folders (default: System32\\drivers, the DriverStore and the kernel images of System32 on Windows, /mnt/c/... under WSL)')
    .option('--include <glob>', 'file pattern to take in folders, repeatable; replaces the default (*.sys, ntoskrnl.exe & co., hal*.dll, and any other PE whose subsystem is NATIVE); case-insensitive', collect)
    .option('--exclude <glob>', 'pattern to leave out, repeatable', collect)
    .option('-j, --jobs <n>', 'worker threads (default: one per core)')
    .option('--max-size <MB>', `skip files larger than this (default ${DEFAULTS_MB} MB)`)
    .option('--timeout <seconds>', 'time limit per file (default 120)')
    .option('--min-string <n>', 'minimum string length (default 4)')
    .option('-o, --out <file>', 'write the report here (atomically); - for stdout. Default: a new file in the data folder')
    .addOption(new Option('--format <format>', 'report format').choices(['json', 'ndjson']).default('json'))
    .option('--cache <file>', 'incremental cache file (default: in the user cache folder)')
    .option('--no-cache', 'analyse every file, use and update no cache')
    .option('--verify', 're-hash files even when size and mtime are unchanged')
    .option('--known <file>', 'a known list (pooltag export --format known): images in it are hashed, not analysed, and reported as inventory only')
    .option('-q, --quiet', 'no progress bar, no summary')
    .option('--json', 'print the summary as JSON (with the report path)')
    .addHelpText('after', HELP.SCAN_HELP)
    .action(async (paths: string[], opts: ScanCliOptions) => {
      process.exitCode = await (await import('./scan.js')).scanCommand(await files(paths), opts);
    });

  const dbOpt = (c: Command) => c.option('--db <file|url>', 'knowledge base: a file, or a postgres:// URL (default: POOLTAG_DB, else pooltag.db in the user data folder)').option('--json', 'print JSON');
  const kb = () => import('./kb.js');

  dbOpt(
    program
      .command('lookup')
      .description('Which driver owns a tag: candidates ranked by evidence (call sites > pooltag.txt > strings), offline.')
      .argument('<tag...>', 'tags: ShAp, Io (padded), "Io  ", 0x70416853, \\x06ab escapes, or wildcards Afd? Ntf*')
      .option('--literal', 'read the tags as C literals as written in source (pAhS for ShAp)')
      .option('--builds', "list every build (image) of each driver with its hosts, paths and call sites")
      .option('--all', 'the builds summarised and every call site (RVAs)'),
  )
    .addHelpText('after', HELP.LOOKUP_HELP)
    .action(async (tags: string[], opts: DbOption & { literal?: boolean; builds?: boolean; all?: boolean }) => {
      process.exitCode = await (await kb()).lookupCommand(tags, opts);
    });

  dbOpt(
    program
      .command('triage')
      .description('Read poolmon / !poolused / !pool / !vm / CSV output: which tags hold each pool, their owners, and over several snapshots the leak.')
      .argument('<input...>', 'files (poolmon screen or /n snapshot, !poolused, !pool, !poolfind, !vm, !frag, CSV, JSON), or - for stdin')
      .addOption(new Option('--sort <key>', 'order of each pool table').choices(['bytes', 'allocs', 'diff', 'tag']).default('bytes'))
      .option('--top <n>', 'rows per table (0 for all; default 20)')
      .option('--interval <duration>', 'time between snapshots when the files carry none (30m, 1h, 90s)'),
  )
    .addHelpText('after', HELP.TRIAGE_HELP)
    .action(async (inputs: string[], opts: TriageCliOptions) => {
      process.exitCode = await (await import('./triage.js')).triageCommand(await files(inputs), opts);
    });

  dbOpt(
    program
      .command('search')
      .description('Full-text search (lunr syntax) over drivers, vendors, signers, PDB names, strings, pooltag.txt and notes.')
      .argument('<query...>', 'lunr query: words, field:word (tag name vendor product pdb owner text strings), +must -not prefix* fuzzy~1')
      .option('--limit <n>', 'results to print (default 20)'),
  )
    .addHelpText('after', HELP.SEARCH_HELP)
    .action(async (query: string[], opts: DbOption & { limit?: string }) => {
      process.exitCode = await (await kb()).searchCommand(query, opts);
    });

  dbOpt(
    program
      .command('merge')
      .description('Merge scan reports (of one host or a whole fleet) into the knowledge base; idempotent.')
      .argument('<report...>', 'report files (.json / .ndjson, or gzipped: .json.gz), folders of them, quoted patterns ("reports\\*.json.gz"), or - for stdin')
      .option('-j, --jobs <n>', 'threads reading reports ahead of the merge (default: one per core from 16 reports; 0: none)'),
  )
    .addHelpText('after', HELP.MERGE_HELP)
    .action(async (inputs: string[], opts: DbOption & { jobs?: string }) => {
      process.exitCode = await (await kb()).mergeCommand(await files(inputs), opts);
    });

  dbOpt(
    program
      .command('import-pooltag')
      .description("Import Microsoft's pooltag.txt (found where the Debugging Tools install it, or given); every copy is kept.")
      .argument('[file...]', 'pooltag.txt files (default: Windows Kits 10/8.1/8.0 Debuggers\\{x64,x86,arm64}\\triage and the WinDbg app)')
      .option('--label <text>', 'a name for this copy (e.g. "WDK 10.0.26100")'),
  )
    .addHelpText('after', HELP.IMPORT_POOLTAG_HELP)
    .action(async (paths: string[], opts: DbOption & { label?: string }) => {
      process.exitCode = await (await kb()).importPooltagCommand(await files(paths), opts);
    });

  dbOpt(
    program
      .command('show')
      .description('One driver: its builds, where each was seen, its tags at call sites (allocations before frees) and strings.')
      .argument('<driver>', 'file name (tcpip.sys) or SHA-256 prefix')
      .option('--builds', 'every build (image) with its hosts, paths and tags')
      .option('--all', 'every call site of every tag'),
  )
    .addHelpText('after', HELP.SHOW_HELP)
    .action(async (what: string, opts: DbOption) => {
      process.exitCode = await (await kb()).showCommand(what, opts);
    });

  dbOpt(program.command('stats').description('Summarise the knowledge base: hosts, drivers, evidence, pooltag.txt copies, notes, index.'))
    .addHelpText('after', HELP.STATS_HELP)
    .action(async (opts: DbOption) => {
      process.exitCode = await (await kb()).statsCommand(opts);
    });

  dbOpt(
    program
      .command('note')
      .description('Record what an engineer confirmed about a tag; shown by every lookup of it.')
      .argument('<tag>', 'the tag')
      .argument('<text...>', 'the note')
      .option('--author <name>', 'who confirmed it (default: the user name)')
      .option('--literal', 'read the tag as a C literal'),
  )
    .addHelpText('after', HELP.NOTE_HELP)
    .action(async (tag: string, text: string[], opts: DbOption & { author?: string; literal?: boolean }) => {
      process.exitCode = await (await kb()).noteCommand(tag, text, opts);
    });

  program
    .command('export')
    .description('Export the knowledge base for WinDbg (pooltag.txt), poolmon (localtag.txt), a spreadsheet (CSV), scripts (JSON) or one offline HTML page.')
    .addOption(new Option('--format <format>', 'what to write').choices(['pooltag', 'localtag', 'csv', 'json', 'html', 'known']).makeOptionMandatory())
    .option('--db <file|url>', 'knowledge base: a file, or a postgres:// URL (default: POOLTAG_DB, else pooltag.db in the user data folder)')
    .option('-o, --out <file>', 'write here (atomically); default: standard output')
    .option('--merge-with <file>', "pooltag format: Microsoft's pooltag.txt, written through unchanged with our tags added")
    .option('--force', "allow --out to replace a debugger's own triage\\pooltag.txt")
    .option('-q, --quiet', 'no summary on stderr')
    .addHelpText('after', HELP.EXPORT_HELP)
    .action(async (opts: ExportCliOptions) => {
      process.exitCode = await (await import('./export.js')).exportCommand(opts);
    });

  return program;
}

const DEFAULTS_MB = 256;

/**
 * Errors a command lets through that are about the input, not bugs: printed as one line
 * (what is wrong and where), exit 1, no stack trace.
 */
const USER_ERRORS = new Set(['StoreError', 'SqliteUnavailableError', 'ReportError', 'TagParseError', 'UsageError', 'NoDefaultRootsError', 'FileProblem', 'PeFormatError', 'NotPeError']);

/** The one line printed for an error that reached the top. */
export function errorLine(err: unknown, command: string | null, debug: boolean): string {
  const who = command ? `pooltag ${command}` : 'pooltag';
  const e = err instanceof Error ? err : new Error(String(err));
  const errno = (e as NodeJS.ErrnoException).code;
  if (debug) return `${who}: ${e.stack ?? e.message}`;
  // one line: Windows messages end in, or hold, CR LF
  const message = e.message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (USER_ERRORS.has(e.constructor.name) || USER_ERRORS.has(e.name)) return `${who}: ${message}`;
  // A file-system error names the file in its message (`EISDIR: ..., open 'x'`).
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) return `${who}: ${message}`;
  return `${who}: internal error: ${e.name}: ${message} (run again with --debug for the stack trace, and report it)`;
}

export async function main(argv: string[]): Promise<void> {
  // `pooltag show --json x | head`: the reader went away; that is the end of the output, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride(); // (commands made before this do not inherit it)
  let command: string | null = null;
  program.hook('preAction', (_root, action) => {
    command = action.name();
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors with 1, said in one line.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (err.exitCode !== 0 && err.code !== 'commander.help' && err.code !== 'commander.helpDisplayed') {
        const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
        const cmd = command ?? argv.slice(2).find((a) => names.has(a)) ?? null;
        const what = err.message.replace(/^error: /, '').replace(/\n/g, ' ');
        process.stderr.write(`${cmd ? `pooltag ${cmd}` : 'pooltag'}: ${what} (pooltag ${cmd ? `${cmd} ` : ''}--help for usage)\n`);
      }
      return;
    }
    const debug = program.opts().debug === true || argv.includes('--debug');
    process.stderr.write(errorLine(err, command, debug).replace(/\r?\n(?!\s+at )/g, ' ') + '\n');
    process.exitCode = EXIT.usage;
  }
}
