import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClient, personRequest } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { spawnService } from '../support/process.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';

/**
 * Durability and idempotency across process lifetimes, with the service run as production runs
 * it (node dist/src/main.js) and killed with SIGKILL mid-load.
 */
describe.skipIf(!hasPostgres())('restarts and kill -9 (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    env = { DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, CHITTYID_SEQUENCE_BLOCK_SIZE: '500' };
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('after a restart: no duplicate, and idempotency keys answer the same IDs', async () => {
    const first = await spawnService(env);
    let client = createTestClient(first.address);
    const keyed = await client.mint(personRequest({ idempotencyKey: 'restart-single' }));
    const keyedBatch = await client.mintBatch({ ...personRequest({ idempotencyKey: 'restart-batch' }), count: 100 });
    const before = (await client.mintBatch({ ...personRequest(), count: 300 })).ids;
    client.close();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawnService(env);
    client = createTestClient(second.address);
    expect((await client.mint(personRequest({ idempotencyKey: 'restart-single' }))).id!.value).toBe(keyed.id!.value);
    expect((await client.mintBatch({ ...personRequest({ idempotencyKey: 'restart-batch' }), count: 100 })).ids).toEqual(keyedBatch.ids);
    const after = (await client.mintBatch({ ...personRequest(), count: 300 })).ids;
    const all = [keyed.id!.value, ...keyedBatch.ids, ...before, ...after];
    expect(new Set(all).size).toBe(all.length);
    client.close();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('killed with SIGKILL under load: every ID a client received resolves after restart, none repeats', async () => {
    const victim = await spawnService(env);
    const client = createTestClient(victim.address);
    const acknowledged: string[] = [];
    let failures = 0;
    let stop = false;
    const worker = async (n: number) => {
      for (let i = 0; !stop && i < 10_000; i++) {
        try {
          if ((n + i) % 5 === 0) acknowledged.push(...(await client.mintBatch({ ...personRequest(), count: 50 }, undefined, 5000)).ids);
          else acknowledged.push((await client.mint(personRequest({ idempotencyKey: `k9-${n}-${i}` }), undefined, 5000)).id!.value);
        } catch {
          failures++;
          return; // the server is gone
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, n) => worker(n)));
    // Let the load run (at least 1.5 s and 300 acknowledged IDs, at most 20 s on a busy
    // machine), then kill the process without warning.
    const loadStarted = Date.now();
    while (Date.now() - loadStarted < 20_000 && (Date.now() - loadStarted < 1500 || acknowledged.length < 300)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    victim.child.kill('SIGKILL');
    stop = true;
    await load;
    expect(await victim.exited).toBe('SIGKILL');
    client.close();
    expect(acknowledged.length).toBeGreaterThan(200);
    expect(failures).toBeGreaterThan(0); // calls were in flight when it died

    const revived = await spawnService(env);
    const reader = createTestClient(revived.address);
    const unresolved: string[] = [];
    for (let i = 0; i < acknowledged.length; i += 64) {
      const chunk = acknowledged.slice(i, i + 64);
      const results = await Promise.allSettled(chunk.map((id) => reader.resolve({ id })));
      results.forEach((r, j) => { if (r.status === 'rejected') unresolved.push(chunk[j]!); });
    }
    expect(unresolved).toEqual([]);
    // New IDs after the crash never repeat an acknowledged one (the burnt block is not reused).
    const fresh = (await reader.mintBatch({ ...personRequest(), count: 1000 })).ids;
    const all = [...acknowledged, ...fresh];
    expect(new Set(all).size).toBe(all.length);
    reader.close();
    revived.child.kill('SIGTERM');
    expect(await revived.exited).toBe(0);
  });
});
