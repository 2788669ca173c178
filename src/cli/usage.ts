/** A bad argument: main prints its message as one line (`pooltag CMD: ...`) and exits 1. */
export class UsageError extends Error {}
