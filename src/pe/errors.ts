/**
 * A malformed image: says what is wrong and where. `offset` is a file offset unless
 * `rva` is set. Readers throw it; `readPe()` turns a failure in one directory into a
 * `PeIssue` and keeps reading the others.
 */
export class PeFormatError extends Error {
  override readonly name: string = 'PeFormatError';
  constructor(
    readonly part: string,
    message: string,
    readonly offset: number | null = null,
    readonly rva = false,
  ) {
    super(offset === null ? `${part}: ${message}` : `${part}: ${message} at ${rva ? 'RVA' : 'offset'} 0x${offset.toString(16)}`);
  }
}

/**
 * The file is not a PE image at all (no MZ header, or no PE signature where e_lfanew
 * points): a text file or a DOS program, as opposed to a damaged PE.
 */
export class NotPeError extends PeFormatError {
  override readonly name = 'NotPeError';
}
