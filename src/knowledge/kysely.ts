/**
 * Kysely, as the base's query layer imports it. In the build (`npm run build`) this module is
 * replaced by Kysely bundled into one file (scripts/bundle-kysely.mjs): its 280 modules cost a
 * cold `pooltag lookup` several hundred milliseconds to load one by one, one file a tenth of that.
 * Built by tsc alone, it is this re-export, which works the same, only slower to load.
 */
export * from 'kysely';
