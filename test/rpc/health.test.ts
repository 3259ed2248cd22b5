import { credentials, loadPackageDefinition, status, type Client } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../support/databases.js';
import { startServer, type RunningServer } from '../support/servers.js';

type Callback<T> = (err: { code: number } | null, res: T) => void;
interface HealthClient extends Client {
  check(req: { service: string }, cb: Callback<{ status: string }>): void;
  watch(req: { service: string }): NodeJS.EventEmitter & { cancel(): void };
}

function healthClient(address: string): HealthClient {
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  return new pkg.grpc.health.v1.Health(address, credentials.createInsecure()) as HealthClient;
}

function reflectionClient(address: string): any {
  const path = new URL('../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto', import.meta.url).pathname;
  const pkg = loadPackageDefinition(loadSync(path)) as any;
  return new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
}

const check = (c: HealthClient, service: string) =>
  new Promise<{ status: string } | { code: number }>((resolve) => c.check({ service }, (err, res) => resolve(err ?? res)));

describe('health, readiness and reflection (PGlite)', () => {
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  let health: HealthClient;

  beforeAll(async () => {
    db = await openBackend('pglite');
    s = await startServer(db.handle);
    health = healthClient(s.address);
  });
  afterAll(async () => {
    health?.close();
    await s?.stop().catch(() => {});
    await db?.close();
  });

  it('Check answers SERVING for the server and for chittyid.v1.ChittyIdService; unknown services NOT_FOUND', async () => {
    expect(await check(health, '')).toEqual({ status: 'SERVING' });
    expect(await check(health, 'chittyid.v1.ChittyIdService')).toEqual({ status: 'SERVING' });
    expect(await check(health, 'nope.Service')).toMatchObject({ code: status.NOT_FOUND });
  });

  it('HTTP /health is liveness and /ready readiness, both JSON', async () => {
    const live = await fetch(`http://127.0.0.1:${s.server.httpPort}/health`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toBe('application/json');
    expect(await live.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${s.server.httpPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'up', pool: 'up', shuttingDown: false });
    expect((await fetch(`http://127.0.0.1:${s.server.httpPort}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${s.server.httpPort}/health`, { method: 'POST' })).status).toBe(405);
  });

  it('reflection lists the services, so grpcurl and ghz need no proto', async () => {
    const client = reflectionClient(s.address);
    const call = client.ServerReflectionInfo();
    const answer = await new Promise<any>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write({ listServices: '' });
    });
    call.end();
    client.close();
    const names = answer.listServicesResponse.service.map((x: { name: string }) => x.name);
    expect(names).toEqual(expect.arrayContaining(['chittyid.v1.ChittyIdService', 'grpc.health.v1.Health']));
  });

  it('Watch streams SERVING, then NOT_SERVING when shutdown begins; /ready turns 503', async () => {
    const statuses: string[] = [];
    const stream = health.watch({ service: 'chittyid.v1.ChittyIdService' });
    stream.on('data', (m: { status: string }) => statuses.push(m.status));
    stream.on('error', () => {});
    await expect.poll(() => statuses, { timeout: 5000 }).toContain('SERVING');
    const shutdown = s.server.shutdown();
    await expect.poll(() => statuses, { timeout: 5000 }).toContain('NOT_SERVING');
    stream.cancel();
    await shutdown;
  });
});

describe('readiness follows the worker pool and the database', () => {
  it('is NOT_SERVING and 503 when the database cannot be reached', async () => {
    const db = await openBackend('pglite');
    const s = await startServer(db.handle);
    const health = healthClient(s.address);
    try {
      // Simulate a database that stopped answering by breaking its ping.
      const ping = db.handle.ping;
      (db.handle as { ping: () => Promise<void> }).ping = async () => { throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' }); };
      await expect.poll(async () => (await fetch(`http://127.0.0.1:${s.server.httpPort}/ready`)).status, { timeout: 5000 }).toBe(503);
      expect(await check(health, '')).toEqual({ status: 'NOT_SERVING' });
      (db.handle as { ping: () => Promise<void> }).ping = ping;
      await expect.poll(async () => (await fetch(`http://127.0.0.1:${s.server.httpPort}/ready`)).status, { timeout: 5000 }).toBe(200);
      expect(await check(health, '')).toEqual({ status: 'SERVING' });
    } finally {
      health.close();
      await s.stop();
    }
  });
});
