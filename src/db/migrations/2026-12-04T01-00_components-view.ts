import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
//
// The ID's components move from eight STORED generated columns to a view. Measured with
// loadtest/raw-pg-baseline.mjs (1000-row unnest inserts, 8 connections, this 2-core machine):
// generated columns plus the regex CHECK ~175k rows/s, neither ~268k rows/s. The components are
// fixed-offset substrings of the primary key, so the view can never disagree with the ID, and an
// expression index can serve any component a query needs to filter on.

const COMPONENT_COLUMNS = ['version', 'region', 'jurisdiction', 'sequence', 'entity_type', 'yymm', 'trust_level', 'checksum'];

export async function up(db: Kysely<any>): Promise<void> {
  for (const column of COMPONENT_COLUMNS) await db.schema.alterTable('chitty_ids').dropColumn(column).execute();
  // The application validates every ID it writes; the table keeps a cheap guard on shape.
  await sql`ALTER TABLE chitty_ids DROP CONSTRAINT chitty_ids_id_check`.execute(db);
  await sql`ALTER TABLE chitty_ids ADD CONSTRAINT chitty_ids_id_shape CHECK (char_length(id) = 33 AND left(id, 3) = '04-')`.execute(db);
  await sql`
    CREATE VIEW chitty_id_components AS
    SELECT id,
           substr(id, 1, 2)            AS version,
           substr(id, 4, 1)::smallint  AS region,
           substr(id, 6, 3)            AS jurisdiction,
           substr(id, 10, 12)          AS sequence,
           substr(id, 23, 1)           AS entity_type,
           substr(id, 25, 4)           AS yymm,
           substr(id, 30, 1)::smallint AS trust_level,
           substr(id, 32, 2)           AS checksum,
           metadata, state, principal, idempotency_key, created_at, revoked_at, revoked_reason, revoked_by
    FROM chitty_ids`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW chitty_id_components`.execute(db);
  await sql`ALTER TABLE chitty_ids DROP CONSTRAINT chitty_ids_id_shape`.execute(db);
  await sql`ALTER TABLE chitty_ids ADD CONSTRAINT chitty_ids_id_check CHECK (id ~ '^04-[1-9]-[A-Z]{3}-[0-9]{12}-[PLTEA]-[0-9]{4}-[0-5]-[0-9]{2}$')`.execute(db);
  const generated: Record<string, string> = {
    version: 'text GENERATED ALWAYS AS (substr(id, 1, 2)) STORED',
    region: 'smallint GENERATED ALWAYS AS (substr(id, 4, 1)::smallint) STORED',
    jurisdiction: 'text GENERATED ALWAYS AS (substr(id, 6, 3)) STORED',
    sequence: 'text GENERATED ALWAYS AS (substr(id, 10, 12)) STORED',
    entity_type: 'text GENERATED ALWAYS AS (substr(id, 23, 1)) STORED',
    yymm: 'text GENERATED ALWAYS AS (substr(id, 25, 4)) STORED',
    trust_level: 'smallint GENERATED ALWAYS AS (substr(id, 30, 1)::smallint) STORED',
    checksum: 'text GENERATED ALWAYS AS (substr(id, 32, 2)) STORED',
  };
  for (const column of COMPONENT_COLUMNS) await sql.raw(`ALTER TABLE chitty_ids ADD COLUMN ${column} ${generated[column]}`).execute(db);
}
