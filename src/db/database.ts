import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PgliteDialect } from './pglite-dialect.js';
import type { Database } from './tables.js';
import { ConfigError } from '../config.js';

/** The service's database handle: Kysely over PostgreSQL (pg) or the embedded PGlite. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: 'postgres' | 'pglite';
  /** Resolves when a trivial query succeeds; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly poolSize: number;
}

// bigint (int8) columns come back as strings unless parsed; all ours stay below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize,
      // Fail fast when PostgreSQL is down, so callers get UNAVAILABLE instead of waiting.
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    // Nor a checked-out one between two queries (pg-pool detaches its listener while a client is
    // lent out, e.g. inside a transaction): the next query on it fails, and release discards it.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'postgres',
      async ping() { await sql`select 1`.execute(db); },
      async close() { await db.destroy(); },
    };
  }
  const { PGlite } = await importPglite();
  mkdirSync(options.dataDir, { recursive: true });
  const pglite = await PGlite.create(`${options.dataDir.replace(/\/$/, '')}/pglite`);
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    async ping() { await sql`select 1`.execute(db); },
    async close() { await db.destroy(); },
  };
}

/**
 * PGlite is an optional dependency: the container image leaves it out (it is 20 MB) and runs on
 * PostgreSQL, so without it DATABASE_URL is required.
 */
async function importPglite(): Promise<typeof import('@electric-sql/pglite')> {
  try {
    return await import('@electric-sql/pglite');
  } catch (err) {
    throw new ConfigError('DATABASE_URL: required here, because the embedded database (@electric-sql/pglite) is not installed', { cause: err });
  }
}

/** Wraps an existing PGlite instance (tests share one per file because creating one is slow). */
export function wrapPglite(pglite: import('@electric-sql/pglite').PGlite): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    async ping() { await sql`select 1`.execute(db); },
    async close() { /* owned by the caller */ },
  };
}
