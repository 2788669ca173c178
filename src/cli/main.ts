import { Command, CommanderError, Option } from 'commander';

import { VERSION } from '../version.js';
import type { ScanCliOptions } from './scan.js';

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
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  pooltag scan                                   # this machine's drivers and DriverStore
  pooltag scan --out report.json test/fixtures/bin
  pooltag tags --find FxAp test/fixtures/bin
  pooltag tags C:\\Windows\\System32\\drivers\\tcpip.sys
  pooltag inspect --json test/fixtures/bin/x64-clang-O2/core.sys

Exit codes: 0 success, 1 usage error, 2 some inputs could not be read, 3 a searched tag was not found.`,
    );

  program
    .command('inspect')
    .alias('pe')
    .description('Read PE files and print their metadata: headers, imports, version strings, signer, PDB path, hash.')
    .argument('<file...>', 'PE files (.sys, .dll, .exe)')
    .option('--json', 'print JSON (one object per file in an array)')
    .option('--imports', 'list every imported function, not only the modules')
    .addHelpText(
      'after',
      `
Examples:
  pooltag inspect C:\\Windows\\System32\\drivers\\ndis.sys
  pooltag inspect --imports test/fixtures/bin/arm64-clang-O2/core.sys
  pooltag inspect --json *.sys > meta.json`,
    )
    .action(async (files: string[], opts: { json?: boolean; imports?: boolean }) => {
      process.exitCode = await (await import('./inspect.js')).inspectCommand(files, opts);
    });

  program
    .command('tags')
    .description('Recover the pool tags each driver passes at its call sites (x86, x64, ARM64), with the evidence.')
    .argument('<path...>', 'driver files, or folders searched for .sys/.dll/.exe/.drv')
    .option('--find <tag>', 'only drivers that pass this tag (ShAp, "Io  ", 0x70416853, \\x06ab...); exit 3 when none does')
    .option('--literal', 'read --find as a C literal as written in source (pAhS for ShAp)')
    .option('--strings', 'also list classified strings (device names, registry paths, URLs, PDB paths, file names)')
    .option('--unresolved', 'also list call sites whose tag could not be recovered, with the reason')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  pooltag tags C:\\Windows\\System32\\drivers\\tcpip.sys
  pooltag tags --find ShAp C:\\Windows\\System32\\drivers
  pooltag tags --find pAhS --literal ./drivers
  pooltag tags --json --strings test/fixtures/bin/arm64-clang-O2/core.sys

Exit codes: 0 success, 1 usage error, 2 some files could not be read, 3 --find matched nothing.`,
    )
    .action(async (paths: string[], opts: { json?: boolean; find?: string; literal?: boolean; strings?: boolean; unresolved?: boolean }) => {
      process.exitCode = await (await import('./tags.js')).tagsCommand(paths, opts);
    });

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('scan')
    .description('Scan driver folders in parallel into a report: every driver\'s tags, evidence and vendor metadata.')
    .argument('[path...]', 'files and folders (default: System32\\drivers and the DriverStore on Windows, /mnt/c/... under WSL)')
    .option('--include <glob>', 'file pattern to take in folders, repeatable (default **/*.sys; case-insensitive)', collect)
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
    .option('-q, --quiet', 'no progress bar, no summary')
    .option('--json', 'print the summary as JSON (with the report path)')
    .addHelpText(
      'after',
      `
Examples:
  pooltag scan
  pooltag scan C:\\Windows\\System32\\drivers "D:\\Vendor Drivers"
  pooltag scan --include '**/*.sys' --include '**/*.dll' --out C:\\Temp\\drivers.json \\\\fileserver\\drivers
  pooltag scan --quiet --out \\\\collector\\pooltag$\\%COMPUTERNAME%.json
  pooltag scan --format ndjson --out - /mnt/c/Windows/System32/drivers | jq -c 'select(.type=="file")'
  pooltag scan --jobs 2 --out fixtures.json test/fixtures/bin

Exit codes: 0 every file was scanned, 1 usage error, 2 some files could not be scanned (each has an error entry in the report).`,
    )
    .action(async (paths: string[], opts: ScanCliOptions) => {
      process.exitCode = await (await import('./scan.js')).scanCommand(paths, opts);
    });

  return program;
}

const DEFAULTS_MB = 256;

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors with 1.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    throw err;
  }
}
