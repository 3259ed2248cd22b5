import { sql, type Kysely } from 'kysely';
import type { Database } from './tables.js';

/** A half-open range [start, end) of counters leased to one process. */
export interface CounterBlock {
  readonly start: number;
  readonly end: number;
}

export interface SequenceRepository {
  /**
   * Leases up to `size` counters. The counter row is locked for the transaction, so no two
   * processes (or replicas) can ever receive overlapping blocks. Returns undefined when the
   * space is exhausted.
   */
  leaseBlock(nodeId: number, size: number): Promise<CounterBlock | undefined>;
  /** Counters never leased yet. */
  remaining(): Promise<number>;
  /** Stores the fingerprint on first use; returns the fingerprint the database holds. */
  claimKeyFingerprint(fingerprint: string): Promise<string>;
}

export function createSequenceRepository(db: Kysely<Database>): SequenceRepository {
  return {
    async leaseBlock(nodeId, size) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('sequence_counter')
          .select(['next_value', 'limit_value'])
          .where('singleton', '=', true)
          .forUpdate()
          .executeTakeFirstOrThrow();
        const start = Number(row.next_value);
        const end = Math.min(start + size, Number(row.limit_value));
        if (end <= start) return undefined;
        await trx.updateTable('sequence_counter').set({ next_value: end }).where('singleton', '=', true).execute();
        await trx.insertInto('sequence_leases').values({ node_id: nodeId, start_value: start, end_value: end }).execute();
        return { start, end };
      });
    },

    async remaining() {
      const row = await db
        .selectFrom('sequence_counter')
        .select(sql<number>`limit_value - next_value`.as('remaining'))
        .executeTakeFirstOrThrow();
      return Number(row.remaining);
    },

    async claimKeyFingerprint(fingerprint) {
      await db
        .insertInto('service_settings')
        .values({ name: 'sequence_key_fingerprint', value: fingerprint })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await db
        .selectFrom('service_settings')
        .select('value')
        .where('name', '=', 'sequence_key_fingerprint')
        .executeTakeFirstOrThrow();
      return row.value;
    },
  };
}
