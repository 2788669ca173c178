// The arguments of the engine's measuring scripts (bench-jit, profile-stages):
// `[--passes N] [--against DIR]`. A wrong one is one line with the usage, exit 1.
import path from 'node:path';

export function passesArgs(script, args = process.argv.slice(2)) {
  let passes = 3;
  let against = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--passes' && Number(args[i + 1]) >= 1) passes = Number(args[++i]);
    else if (args[i] === '--against' && args[i + 1]) against = path.resolve(args[++i]);
    else {
      console.error(`${script}: ${args[i]}: not an argument (or a value is missing)\nusage: node scripts/${script}.mjs [--passes N] [--against DIR]`);
      process.exit(1);
    }
  }
  return { passes, against };
}
