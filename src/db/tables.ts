import type { ColumnType, Generated } from 'kysely';

/** Row types; they never leave the repositories (STYLE: three layers). */

export interface ChittyIdTable {
  id: string;
  metadata: ColumnType<Record<string, string>, string, string>;
  state: Generated<'ACTIVE' | 'REVOKED'>;
  principal: string;
  idempotency_key: string | null;
  created_at: Generated<Date>;
  revoked_at: Date | null;
  revoked_reason: string | null;
  revoked_by: string | null;
}

export interface IdempotencyKeyTable {
  principal: string;
  idempotency_key: string;
  request_hash: string;
  ids: string[];
  created_at: Generated<Date>;
}

export interface SequenceCounterTable {
  singleton: Generated<boolean>;
  next_value: ColumnType<string, string | number, string | number>;
  limit_value: ColumnType<string, string | number, string | number>;
}

export interface SequenceLeaseTable {
  lease_id: Generated<string>;
  node_id: number;
  start_value: ColumnType<string, string | number, never>;
  end_value: ColumnType<string, string | number, never>;
  leased_at: Generated<Date>;
}

export interface ServiceSettingTable {
  name: string;
  value: string;
  created_at: Generated<Date>;
}

export interface IdAuditLogTable {
  audit_id: Generated<string>;
  chitty_id: string;
  action: string;
  previous_state: string;
  new_state: string;
  principal: string;
  reason: string;
  node_id: number;
  at: Generated<Date>;
}

/** The view chitty_id_components: each ID with its components (read-only). */
export interface ChittyIdComponentsView {
  id: string;
  version: string;
  region: number;
  jurisdiction: string;
  sequence: string;
  entity_type: string;
  yymm: string;
  trust_level: number;
  checksum: string;
  metadata: Record<string, string>;
  state: 'ACTIVE' | 'REVOKED';
  principal: string;
  idempotency_key: string | null;
  created_at: Date;
}

export interface Database {
  chitty_id_components: ChittyIdComponentsView;
  chitty_ids: ChittyIdTable;
  idempotency_keys: IdempotencyKeyTable;
  sequence_counter: SequenceCounterTable;
  sequence_leases: SequenceLeaseTable;
  service_settings: ServiceSettingTable;
  id_audit_log: IdAuditLogTable;
}
