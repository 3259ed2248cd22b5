import { EntityType } from '../gen/chittyid/v1/chittyid.js';
import { invalidArgument } from '../errors.js';
import { letterOf } from '../minting/entity-type.js';
import { normalizeJurisdiction, regionOf } from '../minting/jurisdiction.js';
import type { MintSpec } from '../minting/mint-spec.js';

/** Limits on caller-supplied data, so one request cannot bloat the registry. */
export const LIMITS = Object.freeze({
  metadataEntries: 32,
  metadataKeyLength: 64,
  metadataValueLength: 1024,
  idempotencyKeyLength: 128,
  maxTrustLevel: 5,
});

interface CommonFields {
  entityType: EntityType;
  jurisdiction: string;
  trustLevel: number;
  metadata: { [key: string]: string };
  idempotencyKey: string;
}

export interface MintRequestContext {
  readonly principal: string;
  readonly defaultJurisdiction: string;
  readonly deadline: number | undefined;
}

const ENTITY_TYPES = 'ENTITY_TYPE_PERSON, ENTITY_TYPE_LOCATION, ENTITY_TYPE_THING, ENTITY_TYPE_EVENT or ENTITY_TYPE_AUTHORITY';
// Printable text without control characters (PostgreSQL's jsonb also refuses NUL).
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Validates the fields Mint and MintBatch share; every error names its field and limit. */
export function toMintSpec(req: CommonFields, kind: MintSpec['kind'], count: number, ctx: MintRequestContext): MintSpec {
  const entityType = letterOf(req.entityType);
  if (entityType === undefined) {
    throw invalidArgument('entity_type', req.entityType === EntityType.ENTITY_TYPE_UNSPECIFIED
      ? `is required and must be ${ENTITY_TYPES} (ENTITY_TYPE_UNSPECIFIED is never defaulted)`
      : `unknown value ${req.entityType}; must be ${ENTITY_TYPES}`);
  }
  const jurisdiction = req.jurisdiction === '' ? ctx.defaultJurisdiction : normalizeJurisdiction(req.jurisdiction);
  // The dataset's keys are exactly the accepted codes, so the lookup is the whole check.
  const region = regionOf(jurisdiction);
  if (region === undefined) {
    throw invalidArgument('jurisdiction', `"${req.jurisdiction.slice(0, 16)}" is not an ISO 3166-1 alpha-3 code, XIW or XDG`);
  }
  if (!Number.isInteger(req.trustLevel) || req.trustLevel < 0 || req.trustLevel > LIMITS.maxTrustLevel) {
    throw invalidArgument('trust_level', `must be between 0 and ${LIMITS.maxTrustLevel}, got ${req.trustLevel}`);
  }
  const keys = Object.keys(req.metadata);
  if (keys.length > LIMITS.metadataEntries) {
    throw invalidArgument('metadata', `at most ${LIMITS.metadataEntries} entries, got ${keys.length}`);
  }
  for (const key of keys) {
    const value = req.metadata[key]!;
    if (key.length === 0 || key.length > LIMITS.metadataKeyLength || CONTROL.test(key)) {
      throw invalidArgument('metadata', `keys must be 1 to ${LIMITS.metadataKeyLength} printable characters`);
    }
    if (value.length > LIMITS.metadataValueLength || CONTROL.test(value)) {
      throw invalidArgument(`metadata["${key}"]`, `values must be at most ${LIMITS.metadataValueLength} printable characters`);
    }
  }
  const key = req.idempotencyKey;
  if (key.length > LIMITS.idempotencyKeyLength || CONTROL.test(key)) {
    throw invalidArgument('idempotency_key', `must be at most ${LIMITS.idempotencyKeyLength} printable characters`);
  }
  return {
    kind, principal: ctx.principal, entityType, jurisdiction, region, trustLevel: req.trustLevel,
    metadata: req.metadata, count, idempotencyKey: key === '' ? undefined : key, deadline: ctx.deadline,
  };
}
