import { Migrator, type Kysely } from 'kysely';
import { migrationProvider } from './migrations/index.js';

/** Runs every pending migration; Kysely's migration lock makes concurrent replicas safe. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new Error('database migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
