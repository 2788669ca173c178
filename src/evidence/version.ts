/**
 * The engine's own version: it changes when what the engine recovers changes in a way that
 * makes earlier results stale (scan caches key on it), whatever the package version.
 * 2: value sets over a CFG, initial values, several tags per site, every reference accounted for.
 */
export const ENGINE_VERSION = 2;
