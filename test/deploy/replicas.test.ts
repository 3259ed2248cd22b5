import { credentials, status } from '@grpc/grpc-js';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClient, personRequest, type TestClient } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';

/**
 * Issue 5, item 7: replicas behind a balancer, really run. Three service processes (as production
 * runs them) share one PostgreSQL database; one grpc-js channel balances over them with
 * round_robin, the way a client-side balanced internal caller (or Envoy) spreads calls. One
 * replica is killed with SIGKILL mid-load: the others keep answering, no ID repeats, and every
 * acknowledged ID is in the database and resolvable.
 */

const REPLICAS = 3;
const CONCURRENCY = 16;
// The phases end on counts, not on a clock, so a busy machine slows the test down but does not
// fail it; each phase is still bounded in time.
const SERVED_EACH_BEFORE_KILL = 50; // successful Mint/MintBatch calls every replica has answered
const OK_AFTER_KILL = 200; // successful calls started after the client saw the replica go
const PHASE_LIMIT_MS = 30_000;
const MAX_CALLS_PER_WORKER = 5000; // bounds each worker's loop whatever the timing

interface CallRecord {
  readonly worker: number;
  readonly kind: 'Mint' | 'MintBatch';
  readonly start: number;
  readonly end: number;
  readonly ids: readonly string[];
  readonly idempotencyKey: string;
  readonly code: number | undefined; // undefined: OK
  readonly details: string;
}

interface Replica {
  readonly nodeId: number;
  readonly service: ServiceProcess;
  readonly metricsPort: number;
}

/**
 * A free loopback port for METRICS_PORT, which (unlike GRPC_PORT and PORT) does not accept 0.
 * The port is released before the service binds it: a small race, harmless on a test machine.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The port the service reported in its "chittyid ready" log line. */
function readyField(service: ServiceProcess, field: string): number {
  const line = service.logs.find((l) => l.includes('"chittyid ready"'));
  const value = line ? (JSON.parse(line) as Record<string, unknown>)[field] : undefined;
  if (typeof value !== 'number') throw new Error(`no ${field} in the ready line`);
  return value;
}

/** Successful Mint + MintBatch calls a replica has answered, from its Prometheus /metrics. */
async function mintCallsServed(replica: Replica): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^chittyid_rpc_requests_total\{([^}]*)\} (\d+)/.exec(line);
    if (m && /method="(Mint|MintBatch)"/.test(m[1]!) && /code="OK"/.test(m[1]!)) total += Number(m[2]);
  }
  return total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusName = (code: number | undefined): string => (code === undefined ? 'OK' : status[code] ?? String(code));

describe.skipIf(!hasPostgres())('three replicas behind a round_robin channel, one killed with SIGKILL (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const replicas: Replica[] = [];
  let client: TestClient | undefined;
  let stop = false; // ends the load loops (also when the test fails half-way)

  beforeAll(async () => {
    database = await createPostgresDatabase();
    // One after the other: the first one runs the migrations on the fresh database.
    for (let nodeId = 1; nodeId <= REPLICAS; nodeId++) {
      const service = await spawnService({
        DATABASE_URL: database.url,
        CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY,
        CHITTYID_NODE_ID: String(nodeId),
        // Small blocks, so every replica leases several and the lease table shows who minted.
        CHITTYID_SEQUENCE_BLOCK_SIZE: '500',
        ENABLE_METRICS: 'true',
        METRICS_PORT: String(await freePort()),
      });
      replicas.push({ nodeId, service, metricsPort: readyField(service, 'metricsPort') });
    }
  });

  afterAll(async () => {
    stop = true;
    client?.close();
    for (const { service } of replicas) {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
      await service.exited;
    }
    await database?.drop();
  });

  it('calls continue on the survivors, no ID repeats, every acknowledged ID resolves', async () => {
    const target = `ipv4:${replicas.map((r) => `127.0.0.1:${r.service.grpcPort}`).join(',')}`;
    client = createTestClient(target, credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
    const balanced = client;

    // Warm up: round_robin connects to every address; go on until each replica has answered.
    let warm = [0];
    for (let i = 0; i < 20 && Math.min(...warm) === 0; i++) {
      await Promise.all(Array.from({ length: 10 }, () => balanced.mint(personRequest())));
      warm = await Promise.all(replicas.map(mintCallsServed));
    }
    replicas.forEach((r, i) => expect(warm[i], `replica ${r.nodeId} answered no warm-up call`).toBeGreaterThan(0));

    const calls: CallRecord[] = [];
    let inFlight = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < MAX_CALLS_PER_WORKER; i++) {
        const kind = i % 4 === 3 ? 'MintBatch' : 'Mint';
        const idempotencyKey = kind === 'Mint' && i % 2 === 0 ? `replicas-${w}-${i}` : '';
        const start = performance.now();
        inFlight++;
        try {
          const ids = kind === 'MintBatch'
            ? (await balanced.mintBatch({ ...personRequest({ trustLevel: 1 }), count: 25 }, undefined, 10_000)).ids
            : [(await balanced.mint(personRequest({ idempotencyKey }), undefined, 10_000)).id!.value];
          calls.push({ worker: w, kind, start, end: performance.now(), ids, idempotencyKey, code: undefined, details: '' });
        } catch (err) {
          const e = err as { code?: number; details?: string };
          calls.push({ worker: w, kind, start, end: performance.now(), ids: [], idempotencyKey, code: e.code ?? -1, details: e.details ?? String(err) });
        } finally {
          inFlight--;
        }
      }
    };
    const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));

    let servedBeforeKill = await Promise.all(replicas.map(mintCallsServed));
    for (const t0 = Date.now(); Math.min(...servedBeforeKill) < SERVED_EACH_BEFORE_KILL && Date.now() - t0 < PHASE_LIMIT_MS;) {
      await sleep(200);
      servedBeforeKill = await Promise.all(replicas.map(mintCallsServed));
    }
    const victim = replicas[1]!;
    const survivors = replicas.filter((r) => r !== victim);
    const inFlightAtKill = inFlight;
    const killAt = performance.now();
    victim.service.child.kill('SIGKILL');
    const okStartedAfterDetection = (): number => {
      const detected = Math.min(...calls.filter((c) => c.code !== undefined).map((c) => c.end));
      return calls.filter((c) => c.code === undefined && c.start > detected).length;
    };
    await sleep(500);
    for (const t0 = Date.now(); okStartedAfterDetection() < OK_AFTER_KILL && Date.now() - t0 < PHASE_LIMIT_MS;) await sleep(100);
    stop = true;
    await load;
    expect(await victim.service.exited).toBe('SIGKILL');
    const servedAtEnd = await Promise.all(survivors.map(mintCallsServed));

    const ok = calls.filter((c) => c.code === undefined);
    const failed = calls.filter((c) => c.code !== undefined);
    const firstFailureAt = Math.min(...failed.map((c) => c.end));
    const okAfterKill = ok.filter((c) => c.start > killAt);
    const okAfterDetection = ok.filter((c) => c.start > firstFailureAt);
    const acknowledged = ok.flatMap((c) => c.ids);
    const failureCodes: Record<string, number> = {};
    for (const c of failed) failureCodes[statusName(c.code)] = (failureCodes[statusName(c.code)] ?? 0) + 1;

    console.log(JSON.stringify({
      replicaTest: {
        calls: calls.length,
        okBeforeKill: ok.filter((c) => c.end <= killAt).length,
        okStraddlingKill: ok.filter((c) => c.start <= killAt && c.end > killAt).length,
        okStartedAfterKill: okAfterKill.length,
        okStartedAfterFailureSeen: okAfterDetection.length,
        inFlightAtKill,
        failed: failed.length,
        failureCodes,
        failureDetails: [...new Set(failed.map((c) => c.details))],
        failedStartedAfterKill: failed.filter((c) => c.start > killAt).length,
        msFromKillToFirstFailure: Math.round(firstFailureAt - killAt),
        acknowledgedIds: acknowledged.length,
        okMintCallsPerReplicaBeforeKill: Object.fromEntries(replicas.map((r, i) => [`node${r.nodeId}`, servedBeforeKill[i]])),
        okMintCallsPerSurvivorAtEnd: Object.fromEntries(survivors.map((r, i) => [`node${r.nodeId}`, servedAtEnd[i]])),
      },
    }));

    // Every replica served calls before the kill.
    for (const [i, r] of replicas.entries()) expect(servedBeforeKill[i], `replica ${r.nodeId} served too little`).toBeGreaterThanOrEqual(SERVED_EACH_BEFORE_KILL);
    // The kill hit calls in flight, and only those: each failure is UNAVAILABLE, and every failed
    // call was already running when the client first saw the connection drop (so they were all in
    // flight at once, at most one per worker). Calls after that never failed.
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(CONCURRENCY);
    expect(failureCodes).toEqual({ UNAVAILABLE: failed.length });
    expect(failed.filter((c) => c.start > firstFailureAt)).toEqual([]);
    // Calls continued on the survivors, and both of them took part.
    expect(okAfterDetection.length).toBeGreaterThanOrEqual(OK_AFTER_KILL);
    survivors.forEach((r, i) => expect(servedAtEnd[i]! - servedBeforeKill[replicas.indexOf(r)]!, `replica ${r.nodeId} took no calls after the kill`).toBeGreaterThan(20));

    // No ID was handed out twice.
    expect(new Set(acknowledged).size).toBe(acknowledged.length);

    // Durable before acknowledged: every acknowledged ID is a committed row in the shared database,
    // and the three replicas each leased disjoint counter blocks from it.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const found = await db.query<{ n: string }>('SELECT count(*) AS n FROM chitty_ids WHERE id = ANY($1::text[])', [acknowledged]);
      expect(Number(found.rows[0]!.n)).toBe(acknowledged.length);
      const leases = await db.query<{ node_id: number; start_value: string; end_value: string }>(
        'SELECT node_id, start_value, end_value FROM sequence_leases ORDER BY start_value');
      expect(new Set(leases.rows.map((l) => l.node_id))).toEqual(new Set([1, 2, 3]));
      for (let i = 1; i < leases.rows.length; i++) {
        expect(Number(leases.rows[i]!.start_value)).toBeGreaterThanOrEqual(Number(leases.rows[i - 1]!.end_value));
      }
    } finally {
      await db.end();
    }

    // Resolvable through the balanced channel (now two replicas) — a spread sample of 300.
    const step = Math.max(1, Math.floor(acknowledged.length / 300));
    const sample = acknowledged.filter((_, i) => i % step === 0);
    const resolved = await Promise.allSettled(sample.map((id) => balanced.resolve({ id })));
    expect(resolved.filter((r) => r.status === 'rejected')).toEqual([]);

    // Idempotency holds across replicas: keyed mints replayed (now on a survivor, often not the
    // replica that first answered) return the IDs first acknowledged.
    const keyed = ok.filter((c) => c.idempotencyKey !== '').slice(0, 200);
    const replayed = await Promise.all(keyed.map((c) => balanced.mint(personRequest({ idempotencyKey: c.idempotencyKey }))));
    expect(replayed.map((r) => r.id!.value)).toEqual(keyed.map((c) => c.ids[0]));

    // Clean shutdown of the survivors.
    balanced.close();
    client = undefined;
    for (const r of survivors) r.service.child.kill('SIGTERM');
    expect(await Promise.all(survivors.map((r) => r.service.exited))).toEqual([0, 0]);
  }, 120_000);
});
