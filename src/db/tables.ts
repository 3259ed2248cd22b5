import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

/** Row types; they never leave the repositories (STYLE: three layers). */

export interface ChittyIdTable {
  id: string;
  version: GeneratedAlways<string>;
  region: GeneratedAlways<number>;
  jurisdiction: GeneratedAlways<string>;
  sequence: GeneratedAlways<string>;
  entity_type: GeneratedAlways<string>;
  yymm: GeneratedAlways<string>;
  trust_level: GeneratedAlways<number>;
  checksum: GeneratedAlways<string>;
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

export interface Database {
  chitty_ids: ChittyIdTable;
  idempotency_keys: IdempotencyKeyTable;
  sequence_counter: SequenceCounterTable;
  sequence_leases: SequenceLeaseTable;
  service_settings: ServiceSettingTable;
  id_audit_log: IdAuditLogTable;
}
