import { checksumOf } from './checksum.js';
import type { EntityLetter } from './entity-type.js';

// The writing half of the ID format, kept apart from the parser so worker threads load only
// this and the checksum (not the country dataset or the generated gRPC code).

/** The version this service mints; 03 is only validated (SPEC §1). */
export const MINT_VERSION = '04';

/** The fields of a ChittyID. */
export interface IdComponents {
  readonly version: string;
  readonly region: number;
  readonly jurisdiction: string;
  readonly sequence: string;
  readonly entityType: EntityLetter;
  readonly yymm: string;
  readonly trustLevel: number;
  readonly checksum: string;
}

/** The checksummed body: the first seven fields without hyphens. */
export function bodyOf(id: Omit<IdComponents, 'checksum'>): string {
  return `${id.version}${id.region}${id.jurisdiction}${id.sequence}${id.entityType}${id.yymm}${id.trustLevel}`;
}

/** Formats the fields into an ID string, computing the checksum. */
export function formatId(id: Omit<IdComponents, 'checksum'>): string {
  return `${id.version}-${id.region}-${id.jurisdiction}-${id.sequence}-${id.entityType}-${id.yymm}-${id.trustLevel}-${checksumOf(bodyOf(id))}`;
}

/** UTC year and month of an instant as YYMM. */
export function yymmOf(epochMs: number): string {
  const d = new Date(epochMs);
  const yy = d.getUTCFullYear() % 100;
  const mm = d.getUTCMonth() + 1;
  return `${yy < 10 ? '0' : ''}${yy}${mm < 10 ? '0' : ''}${mm}`;
}

/** The 12-digit, zero-padded decimal form of a permuted sequence number. */
export const sequenceDigits = (n: number): string => String(n).padStart(12, '0');

/**
 * The components of an ID this service minted (v04: fixed offsets, checksum already computed),
 * read without the parser's regex and checksum work; only for IDs that formatId produced.
 */
export function mintedComponents(id: string): IdComponents {
  return {
    version: id.slice(0, 2),
    region: id.charCodeAt(3) - 48,
    jurisdiction: id.slice(5, 8),
    sequence: id.slice(9, 21),
    entityType: id[22] as EntityLetter,
    yymm: id.slice(24, 28),
    trustLevel: id.charCodeAt(29) - 48,
    checksum: id.slice(31, 33),
  };
}
