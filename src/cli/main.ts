import { Command, CommanderError } from 'commander';

import { VERSION } from '../version.js';
import { inspectCommand } from './inspect.js';
import { tagsCommand } from './tags.js';

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
      process.exitCode = await inspectCommand(files, opts);
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
      process.exitCode = await tagsCommand(paths, opts);
    });

  return program;
}

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
