import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway PKI made with `openssl`: paths to PEM files and a reader for them. */
export interface TestPki {
  readonly dir: string;
  /** Absolute path of a file in the PKI directory, e.g. `file('server.crt')`. */
  file(name: string): string;
  read(name: string): Buffer;
  remove(): void;
}

/**
 * Generates, in a fresh temp directory, ECDSA P-256 certificates valid for two days:
 * `ca.crt`/`ca.key` (the CA), `server.crt`/`server.key` (127.0.0.1 and localhost, signed by the CA),
 * `client.crt`/`client.key` (clientAuth, signed by the CA), and an unrelated `other-ca.crt` with
 * `rogue.crt`/`rogue.key` signed by it. Same approach as test/unit/server-credentials.test.ts.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'chittyid-pki-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const sign = (name: string, subject: string, ca: string, ext: string): void => {
    writeFileSync(file(`${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  const makeCa = (name: string, subject: string): void =>
    openssl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');

  makeCa('ca', '/CN=ChittyID test CA');
  sign('server', '/CN=localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', '/CN=test-client', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeCa('other-ca', '/CN=Other CA');
  sign('rogue', '/CN=rogue', 'other-ca', 'extendedKeyUsage=clientAuth\n');

  return {
    dir,
    file,
    read: (name) => readFileSync(file(name)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
