import { createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The keys derived from CHITTYID_SEQUENCE_KEY: an AES-256 key for the FF1 permutation and a
 * fingerprint stored in the database. HKDF with distinct labels keeps the fingerprint from
 * revealing anything about the permutation key.
 */
export interface SequenceKeys {
  readonly ff1Key: Buffer;
  readonly fingerprint: string;
}

const SALT = Buffer.from('chittyid.sequence.v1');

export function deriveSequenceKeys(secret: string): SequenceKeys {
  if (secret.length < 32) throw new RangeError('sequence key must be at least 32 characters');
  const ikm = Buffer.from(secret, 'utf8');
  const ff1Key = Buffer.from(hkdfSync('sha256', ikm, SALT, 'ff1-aes-256', 32));
  const fingerprintBytes = Buffer.from(hkdfSync('sha256', ikm, SALT, 'fingerprint', 32));
  const fingerprint = createHash('sha256').update(fingerprintBytes).digest('hex').slice(0, 32);
  return Object.freeze({ ff1Key, fingerprint });
}

/** A fresh random secret for the embedded default (kept in the data directory). */
export const generateSequenceSecret = (): string => randomBytes(32).toString('base64url');
