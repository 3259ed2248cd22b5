import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { credentials, loadPackageDefinition, Metadata, status, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { IdState } from '../../src/gen/chittyid/v1/chittyid.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { bearer, codeOf, createTestClient, personRequest, type TestClient } from '../support/client.js';
import { createPostgresDatabase, hasPostgres, openBackend } from '../support/databases.js';
import { spawnService } from '../support/process.js';
import { startServer, TEST_SEQUENCE_KEY, type RunningServer } from '../support/servers.js';
import { healthCheck, linesOf, runServiceToExit, SERVING_BYTES, writeKeysFile, type KeysFile } from './helpers.js';

// Authentication and authorisation (SPEC §2 status codes, §4 CHITTYID_API_KEYS_FILE), end to end
// over the generated stubs, against a real server on PostgreSQL (PGlite when none is available).

const backend = hasPostgres() ? 'postgres' : 'pglite';
const ANY_WELL_FORMED = '04-1-USA-493027518264-P-2612-0-90';

/** Every RPC once, with a request that is valid apart from authorisation. */
const calls = (c: TestClient, m: Metadata, id = ANY_WELL_FORMED) => ({
  Mint: () => c.mint(personRequest(), m),
  MintBatch: () => c.mintBatch({ ...personRequest(), count: 2 }, m),
  Validate: () => c.validate({ id }, m),
  Resolve: () => c.resolve({ id }, m),
  Revoke: () => c.revoke({ id, reason: 'test' }, m),
});
type Rpc = keyof ReturnType<typeof calls>;
const RPCS: Rpc[] = ['Mint', 'MintBatch', 'Validate', 'Resolve', 'Revoke'];
const SCOPE_OF: Record<Rpc, string> = {
  Mint: 'chittyid:mint', MintBatch: 'chittyid:mint', Validate: 'chittyid:read', Resolve: 'chittyid:read', Revoke: 'chittyid:admin',
};

describe(`authentication over ${backend}`, () => {
  let keys: KeysFile;
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  const logLines: string[] = [];
  const as = (principal: string): Metadata => bearer(keys.tokens[principal]!);
  const countRows = async (): Promise<{ ids: number; keys: number }> => {
    const ids = await db.handle.db.selectFrom('chitty_ids').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const idem = await db.handle.db.selectFrom('idempotency_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { ids: Number(ids.n), keys: Number(idem.n) };
  };

  beforeAll(async () => {
    keys = writeKeysFile({
      'minter-svc': ['chittyid:mint'],
      'reader-svc': ['chittyid:read'],
      'admin-svc': ['chittyid:admin'],
      'all-svc': ['chittyid:mint', 'chittyid:read', 'chittyid:admin'],
    });
    db = await openBackend(backend);
    // The service's own logger, at info (failed calls are logged there), captured to check for leaks.
    const destination = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(...linesOf(chunk.toString())); done(); } });
    s = await startServer(db.handle, { CHITTYID_API_KEYS_FILE: keys.path }, { logger: createLogger({ level: 'info', nodeId: 1, destination }) });
  });
  afterAll(async () => {
    await s?.stop();
    await db?.close();
  });

  it.each(RPCS)('%s without a token is UNAUTHENTICATED "missing bearer token"', async (rpc) => {
    expect(await codeOf(calls(s.client, new Metadata())[rpc]())).toEqual({ code: status.UNAUTHENTICATED, details: 'missing bearer token' });
  });

  it.each(RPCS)('%s with an unknown token is UNAUTHENTICATED, and the token is echoed nowhere', async (rpc) => {
    const token = `wrong-${keys.tokens['all-svc']!.slice(6)}`;
    const e = await codeOf(calls(s.client, bearer(token))[rpc]());
    expect(e).toEqual({ code: status.UNAUTHENTICATED, details: 'invalid bearer token' });
    expect(e.details).not.toContain(token);
    expect(logLines.some((l) => l.includes('UNAUTHENTICATED'))).toBe(true);
    expect(logLines.join('\n')).not.toContain(token);
  });

  it.each([
    ['a non-Bearer scheme', (t: string) => `Basic ${t}`],
    ['"Bearer" without a token', () => 'Bearer'],
    ['the bare token', (t: string) => t],
    ['a token with a trailing word', (t: string) => `Bearer ${t} extra`],
  ])('%s is UNAUTHENTICATED "invalid bearer token"', async (_name, header) => {
    const m = new Metadata();
    m.set('authorization', header(keys.tokens['all-svc']!));
    expect(await codeOf(s.client.validate({ id: ANY_WELL_FORMED }, m))).toEqual({ code: status.UNAUTHENTICATED, details: 'invalid bearer token' });
  });

  // Two `authorization` values cannot be tested over the wire: Node's http2 client itself refuses
  // to send a second value of that header (grpc-js reports INTERNAL locally); the unit test
  // test/unit/authenticator.test.ts covers the server's answer.

  describe('scopes', () => {
    const cases: [string, Rpc][] = [
      ['minter-svc', 'Validate'], ['minter-svc', 'Resolve'], ['minter-svc', 'Revoke'],
      ['reader-svc', 'Mint'], ['reader-svc', 'MintBatch'], ['reader-svc', 'Revoke'],
      ['admin-svc', 'Mint'], ['admin-svc', 'MintBatch'], ['admin-svc', 'Validate'], ['admin-svc', 'Resolve'],
    ];
    it.each(cases)('%s calling %s is PERMISSION_DENIED naming the scope it lacks', async (principal, rpc) => {
      const e = await codeOf(calls(s.client, as(principal))[rpc]());
      expect(e).toEqual({ code: status.PERMISSION_DENIED, details: `this token lacks the ${SCOPE_OF[rpc]} scope` });
    });

    it('each scope is enough for its own RPCs (admin for Revoke), and all scopes for all', async () => {
      const { id } = await s.client.mint(personRequest(), as('minter-svc'));
      expect((await s.client.mintBatch({ ...personRequest(), count: 2 }, as('minter-svc'))).ids).toHaveLength(2);
      expect((await s.client.validate({ id: id!.value, checkRegistry: true }, as('reader-svc'))).registered).toBe(true);
      expect((await s.client.resolve({ id: id!.value }, as('reader-svc'))).record!.state).toBe(IdState.ID_STATE_ACTIVE);
      expect((await s.client.revoke({ id: id!.value, reason: 'scope test' }, as('admin-svc'))).record!.state).toBe(IdState.ID_STATE_REVOKED);
      for (const rpc of RPCS) {
        if (rpc === 'Revoke') continue; // already revoked above; the all-scope token is checked on a fresh ID below
        await calls(s.client, as('all-svc'), id!.value)[rpc]();
      }
      const fresh = await s.client.mint(personRequest(), as('all-svc'));
      await s.client.revoke({ id: fresh.id!.value, reason: 'all scopes' }, as('all-svc'));
    });
  });

  it('calls refused by auth write nothing', async () => {
    const before = await countRows();
    const key = `refused-${Date.now()}`;
    await codeOf(s.client.mint(personRequest({ idempotencyKey: key }), new Metadata()));
    await codeOf(s.client.mint(personRequest({ idempotencyKey: key }), bearer('nope')));
    await codeOf(s.client.mintBatch({ ...personRequest({ idempotencyKey: key }), count: 5 }, as('reader-svc')));
    expect(await countRows()).toEqual(before);
  });

  it('health Check needs no token', async () => {
    expect(await healthCheck(s.address)).toEqual(SERVING_BYTES);
  });

  it('server reflection needs no token and lists the services', async () => {
    const protoPath = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
    const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true, defaults: true, oneofs: true }));
    const ServerReflection = ((((pkg.grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject).ServerReflection) as ServiceClientConstructor;
    const client = new ServerReflection(s.address, credentials.createInsecure());
    try {
      type ReflectionResponse = {
        list_services_response?: { service: { name: string }[] };
        file_descriptor_response?: { file_descriptor_proto: Buffer[] };
        error_response?: { error_message: string };
      };
      const responses = await new Promise<ReflectionResponse[]>((resolve, reject) => {
        const call = (client as unknown as Record<string, (o: object) => NodeJS.ReadWriteStream & { write(m: object): boolean }>).ServerReflectionInfo!({ deadline: Date.now() + 5000 });
        const received: ReflectionResponse[] = [];
        call.on('data', (res: ReflectionResponse) => received.push(res));
        call.on('error', reject);
        call.on('end', () => resolve(received));
        call.write({ list_services: '' });
        call.write({ file_containing_symbol: 'chittyid.v1.ChittyIdService' });
        call.end();
      });
      expect(responses.filter((r) => r.error_response)).toEqual([]);
      const names = responses.flatMap((r) => r.list_services_response?.service.map((svc) => svc.name) ?? []);
      expect(names).toEqual(expect.arrayContaining(['chittyid.v1.ChittyIdService', 'grpc.health.v1.Health']));
      // …and what grpcurl asks next: the file describing the service.
      const files = responses.flatMap((r) => r.file_descriptor_response?.file_descriptor_proto ?? []);
      expect(files.some((f) => f.includes('chittyid/v1/chittyid.proto') && f.includes('ChittyIdService'))).toBe(true);
    } finally {
      client.close();
    }
  });

  it('the minting principal is stored with the ID, and the revoker is in the audit trail', async () => {
    const { id } = await s.client.mint(personRequest({ metadata: { who: 'minter' } }), as('minter-svc'));
    const batch = await s.client.mintBatch({ ...personRequest(), count: 3 }, as('all-svc'));
    expect((await s.client.resolve({ id: id!.value }, as('reader-svc'))).record).toMatchObject({ principal: 'minter-svc', metadata: { who: 'minter' } });
    for (const b of batch.ids) expect((await s.client.resolve({ id: b }, as('reader-svc'))).record!.principal).toBe('all-svc');

    const { record } = await s.client.revoke({ id: id!.value, reason: 'fraud' }, as('admin-svc'));
    expect(record).toMatchObject({ state: IdState.ID_STATE_REVOKED, principal: 'minter-svc', revokedBy: 'admin-svc', revokedReason: 'fraud' });
    const audit = await db.handle.db.selectFrom('id_audit_log').selectAll().where('chitty_id', '=', id!.value).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'REVOKE', principal: 'admin-svc', reason: 'fraud', new_state: 'REVOKED' });
    const row = await db.handle.db.selectFrom('chitty_ids').select(['principal', 'revoked_by']).where('id', '=', id!.value).executeTakeFirstOrThrow();
    expect(row).toEqual({ principal: 'minter-svc', revoked_by: 'admin-svc' });
  });

  it('idempotency keys are per principal: one key, two principals, two IDs', async () => {
    const key = `shared-key-${Date.now()}`;
    const a1 = await s.client.mint(personRequest({ idempotencyKey: key }), as('minter-svc'));
    const b1 = await s.client.mint(personRequest({ idempotencyKey: key }), as('all-svc'));
    expect(b1.id!.value).not.toBe(a1.id!.value);
    // Each principal's retry gets its own ID back.
    expect((await s.client.mint(personRequest({ idempotencyKey: key }), as('minter-svc'))).id!.value).toBe(a1.id!.value);
    expect((await s.client.mint(personRequest({ idempotencyKey: key }), as('all-svc'))).id!.value).toBe(b1.id!.value);
    // Different parameters under the same key are a conflict only within one principal.
    expect((await codeOf(s.client.mint(personRequest({ idempotencyKey: key, trustLevel: 3 }), as('minter-svc')))).code).toBe(status.ALREADY_EXISTS);
    const rows = await db.handle.db.selectFrom('idempotency_keys').select(['principal', 'ids']).where('idempotency_key', '=', key).orderBy('principal').execute();
    expect(rows).toEqual([{ principal: 'all-svc', ids: [b1.id!.value] }, { principal: 'minter-svc', ids: [a1.id!.value] }]);

    const batchKey = `${key}-batch`;
    const x = await s.client.mintBatch({ ...personRequest({ idempotencyKey: batchKey }), count: 3 }, as('minter-svc'));
    const y = await s.client.mintBatch({ ...personRequest({ idempotencyKey: batchKey }), count: 3 }, as('all-svc'));
    expect(y.ids.filter((v) => x.ids.includes(v))).toEqual([]);
  });
});

describe('configuration: authentication in production', () => {
  const base = { CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, GRPC_PORT: '0', PORT: '0' };

  it('NODE_ENV=production without CHITTYID_API_KEYS_FILE is a ConfigError naming the variable', () => {
    const attempt = () => loadConfig({ ...base, NODE_ENV: 'production' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^CHITTYID_API_KEYS_FILE: required when NODE_ENV=production/);
  });

  it('NODE_ENV=production with CHITTYID_AUTH=off is allowed, with auth off', () => {
    const config = loadConfig({ ...base, NODE_ENV: 'production', CHITTYID_AUTH: 'off' });
    expect(config).toMatchObject({ nodeEnv: 'production', apiKeysFile: undefined, authDisabledExplicitly: true });
  });

  it('NODE_ENV=production with a keys file is allowed', () => {
    const keys = writeKeysFile({ svc: ['chittyid:mint'] });
    expect(loadConfig({ ...base, NODE_ENV: 'production', CHITTYID_API_KEYS_FILE: keys.path }).apiKeysFile).toBe(keys.path);
  });

  it('the real process with NODE_ENV=production and no keys exits 1 with one stderr line naming the variable', async () => {
    const run = await runServiceToExit({ NODE_ENV: 'production', CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY });
    expect(run.code).toBe(1);
    expect(linesOf(run.stderr)).toEqual([expect.stringMatching(/^chittyid: configuration error: CHITTYID_API_KEYS_FILE: /)]);
    expect(run.stdout).toBe('');
  });

  it('the same through spawnService: it never becomes ready', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chittyid-auth-'));
    const outcome = await spawnService({ NODE_ENV: 'production', CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, CHITTYID_DATA_DIR: dataDir }, 15_000)
      .then((service) => { service.child.kill('SIGKILL'); return 'it became ready'; }, (err: Error) => err.message);
    rmSync(dataDir, { recursive: true, force: true });
    expect(outcome).toMatch(/^service exited \(1\) before ready:\nchittyid: configuration error: CHITTYID_API_KEYS_FILE: [^\n]*$/);
  });

  it.skipIf(!hasPostgres())('the real process with NODE_ENV=production and CHITTYID_AUTH=off starts and serves anonymously', async () => {
    const database = await createPostgresDatabase();
    const service = await spawnService({ NODE_ENV: 'production', CHITTYID_AUTH: 'off', DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY });
    try {
      const client = createTestClient(service.address);
      const { id } = await client.mint(personRequest());
      expect((await client.resolve({ id: id!.value })).record!.principal).toBe('anonymous');
      client.close();
      expect(service.logs.some((l) => l.includes('authentication is off'))).toBe(true);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
      await database.drop();
    }
  });
});
