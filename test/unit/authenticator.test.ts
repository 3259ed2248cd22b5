import { createHash } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/auth/api-keys.js';
import { ANONYMOUS_PRINCIPAL, createAuthenticator } from '../../src/auth/authenticator.js';
import { ChittyError } from '../../src/errors.js';

const MINTER_TOKEN = 'mint-token-Qw3rty_-abc';
const ADMIN_TOKEN = 'admin-token-Zx9';
const sha = (token: string): string => createHash('sha256').update(token).digest('hex');
const keys = parseApiKeys(
  [
    `reader ${sha('reader-token')} chittyid:read`,
    `minter ${sha(MINTER_TOKEN)} chittyid:mint,chittyid:read`,
    `admin ${sha(ADMIN_TOKEN)} chittyid:admin`,
  ].join('\n'),
  'test',
);

function withAuth(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add('authorization', value);
  return metadata;
}

function failure(fn: () => unknown): ChittyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ChittyError);
    return err as ChittyError;
  }
  throw new Error('expected a ChittyError');
}

describe('createAuthenticator', () => {
  const auth = createAuthenticator(keys);

  it('is off without keys and lets every call through as anonymous', () => {
    const off = createAuthenticator(undefined);
    expect(off.enabled).toBe(false);
    expect(off.authenticate(new Metadata(), 'chittyid:admin')).toBe(ANONYMOUS_PRINCIPAL);
    expect(off.authenticate(withAuth('Bearer nonsense'), 'chittyid:admin')).toBe('anonymous');
  });

  it('returns the principal of a known token that has the scope', () => {
    expect(auth.enabled).toBe(true);
    expect(auth.authenticate(withAuth(`Bearer ${MINTER_TOKEN}`), 'chittyid:mint')).toBe('minter');
    expect(auth.authenticate(withAuth(`Bearer ${MINTER_TOKEN}`), 'chittyid:read')).toBe('minter');
    expect(auth.authenticate(withAuth(`Bearer ${ADMIN_TOKEN}`), 'chittyid:admin')).toBe('admin');
    expect(auth.authenticate(withAuth('Bearer reader-token'), 'chittyid:read')).toBe('reader');
  });

  it('treats the scheme case-insensitively and tolerates extra spaces', () => {
    expect(auth.authenticate(withAuth(`bearer ${MINTER_TOKEN}`), 'chittyid:mint')).toBe('minter');
    expect(auth.authenticate(withAuth(`BEARER   ${MINTER_TOKEN} `), 'chittyid:mint')).toBe('minter');
  });

  it('rejects a missing header as UNAUTHENTICATED "missing bearer token"', () => {
    const err = failure(() => auth.authenticate(new Metadata(), 'chittyid:read'));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.message).toBe('missing bearer token');
  });

  it.each([
    ['an unknown token', ['Bearer not-a-known-token']],
    ['another scheme', [`Basic ${MINTER_TOKEN}`]],
    ['no token after the scheme', ['Bearer ']],
    ['a token with inner spaces', [`Bearer ${MINTER_TOKEN} extra`]],
    ['the token without a scheme', [MINTER_TOKEN]],
    ['two authorization values', [`Bearer ${MINTER_TOKEN}`, `Bearer ${MINTER_TOKEN}`]],
    ['an oversized token', [`Bearer ${'a'.repeat(5000)}`]],
    ['a token differing in case', [`Bearer ${MINTER_TOKEN.toUpperCase()}`]],
  ])('rejects %s as UNAUTHENTICATED "invalid bearer token" without echoing it', (_name, values) => {
    const err = failure(() => auth.authenticate(withAuth(...values), 'chittyid:read'));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.message).toBe('invalid bearer token');
    const everything = `${err.message} ${String(err.cause)} ${JSON.stringify(err.trailers)}`;
    for (const value of values) {
      const token = value.replace(/^\S+\s*/, '').trim();
      if (token.length > 3) expect(everything).not.toContain(token);
    }
  });

  it('rejects a known token without the scope as PERMISSION_DENIED naming the scope', () => {
    const err = failure(() => auth.authenticate(withAuth(`Bearer ${MINTER_TOKEN}`), 'chittyid:admin'));
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.message).toContain('chittyid:admin');
    expect(err.message).not.toContain(MINTER_TOKEN);

    const reader = failure(() => auth.authenticate(withAuth('Bearer reader-token'), 'chittyid:mint'));
    expect(reader.code).toBe(status.PERMISSION_DENIED);
    expect(reader.message).toContain('chittyid:mint');
  });

  it('with an empty key list, refuses everyone', () => {
    const none = createAuthenticator([]);
    expect(none.enabled).toBe(true);
    expect(failure(() => none.authenticate(withAuth(`Bearer ${MINTER_TOKEN}`), 'chittyid:read')).code).toBe(status.UNAUTHENTICATED);
  });
});
