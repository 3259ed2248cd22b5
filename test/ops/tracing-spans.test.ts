import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, createTestClient, personRequest } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { spawnService } from '../support/process.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';

/**
 * The real process with OTEL_EXPORTER_OTLP_ENDPOINT set exports, over OTLP/HTTP to a collector
 * on loopback, spans for the RPC, the mint group, the worker task, the database write and the pg
 * query inside it, and records errors on spans.
 */
describe.skipIf(!hasPostgres())('tracing spans exported over OTLP', () => {
  let collector: Server;
  let endpoint: string;
  const bodies: Buffer[] = [];
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  beforeAll(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((ok) => collector.listen(0, '127.0.0.1', ok));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    database = await createPostgresDatabase();
  });
  afterAll(async () => {
    await new Promise<void>((ok) => collector.close(() => ok()));
    await database?.drop();
  });

  it('has spans for Mint, MintBatch, the group, the worker task, the write and pg; errors recorded', async () => {
    const service = await spawnService({
      DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    });
    const client = createTestClient(service.address);
    await client.mint(personRequest());
    await client.mintBatch({ ...personRequest(), count: 10 });
    expect((await codeOf(client.mint({ jurisdiction: 'USA' }))).details).toMatch(/^entity_type: /);
    client.close();
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);

    const exported = Buffer.concat(bodies).toString('latin1');
    for (const name of [
      'chittyid.Mint', 'chittyid.MintBatch', 'chittyid.mint.group', 'chittyid.worker.task', 'chittyid.db.write',
      'chittyid.v1.ChittyIdService/Mint', // the gRPC server span from the grpc-js instrumentation
      'INSERT INTO chitty_ids', // the pg span's statement, inside the database write
    ]) expect(exported, `span ${name}`).toContain(name);
    // The failed Mint's span carries the recorded exception and its status code attribute.
    expect(exported).toContain('entity_type: is required');
    expect(exported).toContain('rpc.grpc.status_code');
  });
});
