import { status, type ServiceError } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, createTestClient, personRequest, type TestClient } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';
import { checkHealth, healthClient, ready, sleep } from './support/probes.js';
import { exitWithin, startService, type OpsService } from '../support/process.js';

/**
 * README "Signals and shutdown" and SPEC §5, against `node dist/src/main.js` on a fresh
 * PostgreSQL database: SIGTERM reports NOT_SERVING and /ready 503 first, refuses new calls with
 * UNAVAILABLE, finishes in-flight calls, commits pending writes and exits 0 well within the
 * orchestrator's 30 s; a second SIGTERM exits at once with 130.
 *
 * To make the drain observable, the test holds the `sequence_counter` row locked in a
 * transaction of its own: with a small CHITTYID_SEQUENCE_BLOCK_SIZE a large MintBatch needs a
 * new lease, so it stays in flight (blocked in PostgreSQL) until the test lets go.
 */

/** Far below the SOP's 30 s grace period, and far above what the drain takes on a loaded machine. */
const SHUTDOWN_BOUND_MS = 10_000;

interface Outcome {
  readonly method: 'Mint' | 'MintBatch';
  readonly started: number;
  readonly ended: number;
  readonly code: number;
  readonly details: string;
  readonly ids: readonly string[];
}

/** Every ID in `ids` that has no row in chitty_ids. */
async function missingFromDatabase(admin: pg.Client, ids: readonly string[]): Promise<string[]> {
  const { rows } = await admin.query<{ id: string }>('SELECT id FROM chitty_ids WHERE id = ANY($1::text[])', [ids]);
  const found = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !found.has(id));
}

/** Holds `SELECT … FOR UPDATE` on the sequence counter, so the service's next lease waits. */
async function lockSequenceCounter(url: string): Promise<{ release(): Promise<void> }> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT * FROM sequence_counter FOR UPDATE');
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end().catch(() => {});
    },
  };
}

/** Waits until some backend of this database is blocked on a lock (the service's lease). */
async function waitForLockWaiter(admin: pg.Client): Promise<void> {
  await expect.poll(async () => {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    return rows[0]!.n;
  }, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
}

/** A call's gRPC code and IDs, never throwing. */
async function settle(method: Outcome['method'], call: () => Promise<string[]>): Promise<Outcome> {
  const started = performance.now();
  try {
    const ids = await call();
    return { method, started, ended: performance.now(), code: status.OK, details: '', ids };
  } catch (err) {
    const e = err as ServiceError;
    return { method, started, ended: performance.now(), code: e.code, details: e.details, ids: [] };
  }
}

describe.skipIf(!hasPostgres())('graceful shutdown of a service process (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let admin: pg.Client;
  const services: OpsService[] = [];
  const clients: TestClient[] = [];

  const spawn = async (extra: Record<string, string> = {}): Promise<OpsService> => {
    const service = await startService({
      DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, UV_THREADPOOL_SIZE: '2', ...extra,
    });
    services.push(service);
    return service;
  };
  /** Its own connection (local subchannel pool), as separate client processes would have. */
  const client = (address: string): TestClient => {
    const c = createTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    database = await createPostgresDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of services) await s.kill();
    await admin?.end().catch(() => {});
    await database?.drop();
  });

  it('SIGTERM under concurrent Mint + MintBatch load: exit 0 within 10 s, every ID received is committed, no call ends INTERNAL', async () => {
    const service = await spawn({ CHITTYID_SEQUENCE_BLOCK_SIZE: '2000' });
    const loadClients = Array.from({ length: 4 }, () => client(service.address));
    const outcomes: Outcome[] = [];
    const hardStop = performance.now() + 25_000;

    const worker = async (c: TestClient, n: number): Promise<void> => {
      for (let i = 0; i < 5000 && !service.hasExited() && performance.now() < hardStop; i++) {
        const outcome = (n + i) % 4 === 0
          ? await settle('MintBatch', async () => (await c.mintBatch({ ...personRequest(), count: 25 + (i % 4) * 25 }, undefined, 10_000)).ids)
          : await settle('Mint', async () => [(await c.mint(personRequest(i % 3 === 0 ? { idempotencyKey: `w${n}-${i}` } : {}), undefined, 10_000)).id!.value]);
        outcomes.push(outcome);
        // Refused (shutting down or gone): back off a little instead of spinning.
        if (outcome.code !== status.OK) await sleep(20);
      }
    };
    const load = Promise.all(loadClients.flatMap((c, k) => Array.from({ length: 4 }, (_, j) => worker(c, k * 4 + j))));

    // Let the load reach a steady state before the signal.
    const loadStarted = performance.now();
    await expect.poll(() => outcomes.filter((o) => o.code === status.OK).length, { timeout: 15_000, interval: 50 }).toBeGreaterThan(1000);
    await sleep(500);
    const probe = healthClient(service.address);
    const signalled = performance.now();
    service.child.kill('SIGTERM');

    // Watch readiness while the process drains: once it says "not serving", it never goes back.
    const observations: { health: string; ready: number }[] = [];
    while (!service.hasExited() && performance.now() - signalled < SHUTDOWN_BOUND_MS + 5000) {
      const [health, r] = await Promise.all([checkHealth(probe, '', 1000), ready(service.httpPort, 1000)]);
      if (!service.hasExited()) observations.push({ health, ready: r.status });
      await sleep(5);
    }
    const exit = await service.exited;
    const shutdownMs = exit.at - signalled;
    await load;
    probe.close();

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(shutdownMs).toBeLessThan(SHUTDOWN_BOUND_MS);
    const log = service.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    const complete = log.find((l) => l.msg === 'shutdown complete');
    expect(complete).toBeDefined();
    console.info(`shutdown under load: exit ${exit.code} ${Math.round(shutdownMs)} ms after SIGTERM (drain ${String(complete!.durationMs)} ms), ` +
      `${outcomes.length} calls (${outcomes.flatMap((o) => o.ids).length} IDs) in ${Math.round(exit.at - loadStarted)} ms, ` +
      `${observations.length} readiness observations during the drain: ${JSON.stringify(observations.slice(0, 4))}`);

    // Before the signal every call succeeded; from then on only OK or UNAVAILABLE, never INTERNAL.
    const before = outcomes.filter((o) => o.ended < signalled);
    const after = outcomes.filter((o) => o.ended >= signalled);
    expect(before.filter((o) => o.code !== status.OK)).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.code !== status.OK && o.code !== status.UNAVAILABLE)).toEqual([]);
    // The signal landed mid-load: calls were in flight when it arrived.
    expect(outcomes.some((o) => o.started < signalled && o.ended > signalled)).toBe(true);

    // Readiness is monotonic during the drain: on each probe, SERVING/200 never follows NOT_SERVING/503.
    // (The two probes of one observation run concurrently, so they are compared each with itself.)
    const healthAfterDown = observations.map((o) => o.health).filter((_, i, all) => all.slice(0, i).includes('NOT_SERVING'));
    expect(healthAfterDown).not.toContain('SERVING');
    const readyAfterDown = observations.map((o) => o.ready).filter((_, i, all) => all.slice(0, i).includes(503));
    expect(readyAfterDown).not.toContain(200);

    // Every ID any client received (including after the signal) was committed, and none repeats.
    const received = outcomes.flatMap((o) => o.ids);
    expect(received.length).toBeGreaterThan(300);
    expect(new Set(received).size).toBe(received.length);
    expect(await missingFromDatabase(admin, received)).toEqual([]);
    // No "rpc failed" with INTERNAL in the service's own log either.
    expect(log.filter((l) => l.code === status.INTERNAL)).toEqual([]);

    // And a restarted service resolves them: all those acknowledged after the signal, and a sample of the rest.
    const revived = await spawn();
    const reader = client(revived.address);
    const sample = [...new Set([...after.flatMap((o) => o.ids), ...received.filter((_, i) => i % Math.ceil(received.length / 200) === 0)])];
    const resolved = await Promise.all(sample.map((id) => reader.resolve({ id }).then((r) => r.record!.id!.value, (e: ServiceError) => `${id}: ${e.details}`)));
    expect(resolved).toEqual(sample);
    revived.child.kill('SIGTERM');
    expect((await revived.exited).code).toBe(0);
  });

  it('during the drain: Check NOT_SERVING, /ready 503, new calls UNAVAILABLE; in-flight calls then finish and commit, exit 0', async () => {
    const service = await spawn({ CHITTYID_SEQUENCE_BLOCK_SIZE: '50', CHITTYID_SHUTDOWN_TIMEOUT_MS: '20000' });
    const c = client(service.address);
    const probe = healthClient(service.address);
    let lock: Awaited<ReturnType<typeof lockSequenceCounter>> | undefined;
    try {
      await c.mint(personRequest()); // leases the first block, warms the pool
      expect(await checkHealth(probe)).toBe('SERVING');
      expect((await ready(service.httpPort)).status).toBe(200);

      lock = await lockSequenceCounter(database.url);
      // Each batch needs more counters than a block holds, so it waits for a lease behind the lock.
      const inFlight = [1, 2, 3].map(() => settle('MintBatch', async () => (await c.mintBatch({ ...personRequest(), count: 200 }, undefined, 30_000)).ids));
      await waitForLockWaiter(admin);

      const signalled = performance.now();
      service.child.kill('SIGTERM');
      // Readiness goes first: both probes turn within moments of the signal.
      await expect.poll(() => checkHealth(probe), { timeout: 5000, interval: 20 }).toBe('NOT_SERVING');
      await expect.poll(() => checkHealth(probe, 'chittyid.v1.ChittyIdService'), { timeout: 5000, interval: 20 }).toBe('NOT_SERVING');
      const r = await ready(service.httpPort);
      expect(r).toEqual({ status: 503, body: { status: 'not_ready', database: 'up', pool: 'up', shuttingDown: true } });
      // New calls are refused with UNAVAILABLE (never INTERNAL) while the in-flight ones wait.
      const refused = await codeOf(c.mint(personRequest(), undefined, 5000));
      expect(refused).toEqual({ code: status.UNAVAILABLE, details: 'server is shutting down' });
      expect((await codeOf(c.resolve({ id: '04-1-USA-493027518264-P-2612-0-90' }))).code).toBe(status.UNAVAILABLE);
      // Still draining: the process waits for the blocked calls.
      expect(await exitWithin(service, 300)).toBeUndefined();
      expect(service.hasExited()).toBe(false);

      const released = performance.now();
      await lock.release();
      const results = await Promise.all(inFlight);
      const exit = await service.exited;
      console.info(`held drain: NOT_SERVING observed, exit ${exit.code} ${Math.round(exit.at - released)} ms after the lock was released ` +
        `(${Math.round(exit.at - signalled)} ms after SIGTERM)`);
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.at - released).toBeLessThan(SHUTDOWN_BOUND_MS);
      // The calls in flight at the signal were finished, not dropped, and their IDs committed.
      expect(results.map((o) => [o.code, o.ids.length])).toEqual([[status.OK, 200], [status.OK, 200], [status.OK, 200]]);
      const ids = results.flatMap((o) => o.ids);
      expect(new Set(ids).size).toBe(600);
      expect(await missingFromDatabase(admin, ids)).toEqual([]);
    } finally {
      probe.close();
      await lock?.release();
    }
  });

  it('the drain is bounded by CHITTYID_SHUTDOWN_TIMEOUT_MS: a call stuck in the database is cut off and the process still exits 0', async () => {
    const timeoutMs = 1500;
    const service = await spawn({ CHITTYID_SEQUENCE_BLOCK_SIZE: '50', CHITTYID_SHUTDOWN_TIMEOUT_MS: String(timeoutMs) });
    const c = client(service.address);
    await c.mint(personRequest());
    const lock = await lockSequenceCounter(database.url);
    try {
      const stuck = settle('MintBatch', async () => (await c.mintBatch({ ...personRequest(), count: 200 }, undefined, 30_000)).ids);
      await waitForLockWaiter(admin);
      const signalled = performance.now();
      service.child.kill('SIGTERM');
      // The lock is never released: only the timeout can end the drain.
      const exit = await exitWithin(service, timeoutMs + 8000);
      expect(exit, `still running ${timeoutMs + 8000} ms after SIGTERM with CHITTYID_SHUTDOWN_TIMEOUT_MS=${timeoutMs}`).toBeDefined();
      console.info(`stuck drain: exit ${exit!.code} ${Math.round(exit!.at - signalled)} ms after SIGTERM (timeout ${timeoutMs} ms)`);
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit!.at - signalled).toBeGreaterThanOrEqual(timeoutMs - 50);
      // The abandoned call gets a retryable error and no IDs (nothing unacknowledged is returned).
      const outcome = await stuck;
      console.info(`stuck call ended with ${status[outcome.code]}: ${outcome.details}`);
      expect(outcome.code).toBe(status.UNAVAILABLE);
      expect(outcome.ids).toEqual([]);
      expect(service.stdout.some((l) => l.includes('shutdown timeout'))).toBe(true);
    } finally {
      await lock.release();
    }
  });

  it('a second SIGTERM during the drain exits at once with code 130', async () => {
    const service = await spawn({ CHITTYID_SEQUENCE_BLOCK_SIZE: '50', CHITTYID_SHUTDOWN_TIMEOUT_MS: '20000' });
    const c = client(service.address);
    await c.mint(personRequest());
    const lock = await lockSequenceCounter(database.url);
    try {
      const inFlight = settle('MintBatch', async () => (await c.mintBatch({ ...personRequest(), count: 200 }, undefined, 30_000)).ids);
      await waitForLockWaiter(admin);
      service.child.kill('SIGTERM');
      // The first signal was handled (the drain is under way and blocked on the lease) ...
      await expect.poll(async () => (await ready(service.httpPort)).body?.shuttingDown, { timeout: 5000, interval: 20 }).toBe(true);
      expect(await exitWithin(service, 300)).toBeUndefined();
      // ... so the second one must not wait for it.
      const second = performance.now();
      service.child.kill('SIGTERM');
      const exit = await exitWithin(service, 5000);
      expect(exit).toMatchObject({ code: 130, signal: null });
      console.info(`second SIGTERM: exit ${exit!.code} after ${Math.round(exit!.at - second)} ms`);
      expect(exit!.at - second).toBeLessThan(2000);
      expect(service.stderr.join('\n')).toContain('SIGTERM again: exiting now');
      // The abandoned call was never acknowledged: its client sees UNAVAILABLE, not an ID.
      expect((await inFlight).code).toBe(status.UNAVAILABLE);
    } finally {
      await lock.release();
    }
  });
});
