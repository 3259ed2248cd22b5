import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Server, ServerCredentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerCredentials } from '../../src/grpc/server-credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'chittyid-tls-'));
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all ECDSA P-256. */
function makePki(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=ChittyID test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(file(`${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'test-client'}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  // A second, unrelated CA whose certificate the server must not accept as a client.
  openssl('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=Other CA',
    '-addext', 'basicConstraints=critical,CA:TRUE');
  writeFileSync(file('rogue.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.csr', '-subj', '/CN=rogue');
  openssl('x509', '-req', '-in', 'rogue.csr', '-CA', 'other-ca.crt', '-CAkey', 'other-ca.key', '-CAcreateserial',
    '-out', 'rogue.crt', '-days', '2', '-extfile', 'rogue.ext');
}

const read = (name: string): Buffer => readFileSync(file(name));

async function startServer(creds: ServerCredentials): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { port, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** One grpc.health.v1.Health/Check call; the empty request encodes as zero bytes. */
function healthCheck(target: string, creds: ChannelCredentials): Promise<Buffer> {
  const client = new Client(target, creds);
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, value?: Buffer) => {
        client.close();
        if (err) reject(err);
        else resolve(value ?? Buffer.alloc(0));
      },
    );
  });
}

const SERVING = Buffer.from([0x08, 0x01]); // HealthCheckResponse{status: SERVING}

beforeAll(makePki, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createServerCredentials', () => {
  it('is insecure without TLS settings', async () => {
    const server = await startServer(createServerCredentials(undefined));
    try {
      expect(await healthCheck(`127.0.0.1:${server.port}`, credentials.createInsecure())).toEqual(SERVING);
    } finally {
      await server.stop();
    }
  });

  describe('TLS', () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      server = await startServer(createServerCredentials({ certFile: file('server.crt'), keyFile: file('server.key'), clientCaFile: undefined }));
    });
    afterAll(() => server.stop());

    it('serves a client that trusts the CA, by IP and by name', async () => {
      const tls = credentials.createSsl(read('ca.crt'));
      expect(await healthCheck(`127.0.0.1:${server.port}`, tls)).toEqual(SERVING);
      expect(await healthCheck(`localhost:${server.port}`, tls)).toEqual(SERVING);
    });

    it('refuses a plaintext client', async () => {
      await expect(healthCheck(`127.0.0.1:${server.port}`, credentials.createInsecure())).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });

    it('is refused by a client that does not trust the CA', async () => {
      await expect(healthCheck(`127.0.0.1:${server.port}`, credentials.createSsl(read('other-ca.crt')))).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });
  });

  describe('mutual TLS', () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      server = await startServer(createServerCredentials({ certFile: file('server.crt'), keyFile: file('server.key'), clientCaFile: file('ca.crt') }));
    });
    afterAll(() => server.stop());

    it('serves a client presenting a certificate from the client CA', async () => {
      const mtls = credentials.createSsl(read('ca.crt'), read('client.key'), read('client.crt'));
      expect(await healthCheck(`127.0.0.1:${server.port}`, mtls)).toEqual(SERVING);
    });

    it('refuses a client without a certificate', async () => {
      await expect(healthCheck(`127.0.0.1:${server.port}`, credentials.createSsl(read('ca.crt')))).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });

    it('refuses a client whose certificate another CA signed', async () => {
      const rogue = credentials.createSsl(read('ca.crt'), read('rogue.key'), read('rogue.crt'));
      await expect(healthCheck(`127.0.0.1:${server.port}`, rogue)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    });
  });

  describe('bad files stop startup naming the variable', () => {
    const tls = (overrides: Partial<{ certFile: string; keyFile: string; clientCaFile: string }>) => ({
      certFile: file('server.crt'), keyFile: file('server.key'), clientCaFile: undefined, ...overrides,
    });

    it.each([
      ['an unreadable certificate', { certFile: file('nope.crt') }, /^GRPC_TLS_CERT_FILE: cannot read .*nope\.crt \(ENOENT\)/],
      ['an unreadable key', { keyFile: file('nope.key') }, /^GRPC_TLS_KEY_FILE: cannot read .*nope\.key \(ENOENT\)/],
      ['an unreadable client CA', { clientCaFile: file('nope-ca.crt') }, /^GRPC_TLS_CLIENT_CA_FILE: cannot read/],
      ['a key where the certificate should be', { certFile: file('server.key') }, /^GRPC_TLS_CERT_FILE: no PEM certificate/],
      ['a certificate where the key should be', { keyFile: file('server.crt') }, /^GRPC_TLS_KEY_FILE: no PEM private key/],
      ['a client CA that is not PEM', { clientCaFile: file('server.ext') }, /^GRPC_TLS_CLIENT_CA_FILE: no PEM certificate/],
      ['a key that does not match the certificate', { keyFile: file('client.key') }, /^GRPC_TLS_CERT_FILE\/GRPC_TLS_KEY_FILE: .*key values mismatch/],
    ])('%s', (_name, overrides, message) => {
      expect(() => createServerCredentials(tls(overrides))).toThrow(message);
    });

    it('a corrupted certificate', () => {
      writeFileSync(file('corrupt.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect(() => createServerCredentials(tls({ certFile: file('corrupt.crt') }))).toThrow(/^GRPC_TLS_CERT_FILE: /);
    });
  });
});
