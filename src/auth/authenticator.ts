import { createHash, timingSafeEqual } from 'node:crypto';
import { status, type Metadata } from '@grpc/grpc-js';
import { ChittyError } from '../errors.js';
import type { ApiKey } from './api-keys.js';
import type { Scope } from './scopes.js';

/** Checks a call's bearer token and scope; one instance per server. */
export interface Authenticator {
  /** False when no keys file is configured: every call is let through as 'anonymous'. */
  readonly enabled: boolean;
  /**
   * Returns the principal owning the call's `authorization: Bearer <token>`, or throws a
   * ChittyError: UNAUTHENTICATED when the token is missing, malformed or unknown,
   * PERMISSION_DENIED when it lacks `required`.
   */
  authenticate(metadata: Metadata, required: Scope): string;
}

/** Principal recorded for calls when authentication is off. */
export const ANONYMOUS_PRINCIPAL = 'anonymous';

// Real tokens are ~43 characters; the cap only stops a caller from making us hash megabytes.
const MAX_TOKEN_LENGTH = 4096;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

const missingToken = (): ChittyError => new ChittyError(status.UNAUTHENTICATED, 'missing bearer token');
// The cause is for our logs only and never contains the token.
const invalidToken = (why: string): ChittyError =>
  new ChittyError(status.UNAUTHENTICATED, 'invalid bearer token', { cause: new Error(why) });

/** Extracts the token from the single `authorization` value, or throws UNAUTHENTICATED. */
function bearerToken(metadata: Metadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) throw missingToken();
  if (values.length > 1) throw invalidToken(`${values.length} authorization values`);
  const [value] = values;
  if (typeof value !== 'string') throw invalidToken('authorization value is binary');
  if (value.length > MAX_TOKEN_LENGTH + 16) throw invalidToken('authorization value too long');
  const match = BEARER.exec(value);
  const token = match?.[1];
  if (token === undefined) throw invalidToken('authorization is not "Bearer <token>"');
  return token;
}

/**
 * Builds the authenticator for a parsed keys file; `undefined` means authentication is off
 * (the caller decides whether that is allowed, see Config.authDisabledExplicitly).
 */
export function createAuthenticator(keys: readonly ApiKey[] | undefined): Authenticator {
  if (keys === undefined) {
    return Object.freeze({ enabled: false, authenticate: () => ANONYMOUS_PRINCIPAL });
  }
  const table = [...keys];

  function authenticate(metadata: Metadata, required: Scope): string {
    const token = bearerToken(metadata);
    const digest = createHash('sha256').update(token, 'utf8').digest();
    // Compare against every key without stopping at a match, so timing does not reveal which
    // key (or how many keys) came before the right one.
    let found: ApiKey | undefined;
    for (const key of table) {
      const equal = timingSafeEqual(key.tokenSha256, digest);
      found = equal ? key : found;
    }
    if (found === undefined) throw invalidToken('no key has this token hash');
    if (!found.scopes.has(required)) {
      throw new ChittyError(status.PERMISSION_DENIED, `this token lacks the ${required} scope`, { principal: found.principal });
    }
    return found.principal;
  }

  return Object.freeze({ enabled: true, authenticate });
}
