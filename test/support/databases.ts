import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { openDatabase, wrapPglite, type DatabaseHandle } from '../../src/db/database.js';

/** The PostgreSQL server the suite runs against ('' when none is available). */
export const postgresUrl = (): string => inject('postgresUrl');

/** Whether real PostgreSQL tests can run; the suite reports them skipped (with this reason) when not. */
export const hasPostgres = (): boolean => postgresUrl() !== '';

/** A fresh, empty PostgreSQL database for one test file, dropped by `drop()`. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(postgresUrl());
  const name = `chittyid_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      // An autovacuum worker on the database cannot be ended by a non-superuser (42501): retry.
      for (let attempt = 0; ; attempt++) {
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== '42501' || attempt >= 30) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      await c.end();
    },
  };
}

let sharedPglite: Promise<PGlite> | undefined;

/** One in-memory PGlite per test file (creating one takes seconds and ~750 MB). */
export function sharedPgliteInstance(): Promise<PGlite> {
  sharedPglite ??= import('@electric-sql/pglite').then(({ PGlite }) => PGlite.create());
  return sharedPglite;
}

export type Backend = 'postgres' | 'pglite';

/** A database handle for a backend; PostgreSQL ones get their own fresh database. */
export async function openBackend(backend: Backend): Promise<{ handle: DatabaseHandle; url: string | undefined; close(): Promise<void> }> {
  if (backend === 'pglite') {
    return { handle: wrapPglite(await sharedPgliteInstance()), url: undefined, close: async () => {} };
  }
  const database = await createPostgresDatabase();
  const handle = await openDatabase({ databaseUrl: database.url, dataDir: '', poolSize: 8 });
  return {
    handle,
    url: database.url,
    async close() {
      await handle.close();
      await database.drop();
    },
  };
}
