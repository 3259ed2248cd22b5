import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/auth/api-keys.js';
import { createAuthenticator } from '../../src/auth/authenticator.js';

const script = resolve(import.meta.dirname, '../../scripts/make-api-key.mjs');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [script, ...args], (err, stdout, stderr) => {
      ok({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

const tokenOf = (stderr: string): string => /^CHITTYID_TOKEN=(\S+)$/m.exec(stderr)?.[1] ?? '';

describe('scripts/make-api-key.mjs', () => {
  it('prints a keys-file line on stdout and a working 32-byte token on stderr', async () => {
    const { code, stdout, stderr } = await run('billing-svc', 'chittyid:mint,chittyid:read');
    expect(code).toBe(0);
    const token = tokenOf(stderr);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(stdout).not.toContain(token);
    expect(stdout).toBe(`billing-svc ${createHash('sha256').update(token).digest('hex')} chittyid:mint,chittyid:read\n`);

    // The line is accepted by the parser, and the token then authenticates as that principal.
    const auth = createAuthenticator(parseApiKeys(stdout, 'generated'));
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    expect(auth.authenticate(metadata, 'chittyid:mint')).toBe('billing-svc');
  });

  it('makes a different token every time', async () => {
    const [a, b] = await Promise.all([run('svc', 'chittyid:read'), run('svc', 'chittyid:read')]);
    expect(tokenOf(a.stderr)).not.toBe(tokenOf(b.stderr));
  });

  it.each([
    [[], /expected exactly two arguments/],
    [['svc'], /expected exactly two arguments/],
    [['bad principal', 'chittyid:read'], /bad principal/],
    [['svc', 'chittyid:write'], /unknown scope\(s\): chittyid:write/],
    [['svc', 'chittyid:read', 'extra'], /expected exactly two arguments/],
  ])('refuses %j with exit code 2 and prints nothing on stdout', async (args, message) => {
    const { code, stdout, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage:');
  });
});
