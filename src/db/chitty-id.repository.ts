import { sql, type Kysely } from 'kysely';
import type { ChittyIdTable, Database } from './tables.js';

/** The IDs of one accepted mint request, written in a group with others. */
export interface MintWrite {
  readonly principal: string;
  readonly ids: readonly string[];
  readonly metadataJson: string;
  /** Present when the caller sent an idempotency key. */
  readonly idempotency?: { readonly key: string; readonly requestHash: string };
}

export interface StoredIdempotency {
  readonly requestHash: string;
  readonly ids: readonly string[];
}

/** A registered ID as the service sees it (no row types leave this file). */
export interface IdRecordRow {
  readonly id: string;
  readonly metadata: Record<string, string>;
  readonly state: 'ACTIVE' | 'REVOKED';
  readonly principal: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly revokedReason: string | null;
  readonly revokedBy: string | null;
}

export type RevokeOutcome =
  | { readonly kind: 'revoked'; readonly record: IdRecordRow }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'already_revoked'; readonly record: IdRecordRow };

export interface ChittyIdRepository {
  /**
   * Commits a group of mint writes in one transaction. Returns, per write, whether it was
   * stored; false means its idempotency key was already taken (by an earlier or concurrent
   * request) and none of its IDs were written.
   */
  commitMints(writes: readonly MintWrite[]): Promise<boolean[]>;
  findIdempotency(principal: string, key: string): Promise<StoredIdempotency | undefined>;
  findById(id: string): Promise<IdRecordRow | undefined>;
  revoke(id: string, reason: string, principal: string, nodeId: number): Promise<RevokeOutcome>;
}

const RECORD_COLUMNS = [
  'id', 'metadata', 'state', 'principal', 'created_at', 'revoked_at', 'revoked_reason', 'revoked_by',
] as const;

type RecordColumns = Pick<ChittyIdTable, (typeof RECORD_COLUMNS)[number]>;

function toRecord(row: { [K in keyof RecordColumns]: unknown }): IdRecordRow {
  return {
    id: row.id as string,
    metadata: (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata) as Record<string, string>,
    state: row.state as 'ACTIVE' | 'REVOKED',
    principal: row.principal as string,
    createdAt: new Date(row.created_at as Date),
    revokedAt: row.revoked_at ? new Date(row.revoked_at as Date) : null,
    revokedReason: (row.revoked_reason as string | null) ?? null,
    revokedBy: (row.revoked_by as string | null) ?? null,
  };
}

/**
 * Inserts the IDs of several writes with one statement: rows are unnested from arrays, and each
 * row takes its write's metadata, principal and key by subscript. Writes with the same metadata,
 * principal and key share one entry (a group of plain Mints is one), and the IDs and subscripts
 * travel as comma-joined text, which pg sends without escaping each element (IDs hold no comma).
 */
async function insertIds(db: Kysely<Database>, writes: readonly MintWrite[]): Promise<void> {
  const ids: string[] = [];
  const writeIndex: number[] = [];
  const metadata: string[] = [];
  const principals: string[] = [];
  const keys: (string | null)[] = [];
  const entryOf = new Map<string, number>();
  for (const w of writes) {
    const key = w.idempotency?.key ?? null;
    const identity = `${w.principal}\u0000${key ?? ''}\u0000${key === null ? 0 : 1}\u0000${w.metadataJson}`;
    let n = entryOf.get(identity);
    if (n === undefined) {
      metadata.push(w.metadataJson);
      principals.push(w.principal);
      keys.push(key);
      n = metadata.length;
      entryOf.set(identity, n);
    }
    for (const id of w.ids) { ids.push(id); writeIndex.push(n); }
  }
  if (ids.length === 0) return;
  await sql`
    INSERT INTO chitty_ids (id, metadata, principal, idempotency_key)
    SELECT r.id, (${metadata}::jsonb[])[r.w], (${principals}::text[])[r.w], (${keys}::text[])[r.w]
    FROM unnest(string_to_array(${ids.join(',')}, ','), string_to_array(${writeIndex.join(',')}, ',')::int[]) AS r(id, w)`.execute(db);
}

export function createChittyIdRepository(db: Kysely<Database>): ChittyIdRepository {
  return {
    async commitMints(writes) {
      // Without idempotency keys the group is one INSERT statement, atomic on its own, so it
      // commits in one round trip instead of BEGIN / INSERT / COMMIT.
      if (writes.every((w) => w.idempotency === undefined)) {
        await insertIds(db, writes);
        return writes.map(() => true);
      }
      return db.transaction().execute(async (trx) => {
        const keyed = writes.map((w, i) => ({ w, i })).filter((x) => x.w.idempotency !== undefined);
        // ON CONFLICT DO NOTHING waits for a concurrent holder of the same key to commit, so
        // exactly one request wins each key; the others answer from the winner's row later.
        const won = await trx
          .insertInto('idempotency_keys')
          .values(keyed.map(({ w }) => ({
            principal: w.principal,
            idempotency_key: w.idempotency!.key,
            request_hash: w.idempotency!.requestHash,
            ids: sql<string[]>`${w.ids as string[]}::text[]`,
          })))
          .onConflict((oc) => oc.columns(['principal', 'idempotency_key']).doNothing())
          // Winners are told by their first (ASCII) ID, not by the key read back: PGlite's
          // decoder strips a leading U+FEFF from text results, so a key can come back changed.
          .returning(sql<string>`ids[1]`.as('first_id'))
          .execute();
        const winners = new Set(won.map((r) => r.first_id));
        const accepted = writes.map((w) => w.idempotency === undefined || winners.has(w.ids[0]!));
        await insertIds(trx, writes.filter((_, i) => accepted[i]));
        return accepted;
      });
    },

    async findIdempotency(principal, key) {
      const row = await db
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'ids'])
        .where('principal', '=', principal)
        .where('idempotency_key', '=', key)
        .executeTakeFirst();
      return row ? { requestHash: row.request_hash, ids: row.ids } : undefined;
    },

    async findById(id) {
      const row = await db.selectFrom('chitty_ids').select(RECORD_COLUMNS).where('id', '=', id).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },

    async revoke(id, reason, principal, nodeId) {
      return db.transaction().execute(async (trx): Promise<RevokeOutcome> => {
        const current = await trx.selectFrom('chitty_ids').select(RECORD_COLUMNS).where('id', '=', id).forUpdate().executeTakeFirst();
        if (!current) return { kind: 'not_found' };
        if (current.state === 'REVOKED') return { kind: 'already_revoked', record: toRecord(current) };
        const updated = await trx
          .updateTable('chitty_ids')
          .set({ state: 'REVOKED', revoked_at: sql`now()`, revoked_reason: reason, revoked_by: principal })
          .where('id', '=', id)
          .returning(RECORD_COLUMNS)
          .executeTakeFirstOrThrow();
        await trx.insertInto('id_audit_log').values({
          chitty_id: id, action: 'REVOKE', previous_state: current.state, new_state: 'REVOKED',
          principal, reason, node_id: nodeId,
        }).execute();
        return { kind: 'revoked', record: toRecord(updated) };
      });
    },
  };
}
