import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, createTestClient, personRequest, type TestClient } from '../support/client.js';
import { makeTestPki, type TestPki } from '../support/certs.js';
import { hasPostgres, openBackend } from '../support/databases.js';
import { startServer, type RunningServer } from '../support/servers.js';
import { healthCheck, SERVING_BYTES } from './helpers.js';

// gRPC over TLS and mutual TLS (SPEC §4 GRPC_TLS_*), on the full ChittyID server built from its
// config: certificates come from openssl at run time, the clients are the generated stubs.

const backend = hasPostgres() ? 'postgres' : 'pglite';

describe(`TLS on the ChittyID server over ${backend}`, () => {
  let pki: TestPki;
  let db: Awaited<ReturnType<typeof openBackend>>;
  let tls: RunningServer;
  let mtls: RunningServer;
  const clients: TestClient[] = [];
  const client = (address: string, creds = credentials.createInsecure()): TestClient => {
    const c = createTestClient(address, creds);
    clients.push(c);
    return c;
  };
  const deadline = 5000;

  beforeAll(async () => {
    pki = makeTestPki();
    db = await openBackend(backend);
    const cert = { GRPC_TLS_CERT_FILE: pki.file('server.crt'), GRPC_TLS_KEY_FILE: pki.file('server.key') };
    tls = await startServer(db.handle, cert);
    mtls = await startServer(db.handle, { ...cert, GRPC_TLS_CLIENT_CA_FILE: pki.file('ca.crt') });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await tls?.stop();
    await mtls?.stop();
    await db?.close();
    pki?.remove();
  });

  describe('TLS (GRPC_TLS_CERT_FILE + GRPC_TLS_KEY_FILE)', () => {
    it('Mint, Resolve and health work for a client that trusts the CA, by IP and by name', async () => {
      const creds = credentials.createSsl(pki.read('ca.crt'));
      const byIp = client(tls.address, creds);
      const { id } = await byIp.mint(personRequest(), undefined, deadline);
      expect(id!.value).toMatch(/^04-1-USA-/);
      expect((await byIp.resolve({ id: id!.value })).record!.principal).toBe('anonymous');
      expect((await client(`localhost:${tls.server.grpcPort}`, creds).mint(personRequest(), undefined, deadline)).id!.value).toMatch(/^04-/);
      expect(await healthCheck(tls.address, creds)).toEqual(SERVING_BYTES);
    });

    it('a plaintext client is refused (UNAVAILABLE)', async () => {
      expect((await codeOf(client(tls.address).mint(personRequest(), undefined, deadline))).code).toBe(status.UNAVAILABLE);
      await expect(healthCheck(tls.address)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });

    it('a client that does not trust the server certificate refuses to talk to it', async () => {
      const untrusting = client(tls.address, credentials.createSsl(pki.read('other-ca.crt')));
      expect((await codeOf(untrusting.mint(personRequest(), undefined, deadline))).code).toBe(status.UNAVAILABLE);
    });

    it('a client certificate is not required without GRPC_TLS_CLIENT_CA_FILE', async () => {
      const withCert = client(tls.address, credentials.createSsl(pki.read('ca.crt'), pki.read('rogue.key'), pki.read('rogue.crt')));
      expect((await withCert.mint(personRequest(), undefined, deadline)).id!.value).toMatch(/^04-/);
    });
  });

  describe('mutual TLS (+ GRPC_TLS_CLIENT_CA_FILE)', () => {
    it('Mint works with a client certificate signed by the client CA', async () => {
      const c = client(mtls.address, credentials.createSsl(pki.read('ca.crt'), pki.read('client.key'), pki.read('client.crt')));
      const { id } = await c.mint(personRequest(), undefined, deadline);
      expect((await c.validate({ id: id!.value, checkRegistry: true })).registered).toBe(true);
    });

    it('Mint fails without a client certificate', async () => {
      const c = client(mtls.address, credentials.createSsl(pki.read('ca.crt')));
      expect((await codeOf(c.mint(personRequest(), undefined, deadline))).code).toBe(status.UNAVAILABLE);
      await expect(healthCheck(mtls.address, credentials.createSsl(pki.read('ca.crt')))).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });

    it('Mint fails with a client certificate from another CA', async () => {
      const c = client(mtls.address, credentials.createSsl(pki.read('ca.crt'), pki.read('rogue.key'), pki.read('rogue.crt')));
      expect((await codeOf(c.mint(personRequest(), undefined, deadline))).code).toBe(status.UNAVAILABLE);
    });

    it('Mint fails over plaintext', async () => {
      expect((await codeOf(client(mtls.address).mint(personRequest(), undefined, deadline))).code).toBe(status.UNAVAILABLE);
    });
  });

  it('a bad TLS file stops the server at startup, naming the variable', async () => {
    await expect(startServer(db.handle, { GRPC_TLS_CERT_FILE: pki.file('server.crt'), GRPC_TLS_KEY_FILE: pki.file('client.key') }))
      .rejects.toThrow(/^GRPC_TLS_CERT_FILE\/GRPC_TLS_KEY_FILE: /);
    await expect(startServer(db.handle, { GRPC_TLS_CERT_FILE: pki.file('missing.crt'), GRPC_TLS_KEY_FILE: pki.file('server.key') }))
      .rejects.toThrow(/^GRPC_TLS_CERT_FILE: cannot read /);
  });
});
