import { status } from '@grpc/grpc-js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, personRequest } from '../support/client.js';
import { openBackend } from '../support/databases.js';
import { startServer } from '../support/servers.js';
import { createServer } from '../../src/server.js';
import { testConfig } from '../support/servers.js';

describe('sequence space and key (PGlite)', () => {
  let db: Awaited<ReturnType<typeof openBackend>>;

  beforeAll(async () => { db = await openBackend('pglite'); });
  afterAll(async () => { await db?.close(); });

  it('exhausting the space is RESOURCE_EXHAUSTED, never a wrap', async () => {
    const s = await startServer(db.handle, { CHITTYID_SEQUENCE_BLOCK_SIZE: '5' });
    try {
      await s.client.mint(personRequest()); // migrations ran; counters exist
      // Move the shared counter to 12 short of the end of the 10^12 space.
      await sql`UPDATE sequence_counter SET next_value = limit_value - 12`.execute(db.handle.db);
      const ids: string[] = [];
      // The server still holds a block from before; use it up, then the last 12 counters.
      for (let i = 0; i < 20; i++) {
        try { ids.push((await s.client.mint(personRequest())).id!.value); } catch { break; }
      }
      const e = await codeOf(s.client.mint(personRequest()));
      expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(e.details).toMatch(/sequence space is exhausted/);
      expect((await codeOf(s.client.mintBatch({ ...personRequest(), count: 2 }))).code).toBe(status.RESOURCE_EXHAUSTED);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBeGreaterThanOrEqual(12);
      const counter = await sql<{ next_value: number; limit_value: number }>`SELECT next_value, limit_value FROM sequence_counter`.execute(db.handle.db);
      expect(Number(counter.rows[0]!.next_value)).toBe(Number(counter.rows[0]!.limit_value));
    } finally {
      await s.stop();
      await sql`UPDATE sequence_counter SET next_value = 1000`.execute(db.handle.db);
    }
  });

  it('refuses to start with a different sequence key than the database was minted with', async () => {
    const s = await startServer(db.handle);
    await s.stop();
    await expect(createServer(testConfig({ CHITTYID_SEQUENCE_KEY: 'another-key-another-key-another-key!' }), { database: db.handle }))
      .rejects.toThrow(/^CHITTYID_SEQUENCE_KEY: differs from the key this database was minted with/);
  });
});
