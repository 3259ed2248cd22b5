import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // The sequence counter: one row, advanced in leased blocks under a row lock.
  await db.schema
    .createTable('sequence_counter')
    .addColumn('singleton', 'boolean', (c) => c.primaryKey().defaultTo(true).check(sql`singleton`))
    .addColumn('next_value', 'bigint', (c) => c.notNull())
    .addColumn('limit_value', 'bigint', (c) => c.notNull())
    .execute();
  await sql`INSERT INTO sequence_counter (singleton, next_value, limit_value) VALUES (true, 0, 1000000000000)`.execute(db);

  await db.schema
    .createTable('sequence_leases')
    .addColumn('lease_id', 'bigserial', (c) => c.primaryKey())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('start_value', 'bigint', (c) => c.notNull())
    .addColumn('end_value', 'bigint', (c) => c.notNull())
    .addColumn('leased_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('service_settings')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The components are generated from the ID, so they can never disagree with it, and a write
  // carries only the ID and what the caller supplied.
  await sql`
    CREATE TABLE chitty_ids (
      id              text PRIMARY KEY CHECK (id ~ '^04-[1-9]-[A-Z]{3}-[0-9]{12}-[PLTEA]-[0-9]{4}-[0-5]-[0-9]{2}$'),
      version         text GENERATED ALWAYS AS (substr(id, 1, 2)) STORED,
      region          smallint GENERATED ALWAYS AS (substr(id, 4, 1)::smallint) STORED,
      jurisdiction    text GENERATED ALWAYS AS (substr(id, 6, 3)) STORED,
      sequence        text GENERATED ALWAYS AS (substr(id, 10, 12)) STORED,
      entity_type     text GENERATED ALWAYS AS (substr(id, 23, 1)) STORED,
      yymm            text GENERATED ALWAYS AS (substr(id, 25, 4)) STORED,
      trust_level     smallint GENERATED ALWAYS AS (substr(id, 30, 1)::smallint) STORED,
      checksum        text GENERATED ALWAYS AS (substr(id, 32, 2)) STORED,
      metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
      state           text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'REVOKED')),
      principal       text NOT NULL,
      idempotency_key text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      revoked_at      timestamptz,
      revoked_reason  text,
      revoked_by      text
    )`.execute(db);

  // One row per (principal, idempotency key): the request fingerprint and the IDs answered.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('ids', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['principal', 'idempotency_key'])
    .execute();

  await db.schema
    .createTable('id_audit_log')
    .addColumn('audit_id', 'bigserial', (c) => c.primaryKey())
    .addColumn('chitty_id', 'text', (c) => c.notNull().references('chitty_ids.id'))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('previous_state', 'text', (c) => c.notNull())
    .addColumn('new_state', 'text', (c) => c.notNull())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('id_audit_log_chitty_id').on('id_audit_log').column('chitty_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['id_audit_log', 'idempotency_keys', 'chitty_ids', 'service_settings', 'sequence_leases', 'sequence_counter']) {
    await db.schema.dropTable(table).execute();
  }
}
