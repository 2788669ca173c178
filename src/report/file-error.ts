/**
 * Why a file has no result, as a report records it: a stable code for scripts and a message
 * that says what was wrong and where. Shared by the scanner and the one-shot commands.
 */
import { NotPeError, PeFormatError } from '../pe/errors.js';
import type { PeImage } from '../pe/types.js';
import type { FileError } from './types.js';

/** An error the reader raises on purpose, with its report code. */
export class FileProblem extends Error {
  constructor(
    readonly code: FileError['code'],
    message: string,
  ) {
    super(message);
  }
}

export function classifyError(err: unknown): FileError {
  if (err instanceof FileProblem) return { code: err.code, message: err.message };
  if (err instanceof NotPeError) return { code: 'not-pe', message: `not a PE image: ${err.message}`, part: err.part, offset: err.offset };
  if (err instanceof PeFormatError) return { code: 'malformed', message: `malformed PE image: ${err.message}`, part: err.part, offset: err.offset };
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return { code: 'not-found', message: 'no such file (or a dangling link)' };
    case 'EISDIR':
      return { code: 'not-a-file', message: 'is a directory, not a file' };
    case 'EACCES':
    case 'EPERM':
      return { code: 'unreadable', message: `permission denied (${e.code})` };
    case 'EBUSY':
    case 'ELOOP':
    case 'EIO':
    case 'ENXIO':
    case 'ETXTBSY':
      return { code: 'unreadable', message: `${e.code}: ${e.message}` };
    default:
      return { code: 'internal', message: e instanceof Error ? `${e.name}: ${e.message}` : String(err) };
  }
}

/**
 * A read image whose file is cut short (the section table describes more raw data than the
 * file holds): what it holds cannot be trusted to be the whole driver, so `scan`, `tags` and
 * `inspect` all call it malformed (a half-copied driver must not look like "not the owner").
 */
export function truncatedImageError(image: PeImage): FileError | null {
  const cut = image.issues.find((i) => i.part === 'file');
  return cut ? { code: 'malformed', message: `malformed PE image: ${cut.message}`, part: 'file', offset: cut.offset } : null;
}
