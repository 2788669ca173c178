import { Command, CommanderError } from 'commander';

import { VERSION } from '../version.js';
import { inspectCommand } from './inspect.js';

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
  pooltag inspect C:\\Windows\\System32\\drivers\\tcpip.sys
  pooltag inspect --json test/fixtures/bin/x64-clang-O2/core.sys

Exit codes: 0 success, 1 usage error, 2 some inputs could not be read.`,
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
