import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityType } from '../../src/gen/chittyid/v1/chittyid.js';
import { codeOf, createTestClient, personRequest, type TestClient } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';
import { freePort } from './support/probes.js';
import { startService, type OpsService } from '../support/process.js';

/**
 * README "Metrics" and "Logs", end to end: a service process with ENABLE_METRICS, LOG_LEVEL=debug
 * and an API keys file made with the README's command (scripts/make-api-key.mjs) takes a known mix
 * of calls; /metrics must then count exactly those, and stdout must be one JSON object per line
 * with the documented fields, the caller's x-request-id, the principal, and never a bearer token.
 */

interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: number }

/** Parses Prometheus text format (what a scraper reads) into samples. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text format: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
function sample(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

/** Makes a key with the README's command: the keys-file line goes to stdout, the token to stderr. */
function makeApiKey(principal: string, scopes: string): { line: string; token: string } {
  const r = spawnSync(process.execPath, ['scripts/make-api-key.mjs', principal, scopes], { encoding: 'utf8', timeout: 10_000 });
  const token = /^CHITTYID_TOKEN=(\S+)$/m.exec(r.stderr)?.[1];
  if (r.status !== 0 || !token) throw new Error(`make-api-key failed: ${r.stderr}`);
  return { line: r.stdout.trim(), token };
}

function withHeaders(token: string, extra: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
}

describe('metrics and logs of a service process', () => {
  const POOL_THREADS = 3;
  const NODE_ID = 7;
  const BLOCK = 1000;
  const REQUEST_ID = 'ops-test-request-4f1c9a';
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let dir: string;
  let service: OpsService;
  let client: TestClient;
  let metricsPort: number;
  let billing: { line: string; token: string };
  let reader: { line: string; token: string };
  const unknownToken = `unknown-${'z'.repeat(24)}-token`;
  /** What the test did, to compare the metrics and the log against. */
  const expected = { mintOk: 0, mintedP: 0, mintedT: 0, batchOk: 0, batchIds: 0, validateOk: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chittyid-obs-'));
    billing = makeApiKey('billing-svc', 'chittyid:mint,chittyid:read');
    reader = makeApiKey('ops@example', 'chittyid:read');
    writeFileSync(join(dir, 'api-keys.txt'), `# made by scripts/make-api-key.mjs\n${billing.line}\n${reader.line}\n`);
    metricsPort = await freePort();
    database = hasPostgres() ? await createPostgresDatabase() : undefined;
    service = await startService({
      ...(database ? { DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY } : { CHITTYID_DATA_DIR: join(dir, 'data') }),
      ENABLE_METRICS: 'true', METRICS_PORT: String(metricsPort), LOG_LEVEL: 'debug',
      CHITTYID_API_KEYS_FILE: join(dir, 'api-keys.txt'), CHITTYID_NODE_ID: String(NODE_ID),
      UV_THREADPOOL_SIZE: String(POOL_THREADS), TARGET_TPS: '1234', CHITTYID_SEQUENCE_BLOCK_SIZE: String(BLOCK),
    }, { timeoutMs: 60_000 });
    client = createTestClient(service.address);

    // The known mix of calls.
    const auth = () => withHeaders(billing.token);
    for (let i = 0; i < 5; i++) { await client.mint(personRequest(), auth()); expected.mintOk++; expected.mintedP++; }
    await client.mint(personRequest(), withHeaders(billing.token, { 'x-request-id': REQUEST_ID }));
    expected.mintOk++; expected.mintedP++;
    for (let i = 0; i < 2; i++) { await client.mint({ entityType: EntityType.ENTITY_TYPE_THING, jurisdiction: 'GBR' }, auth()); expected.mintOk++; expected.mintedT++; }
    let lastId = '';
    for (const count of [10, 20, 30]) {
      const ids = (await client.mintBatch({ ...personRequest(), count }, auth())).ids;
      lastId = ids[0]!;
      expected.batchOk++; expected.batchIds += count; expected.mintedP += count;
    }
    for (let i = 0; i < 4; i++) { await client.validate({ id: lastId, checkRegistry: i % 2 === 0 }, withHeaders(reader.token)); expected.validateOk++; }
    // One bad request, one unknown token, one token without the scope.
    expect((await codeOf(client.mint({ jurisdiction: 'USA' }, auth()))).code).toBe(status.INVALID_ARGUMENT);
    expect((await codeOf(client.mint(personRequest(), withHeaders(unknownToken)))).code).toBe(status.UNAUTHENTICATED);
    expect((await codeOf(client.mint(personRequest(), withHeaders(reader.token)))).code).toBe(status.PERMISSION_DENIED);
  });
  afterAll(async () => {
    client?.close();
    await service?.kill();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/metrics counts exactly the calls made, and every documented metric is there with a plausible value', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(await res.text());

    // RPC counters and latency histograms, by method and status name.
    const rpc = (method: string, code: string) => sample(m, 'chittyid_rpc_requests_total', { method, code });
    expect({
      mintOk: rpc('Mint', 'OK'), batchOk: rpc('MintBatch', 'OK'), validateOk: rpc('Validate', 'OK'),
      invalid: rpc('Mint', 'INVALID_ARGUMENT'), unauthenticated: rpc('Mint', 'UNAUTHENTICATED'), denied: rpc('Mint', 'PERMISSION_DENIED'),
    }).toEqual({ mintOk: expected.mintOk, batchOk: expected.batchOk, validateOk: expected.validateOk, invalid: 1, unauthenticated: 1, denied: 1 });
    expect(m.filter((s) => s.name === 'chittyid_rpc_requests_total').reduce((a, s) => a + s.value, 0))
      .toBe(expected.mintOk + expected.batchOk + expected.validateOk + 3);
    expect(sample(m, 'chittyid_rpc_duration_seconds_count', { method: 'Mint', code: 'OK' })).toBe(expected.mintOk);
    expect(sample(m, 'chittyid_rpc_duration_seconds_bucket', { method: 'Mint', code: 'OK', le: '+Inf' })).toBe(expected.mintOk);
    expect(sample(m, 'chittyid_rpc_duration_seconds_bucket', { method: 'Mint', code: 'OK', le: '0.0005' })).toBeDefined();
    expect(sample(m, 'chittyid_rpc_duration_seconds_bucket', { method: 'Mint', code: 'OK', le: '5' })).toBeDefined();
    const mintSeconds = sample(m, 'chittyid_rpc_duration_seconds_sum', { method: 'Mint', code: 'OK' })!;
    expect(mintSeconds).toBeGreaterThan(0);
    expect(mintSeconds).toBeLessThan(60);

    // IDs minted, by entity type, and the batch-size histogram.
    expect(sample(m, 'chittyid_ids_minted_total', { entity_type: 'P' })).toBe(expected.mintedP);
    expect(sample(m, 'chittyid_ids_minted_total', { entity_type: 'T' })).toBe(expected.mintedT);
    const minted = expected.mintedP + expected.mintedT;
    expect(m.filter((s) => s.name === 'chittyid_ids_minted_total').reduce((a, s) => a + s.value, 0)).toBe(minted);
    expect(sample(m, 'chittyid_mint_batch_size_count')).toBe(expected.batchOk);
    expect(sample(m, 'chittyid_mint_batch_size_sum')).toBe(expected.batchIds);
    expect(sample(m, 'chittyid_mint_batch_size_bucket', { le: '1000' })).toBe(expected.batchOk); // MAX_BATCH_SIZE is the top bucket

    // Database writes: every minted row went through a write transaction.
    expect(sample(m, 'chittyid_db_write_rows_count')).toBeGreaterThan(0);
    expect(sample(m, 'chittyid_db_write_rows_count')).toBeLessThanOrEqual(expected.mintOk + expected.batchOk);
    expect(sample(m, 'chittyid_db_write_rows_sum')).toBe(minted);
    expect(sample(m, 'chittyid_db_write_duration_seconds_count')).toBe(sample(m, 'chittyid_db_write_rows_count'));

    // Sequence blocks: leased, what is left of them, and what is left of the space.
    const leased = sample(m, 'chittyid_sequence_blocks_leased_total')!;
    expect(leased).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'chittyid_sequence_block_remaining')).toBe(leased * BLOCK - minted);
    expect(sample(m, 'chittyid_sequence_space_remaining')).toBe(1e12 - leased * BLOCK);

    // Worker pool, deployment and identity.
    expect(sample(m, 'chittyid_worker_pool_threads')).toBe(POOL_THREADS);
    const utilization = sample(m, 'chittyid_worker_pool_utilization')!;
    expect(utilization).toBeGreaterThanOrEqual(0);
    expect(utilization).toBeLessThanOrEqual(1);
    expect(sample(m, 'chittyid_worker_pool_queue_depth')).toBe(0);
    expect(sample(m, 'chittyid_target_tps')).toBe(1234);
    expect(sample(m, 'chittyid_info', { node_id: String(NODE_ID), version: '0.1.0' })).toBe(1);
    expect(sample(m, 'chittyid_metrics_collect_errors_total')).toBe(0);

    // prom-client's process metrics.
    expect(sample(m, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(sample(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.some((s) => s.name.startsWith('nodejs_eventloop_lag'))).toBe(true);
    expect(m.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);

    expect((await fetch(`http://127.0.0.1:${metricsPort}/other`, { signal: AbortSignal.timeout(5000) })).status).toBe(404);
  });

  it('stdout is one JSON object per line; each RPC has one line with the documented fields; no token anywhere', async () => {
    // Make sure every line written so far has reached us (pino writes asynchronously).
    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);

    const lines = service.stdout.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
    expect(lines.length).toBeGreaterThan(20);
    // No bearer token, valid or not, in anything the process wrote.
    const everything = [...service.stdout, ...service.stderr].join('\n');
    for (const token of [billing.token, reader.token, unknownToken]) expect(everything).not.toContain(token);
    expect(service.stderr).toEqual([]);
    for (const l of lines) {
      expect(l).toMatchObject({ service: 'chittyid', nodeId: NODE_ID, level: expect.stringMatching(/^(fatal|error|warn|info|debug|trace)$/), msg: expect.any(String) });
      expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // LOG_LEVEL=debug really is debug.
    expect(lines.some((l) => l.level === 'debug' && l.msg === 'sequence block leased')).toBe(true);

    const rpc = lines.filter((l) => l.msg === 'rpc' || l.msg === 'rpc failed');
    const tally = (method: string, st: string) => rpc.filter((l) => l.method === method && l.status === st).length;
    expect({
      mintOk: tally('Mint', 'OK'), batchOk: tally('MintBatch', 'OK'), validateOk: tally('Validate', 'OK'),
      invalid: tally('Mint', 'INVALID_ARGUMENT'), unauthenticated: tally('Mint', 'UNAUTHENTICATED'), denied: tally('Mint', 'PERMISSION_DENIED'),
    }).toEqual({ mintOk: expected.mintOk, batchOk: expected.batchOk, validateOk: expected.validateOk, invalid: 1, unauthenticated: 1, denied: 1 });
    expect(rpc).toHaveLength(expected.mintOk + expected.batchOk + expected.validateOk + 3);
    for (const l of rpc) {
      expect(l).toMatchObject({ method: expect.any(String), status: expect.any(String), code: expect.any(Number), durationMs: expect.any(Number), requestId: expect.any(String) });
      expect(status[l.code as number]).toBe(l.status);
      expect(l.durationMs as number).toBeGreaterThanOrEqual(0);
      // Successful calls at debug, failed ones at info (none of these is INTERNAL or UNAVAILABLE).
      expect(l.level).toBe(l.status === 'OK' ? 'debug' : 'info');
      // The token's principal on every call with a known token, refused by scope included; an
      // unknown token has none.
      if (l.status === 'UNAUTHENTICATED') expect(l.principal).toBeUndefined();
      else if (l.status === 'PERMISSION_DENIED') expect(l.principal).toBe('ops@example');
      else expect(['billing-svc', 'ops@example']).toContain(l.principal);
    }
    expect(rpc.filter((l) => l.method === 'Validate').map((l) => l.principal)).toEqual(Array(expected.validateOk).fill('ops@example'));
    expect(rpc.filter((l) => l.method !== 'Validate' && l.status !== 'UNAUTHENTICATED' && l.status !== 'PERMISSION_DENIED').map((l) => l.principal))
      .toEqual(Array(expected.mintOk + expected.batchOk + 1).fill('billing-svc'));

    // The caller's x-request-id is the line's requestId; the others got distinct generated ones.
    const tagged = rpc.filter((l) => l.requestId === REQUEST_ID);
    expect(tagged).toHaveLength(1);
    expect(tagged[0]).toMatchObject({ method: 'Mint', status: 'OK', principal: 'billing-svc' });
    const generated = rpc.filter((l) => l.requestId !== REQUEST_ID).map((l) => l.requestId as string);
    expect(new Set(generated).size).toBe(generated.length);
    for (const id of generated) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
