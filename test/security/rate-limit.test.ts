import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, personRequest } from '../support/client.js';
import { hasPostgres, openBackend } from '../support/databases.js';
import { startServer, type RunningServer } from '../support/servers.js';
import { writeKeysFile, type KeysFile } from './helpers.js';

// Per-principal rate limiting (README "Rate limiting"): token bucket, RESOURCE_EXHAUSTED with the
// trailer retry-after-ms, nothing written for a limited call, MintBatch costing its count.
// RPS is 2 with a burst of 5: six sequential calls finish well within the 500 ms one token takes to
// come back, so "the sixth call is limited" holds even on a slow, busy machine.

const backend = hasPostgres() ? 'postgres' : 'pglite';
const RPS = 2;
const BURST = 5;
const ANY_ID = '04-1-USA-493027518264-P-2612-0-90';
const PRINCIPALS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'] as const;

/** The ServiceError a call fails with (fails the test if it succeeds). */
async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** The retry-after-ms trailer of a RESOURCE_EXHAUSTED error, checked to be a positive integer. */
function retryAfterMs(err: ServiceError): number {
  expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  const values = err.metadata.get('retry-after-ms');
  expect(values).toHaveLength(1);
  expect(values[0]).toMatch(/^[1-9]\d*$/);
  return Number(values[0]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`rate limiting over ${backend}`, () => {
  let keys: KeysFile;
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  const as = (p: (typeof PRINCIPALS)[number]): Metadata => bearer(keys.tokens[p]!);
  const validate = (p: (typeof PRINCIPALS)[number]) => s.client.validate({ id: ANY_ID }, as(p));

  beforeAll(async () => {
    keys = writeKeysFile(Object.fromEntries(PRINCIPALS.map((p) => [p, ['chittyid:mint', 'chittyid:read', 'chittyid:admin']])));
    db = await openBackend(backend);
    s = await startServer(db.handle, {
      CHITTYID_API_KEYS_FILE: keys.path, CHITTYID_RATE_LIMIT_RPS: String(RPS), CHITTYID_RATE_LIMIT_BURST: String(BURST), MAX_BATCH_SIZE: '100',
    });
  });
  afterAll(async () => {
    await s?.stop();
    await db?.close();
  });

  it('the sixth quick call is RESOURCE_EXHAUSTED with retry-after-ms; after that long a call succeeds', async () => {
    for (let i = 0; i < BURST; i++) await validate('alpha');
    const err = await failure(validate('alpha'));
    expect(err.details).toBe('rate limit exceeded for principal alpha');
    const wait = retryAfterMs(err);
    expect(wait).toBeLessThanOrEqual(1000 / RPS);
    // Another principal has its own bucket.
    for (let i = 0; i < BURST; i++) await validate('bravo');
    await sleep(wait);
    expect((await validate('alpha')).valid).toBe(true);
    // …and only one token came back.
    retryAfterMs(await failure(validate('alpha')));
  });

  it('every RPC is limited, each costing one token', async () => {
    const { id } = await s.client.mint(personRequest(), as('charlie'));
    await s.client.validate({ id: id!.value }, as('charlie'));
    await s.client.resolve({ id: id!.value }, as('charlie'));
    await s.client.revoke({ id: id!.value, reason: 'rate test' }, as('charlie'));
    await s.client.mintBatch({ ...personRequest(), count: 1 }, as('charlie'));
    for (const call of [
      () => s.client.mint(personRequest(), as('charlie')),
      () => s.client.mintBatch({ ...personRequest(), count: 1 }, as('charlie')),
      () => s.client.validate({ id: id!.value }, as('charlie')),
      () => s.client.resolve({ id: id!.value }, as('charlie')),
      () => s.client.revoke({ id: id!.value, reason: 'again' }, as('charlie')),
    ]) retryAfterMs(await failure(call()));
  });

  it('a rate-limited Mint or MintBatch writes nothing', async () => {
    for (let i = 0; i < BURST; i++) await validate('delta');
    const count = async () => {
      const r = await db.handle.db.selectFrom('chitty_ids').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(r.n);
    };
    const before = await count();
    const key = `limited-${Date.now()}`;
    retryAfterMs(await failure(s.client.mint(personRequest({ idempotencyKey: key }), as('delta'))));
    retryAfterMs(await failure(s.client.mintBatch({ ...personRequest({ idempotencyKey: `${key}-b` }), count: 3 }, as('delta'))));
    const keyed = await db.handle.db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', 'in', [key, `${key}-b`]).execute();
    expect(keyed).toEqual([]);
    const byKey = await db.handle.db.selectFrom('chitty_ids').select('id').where('idempotency_key', 'in', [key, `${key}-b`]).execute();
    expect(byKey).toEqual([]);
    expect(await count()).toBe(before);
  });

  it('MintBatch costs its count', async () => {
    expect((await s.client.mintBatch({ ...personRequest(), count: 3 }, as('echo'))).ids).toHaveLength(3);
    // 2 tokens left: a batch of 3 is refused, and the hint is the time for the missing one.
    const wait = retryAfterMs(await failure(s.client.mintBatch({ ...personRequest(), count: 3 }, as('echo'))));
    expect(wait).toBeLessThanOrEqual(1000 / RPS);
    // …but two single calls still fit.
    await validate('echo');
    await validate('echo');
    retryAfterMs(await failure(validate('echo')));
  });

  it('a MintBatch larger than the burst costs the burst: possible with a full bucket, and it empties it', async () => {
    expect((await s.client.mintBatch({ ...personRequest(), count: 50 }, as('foxtrot'))).ids).toHaveLength(50);
    const wait = retryAfterMs(await failure(validate('foxtrot')));
    expect(wait).toBeLessThanOrEqual(1000 / RPS);
    await sleep(wait);
    await validate('foxtrot');
    // With the bucket not full, a big batch must wait for all BURST tokens (at most BURST / RPS s).
    const big = retryAfterMs(await failure(s.client.mintBatch({ ...personRequest(), count: 50 }, as('foxtrot'))));
    expect(big).toBeGreaterThan(1000 / RPS);
    expect(big).toBeLessThanOrEqual((BURST * 1000) / RPS);
  });
});

