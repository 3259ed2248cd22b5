import { checksumOf } from './checksum.js';
import { isEntityLetter, type EntityLetter } from './entity-type.js';
import { bodyOf, type IdComponents } from './id-writer.js';
import { regionOf } from './jurisdiction.js';

// The reading half of the ID format (SPEC §1): parse and validate v03 and v04 IDs.
// The writing half, which the worker threads load, is id-writer.ts.

export type { IdComponents } from './id-writer.js';

export const SEQUENCE_DIGITS: Readonly<Record<string, number>> = { '03': 4, '04': 12 };
/** 10^12: the size of the v04 sequence space. */
export const SEQUENCE_SPACE = 1_000_000_000_000;
/** Longer input is rejected before it is parsed (the longest valid ID has 33 characters). */
export const MAX_ID_LENGTH = 64;

/** Stable reason codes returned by Validate. */
export type ValidationReason =
  | 'OK' | 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'BAD_CHECKSUM' | 'UNKNOWN_JURISDICTION'
  | 'REGION_MISMATCH' | 'BAD_ENTITY_TYPE' | 'BAD_DATE' | 'BAD_TRUST_LEVEL';

export type ParseResult =
  | { readonly valid: true; readonly reason: 'OK'; readonly id: IdComponents }
  /** `id` is present when the ID is well formed (right shape) but fails a rule. */
  | { readonly valid: false; readonly reason: Exclude<ValidationReason, 'OK'>; readonly id?: IdComponents };

const SHAPE = /^(\d{2})-(\d)-([A-Z]{3})-(\d+)-([A-Z])-(\d{4})-(\d)-(\d{2})$/;

/** Parses and validates an ID: shape, version, checksum, entity type, date, trust level, jurisdiction, region. */
export function parseId(value: string): ParseResult {
  if (value.length > MAX_ID_LENGTH) return { valid: false, reason: 'MALFORMED' };
  const m = SHAPE.exec(value);
  if (!m) {
    const version = /^(\d{2})-/.exec(value)?.[1];
    if (version !== undefined && SEQUENCE_DIGITS[version] === undefined) return { valid: false, reason: 'UNSUPPORTED_VERSION' };
    return { valid: false, reason: 'MALFORMED' };
  }
  const [, version, g, jurisdiction, sequence, t, yymm, c, checksum] = m as unknown as string[];
  const digits = SEQUENCE_DIGITS[version!];
  if (digits === undefined) return { valid: false, reason: 'UNSUPPORTED_VERSION' };
  if (sequence!.length !== digits) return { valid: false, reason: 'MALFORMED' };
  const id: IdComponents = {
    version: version!, region: Number(g), jurisdiction: jurisdiction!, sequence: sequence!,
    entityType: t as EntityLetter, yymm: yymm!, trustLevel: Number(c), checksum: checksum!,
  };
  if (checksumOf(bodyOf(id)) !== id.checksum) return { valid: false, reason: 'BAD_CHECKSUM', id };
  if (!isEntityLetter(id.entityType)) return { valid: false, reason: 'BAD_ENTITY_TYPE', id };
  const month = Number(yymm!.slice(2));
  if (month < 1 || month > 12) return { valid: false, reason: 'BAD_DATE', id };
  if (id.trustLevel > 5) return { valid: false, reason: 'BAD_TRUST_LEVEL', id };
  const region = regionOf(id.jurisdiction);
  if (region === undefined) return { valid: false, reason: 'UNKNOWN_JURISDICTION', id };
  if (region !== id.region) return { valid: false, reason: 'REGION_MISMATCH', id };
  return { valid: true, reason: 'OK', id };
}

