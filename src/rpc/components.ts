import { type ChittyId, type IdRecord, IdState } from '../gen/chittyid/v1/chittyid.js';
import type { IdRecordRow } from '../db/chitty-id.repository.js';
import { entityTypeOf } from '../minting/entity-type.js';
import { parseId, type IdComponents } from '../minting/id-format.js';

/** The wire form of parsed ID components. */
export function toChittyIdMessage(value: string, id: IdComponents): ChittyId {
  return {
    value, version: id.version, region: id.region, jurisdiction: id.jurisdiction, sequence: id.sequence,
    entityType: entityTypeOf(id.entityType), yymm: id.yymm, trustLevel: id.trustLevel, checksum: id.checksum,
  };
}

export const toIdState = (state: 'ACTIVE' | 'REVOKED'): IdState =>
  state === 'ACTIVE' ? IdState.ID_STATE_ACTIVE : IdState.ID_STATE_REVOKED;

/** The wire form of a stored record. */
export function toIdRecord(row: IdRecordRow): IdRecord {
  const parsed = parseId(row.id);
  if (!parsed.id) throw new Error(`stored ID ${row.id} does not parse`);
  return {
    id: toChittyIdMessage(row.id, parsed.id),
    metadata: row.metadata,
    state: toIdState(row.state),
    createdAt: row.createdAt,
    principal: row.principal,
    revokedAt: row.revokedAt ?? undefined,
    revokedReason: row.revokedReason ?? '',
    revokedBy: row.revokedBy ?? '',
  };
}
