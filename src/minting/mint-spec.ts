import { createHash } from 'node:crypto';
import type { EntityLetter } from './entity-type.js';

/** A validated mint request (Mint is a batch of one). */
export interface MintSpec {
  readonly kind: 'mint' | 'batch';
  readonly principal: string;
  readonly entityType: EntityLetter;
  readonly jurisdiction: string;
  readonly region: number;
  readonly trustLevel: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly count: number;
  readonly idempotencyKey: string | undefined;
  /** Epoch ms after which the caller no longer waits: nothing is written for it. */
  readonly deadline: number | undefined;
}

/**
 * Fingerprint of what a request asks for, so a reused idempotency key with different
 * parameters is told apart (ALREADY_EXISTS) from a retry (same answer).
 */
export function requestHashOf(spec: MintSpec): string {
  const metadata = Object.keys(spec.metadata).sort().map((k) => [k, spec.metadata[k]]);
  return createHash('sha256')
    .update(JSON.stringify([spec.kind, spec.entityType, spec.jurisdiction, spec.trustLevel, spec.count, metadata]))
    .digest('hex');
}
