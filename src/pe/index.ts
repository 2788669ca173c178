export { readPe, MACHINES, type ReadPeOptions } from './read.js';
export { AddressMap } from './address.js';
export { NotPeError, PeFormatError } from './errors.js';
export type * from './types.js';
export * from './sniff.js';
