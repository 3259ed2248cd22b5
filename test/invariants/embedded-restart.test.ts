import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestClient, personRequest } from '../support/client.js';
import { spawnService } from '../support/process.js';

/** The one-command start: embedded PGlite in CHITTYID_DATA_DIR with a generated, kept key. */
describe('embedded database across restarts (PGlite in CHITTYID_DATA_DIR)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chittyid-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('generates its sequence key once (mode 0600), keeps it, and answers idempotent retries after a restart', async () => {
    const env = { CHITTYID_DATA_DIR: dataDir };
    const first = await spawnService(env, 60_000);
    let client = createTestClient(first.address);
    const keyed = await client.mint(personRequest({ idempotencyKey: 'embedded-1' }));
    const batch = (await client.mintBatch({ ...personRequest(), count: 200 })).ids;
    client.close();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const keyFile = join(dataDir, 'sequence.key');
    const key = readFileSync(keyFile, 'utf8');
    expect(key.trim().length).toBeGreaterThanOrEqual(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const second = await spawnService(env, 60_000);
    client = createTestClient(second.address);
    expect((await client.mint(personRequest({ idempotencyKey: 'embedded-1' }))).id!.value).toBe(keyed.id!.value);
    expect((await client.resolve({ id: batch[199]! })).record!.id!.value).toBe(batch[199]);
    const more = (await client.mintBatch({ ...personRequest(), count: 200 })).ids;
    expect(new Set([keyed.id!.value, ...batch, ...more]).size).toBe(401);
    client.close();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
  });
});
