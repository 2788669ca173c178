/**
 * The base's one query layer (Kysely) over its two backends: the embedded SQLite file
 * (better-sqlite3, the default) and a shared PostgreSQL server (node-postgres). Queries are
 * written once, with Kysely's builder or its `sql` template, and compiled for the backend;
 * only the schema (schema.ts) differs between the two.
 *
 * Statements a merge runs for every row are compiled once (`Statements`): on SQLite the
 * compiled SQL becomes a better-sqlite3 prepared statement (Kysely's own driver prepares every
 * query again, which costs more than the insert); on PostgreSQL it is sent with its parameters.
 */
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type Compilable, type RawBuilder } from './kysely.js';

import type Database from 'better-sqlite3';
import type pg from 'pg';

export type Backend = 'sqlite' | 'postgres';

/** `postgres://…` or `postgresql://…`: a PostgreSQL base; anything else is a file. */
export function isDatabaseUrl(target: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(target.trim());
}

/**
 * A database URL as it may be shown: the password (`postgres://user:secret@host/db`, or a
 * `password=` parameter) replaced by `***`.
 */
export function maskUrl(url: string): string {
  const m = /^(postgres(?:ql)?:\/\/)(.*)$/is.exec(url);
  if (!m) return url;
  let rest = m[2];
  // the userinfo ends at the last @ before the query (an unencoded @ in a password is not a separator)
  const query = rest.indexOf('?');
  const at = (query < 0 ? rest : rest.slice(0, query)).lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) rest = `${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
  }
  rest = rest.replace(/([?&]password=)[^&#]*/gi, '$1***');
  return m[1] + rest;
}

/** The password a URL carries (decoded), so that an error message that repeats it can be masked. */
export function urlPassword(url: string): string | null {
  try {
    const u = new URL(url);
    const p = u.password ? decodeURIComponent(u.password) : u.searchParams.get('password');
    return p || null;
  } catch {
    return null;
  }
}

/** A named parameter of a statement compiled once: `p('sha256')` where its value goes. */
const PARAM = '\u0000pooltag-param:';
export const p = (name: string): string => PARAM + name;

export type Row = Record<string, unknown>;
export type Params = Record<string, unknown>;

/** A value as the driver takes it (better-sqlite3 takes neither booleans nor undefined). */
function bind(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** A statement compiled once; run with named parameters. */
export interface Statement {
  all<R = Row>(params?: Params): Promise<R[]>;
  get<R = Row>(params?: Params): Promise<R | undefined>;
  /** The first column of every row. */
  pluck<V = unknown>(params?: Params): Promise<V[]>;
  run(params?: Params): Promise<void>;
}

/** Where queries go: the root (SQLite's one connection, or PostgreSQL's pool), or the connection of the open transaction. */
export interface QueryTarget {
  readonly backend: Backend;
  /** Kysely over the whole base: what queries compile with. */
  readonly k: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The connection queries go to now. */
  readonly q: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly sqlite: Database.Database | null;
}

/** A builder's or a `sql` template's SQL for the target's backend. */
function compile(target: QueryTarget, query: Compilable | RawBuilder<unknown>): CompiledQuery {
  return (query as RawBuilder<unknown>).compile(target.k);
}

export function compileStatement(target: QueryTarget, query: Compilable | RawBuilder<unknown>): Statement {
  const compiled = compile(target, query);
  const names = compiled.parameters.map((v) => {
    if (typeof v !== 'string' || !v.startsWith(PARAM)) throw new Error(`statement parameter is not named with p(): ${String(v)}`);
    return v.slice(PARAM.length);
  });
  const args = (params: Params = {}) => names.map((n) => bind(params[n]));
  if (target.sqlite) {
    const s = target.sqlite.prepare(compiled.sql);
    const reader = s.reader;
    const pl = reader ? target.sqlite.prepare(compiled.sql).pluck() : null;
    return {
      all: async <R>(params?: Params) => s.all(...args(params)) as R[],
      get: async <R>(params?: Params) => s.get(...args(params)) as R | undefined,
      pluck: async <V>(params?: Params) => pl!.all(...args(params)) as V[],
      run: async (params?: Params) => {
        if (reader) s.all(...args(params));
        else s.run(...args(params));
      },
    };
  }
  const exec = async (params?: Params) => (await target.q.executeQuery(CompiledQuery.raw(compiled.sql, args(params)))).rows as Row[];
  return {
    all: async <R>(params?: Params) => (await exec(params)) as R[],
    get: async <R>(params?: Params) => (await exec(params))[0] as R | undefined,
    pluck: async <V>(params?: Params) => (await exec(params)).map((r) => firstColumn(r) as V),
    run: async (params?: Params) => {
      await exec(params);
    },
  };
}

export function firstColumn(r: Row): unknown {
  for (const k in r) return r[k];
  return undefined;
}

/** Runs a query built with Kysely (builder or `sql` template) where the target's queries go. */
export async function rows<R = Row>(target: QueryTarget, query: Compilable | RawBuilder<unknown>): Promise<R[]> {
  const compiled = compile(target, query);
  if (target.sqlite) {
    const s = target.sqlite.prepare(compiled.sql);
    const args = compiled.parameters.map(bind);
    if (s.reader) return s.all(...args) as R[];
    s.run(...args);
    return [];
  }
  return (await target.q.executeQuery(CompiledQuery.raw(compiled.sql, compiled.parameters as unknown[]))).rows as R[];
}

export async function pluck<V = unknown>(target: QueryTarget, query: Compilable | RawBuilder<unknown>): Promise<V[]> {
  return (await rows<Row>(target, query)).map((r) => firstColumn(r) as V);
}

export async function one<V = unknown>(target: QueryTarget, query: Compilable | RawBuilder<unknown>): Promise<V | undefined> {
  const r = await rows<Row>(target, query);
  return r.length ? (firstColumn(r[0]) as V) : undefined;
}

/** A Kysely over a better-sqlite3 database (queries compile to SQLite's SQL). */
export function sqliteKysely(db: Database.Database): Kysely<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Kysely({ dialect: new SqliteDialect({ database: db }) });
}

/**
 * A Kysely over a PostgreSQL pool. 64-bit integers (`count(*)`, BIGINT columns) and numerics
 * (`sum`) come back as numbers, as SQLite gives them: every count and id the base holds fits in 2^53.
 */
export function postgresKysely(pgModule: typeof pg, url: string, max = 4): { k: Kysely<any>; pool: pg.Pool } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const types = {
    getTypeParser: (oid: number, format?: string) => {
      if (oid === 20 || oid === 1700) return (v: string) => (v === null ? null : Number(v));
      return pgModule.types.getTypeParser(oid, format as 'text');
    },
  };
  const pool = new pgModule.Pool({ connectionString: url, max, types: types as pg.CustomTypesConfig, connectionTimeoutMillis: 15_000 });
  // an idle client's error (the server went away) must not end the process: the next query says so
  pool.on('error', () => undefined);
  return { k: new Kysely({ dialect: new PostgresDialect({ pool }) }), pool };
}
