import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityType } from '../../src/gen/chittyid/v1/chittyid.js';
import { personRequest } from '../support/client.js';
import { hasPostgres, openBackend } from '../support/databases.js';
import { startServer, type RunningServer } from '../support/servers.js';

/**
 * Tries to break "unique forever": two server instances on one PostgreSQL, both configured with
 * the same CHITTYID_NODE_ID and tiny lease blocks (so they lease constantly and race for the
 * counter row), hammered with concurrent Mint and MintBatch calls.
 */
describe.skipIf(!hasPostgres())('uniqueness across replicas sharing one PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof openBackend>>;
  let db2: Awaited<ReturnType<typeof openBackend>>;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    db = await openBackend('postgres');
    // The second replica has its own pool of connections to the same database.
    const { openDatabase } = await import('../../src/db/database.js');
    const handle2 = await openDatabase({ databaseUrl: db.url, dataDir: '', poolSize: 8 });
    db2 = { handle: handle2, url: db.url, close: () => handle2.close() };
    const env = { CHITTYID_NODE_ID: '7', CHITTYID_SEQUENCE_BLOCK_SIZE: '37' };
    [a, b] = await Promise.all([startServer(db.handle, env), startServer(db2.handle, env)]);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db2?.close();
    await db?.close();
  });

  it('never returns the same ID twice, and every returned ID is stored once', async () => {
    const calls: Promise<string[]>[] = [];
    for (let i = 0; i < 400; i++) {
      const server = i % 2 === 0 ? a : b;
      calls.push(i % 10 === 0
        ? server.client.mintBatch({ entityType: EntityType.ENTITY_TYPE_THING, jurisdiction: 'USA', count: 250 }).then((r) => r.ids)
        : server.client.mint(personRequest()).then((r) => [r.id!.value]));
    }
    const ids = (await Promise.all(calls)).flat();
    expect(ids).toHaveLength(40 * 250 + 360);
    expect(new Set(ids).size).toBe(ids.length);
    // Sequences alone are unique too (the counter, not the type or jurisdiction, makes IDs unique).
    expect(new Set(ids.map((id) => id.slice(9, 21))).size).toBe(ids.length);
    const row = await db.handle.db.selectFrom('chitty_ids').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(row.n)).toBe(ids.length);
    // Leases never overlapped, although both replicas use node id 7.
    const leases = await db.handle.db.selectFrom('sequence_leases').select(['start_value', 'end_value', 'node_id']).orderBy('start_value').execute();
    expect(leases.length).toBeGreaterThanOrEqual(4);
    expect(new Set(leases.map((l) => l.node_id))).toEqual(new Set([7]));
    for (let i = 1; i < leases.length; i++) expect(Number(leases[i]!.start_value)).toBeGreaterThanOrEqual(Number(leases[i - 1]!.end_value));
  });
});

describe('uniqueness when the wall clock moves backwards (PGlite)', () => {
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  let now = Date.UTC(2026, 11, 15);

  beforeAll(async () => {
    db = await openBackend('pglite');
    s = await startServer(db.handle, { CHITTYID_SEQUENCE_BLOCK_SIZE: '10' }, { clock: { now: () => now } });
  });
  afterAll(async () => {
    await s?.stop();
    await db?.close();
  });

  it('keeps minting unique IDs across a jump back of months and forth again', async () => {
    const ids: string[] = [];
    for (const t of [Date.UTC(2026, 11, 15), Date.UTC(2026, 5, 1), Date.UTC(2025, 0, 1), Date.UTC(2026, 11, 15), Date.UTC(2026, 11, 14)]) {
      now = t;
      const round = await Promise.all(Array.from({ length: 30 }, () => s.client.mint(personRequest())));
      ids.push(...round.map((r) => r.id!.value));
      ids.push(...(await s.client.mintBatch({ ...personRequest(), count: 40 })).ids);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(9, 21))).size).toBe(ids.length);
    // YYMM follows the (moved) clock, which is all the clock is used for.
    expect(ids.some((id) => id.includes('-2606-'))).toBe(true);
    expect(ids.some((id) => id.includes('-2501-'))).toBe(true);
  });
});
