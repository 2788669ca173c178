/**
 * A throwaway PostgreSQL server for the tests of the base on PostgreSQL
 * (scripts/lib/pg-cluster.mjs: initdb + pg_ctl in a temporary folder, a Unix socket, no TCP
 * port). On a fresh clone without PostgreSQL the suite is skipped with one visible reason;
 * with POOLTAG_REQUIRE_TOOLS=1 (CI: `.ci/run` installs Debian's `postgresql`) it fails instead.
 *
 *   describeWithPostgres('merge into PostgreSQL', (server) => {
 *     it('...', async () => { const url = await server().database('t1'); ... });
 *   });
 */
import { afterAll, beforeAll } from 'vitest';

// @ts-expect-error: a plain JavaScript module shared with the benchmarks
import { postgresMissing, startCluster } from '../../scripts/lib/pg-cluster.mjs';
import { describeWithToolsIf } from './shared.js';

export interface PostgresServer {
  /** A new, empty database on the server: its URL. */
  database(name: string): Promise<string>;
  /** A URL for a database with this name (it need not exist). */
  url(name: string): string;
}

interface Cluster {
  ok: boolean;
  reason?: string;
  url: (db: string) => string;
  createDatabase: (name: string) => Promise<string>;
  stop: () => void;
}

export function describeWithPostgres(title: string, body: (server: () => PostgresServer) => void): void {
  describeWithToolsIf(title, postgresMissing() as string | null, () => {
    let cluster: Cluster | null = null;
    beforeAll(async () => {
      const c = (await startCluster()) as Cluster;
      if (!c.ok) throw new Error(`cannot start PostgreSQL: ${c.reason}`);
      cluster = c;
    }, 120_000);
    afterAll(() => cluster?.stop());
    body(() => {
      if (!cluster) throw new Error('the PostgreSQL server did not start');
      const c = cluster;
      return { database: (name) => c.createDatabase(name), url: (name) => c.url(name) };
    });
  });
}
