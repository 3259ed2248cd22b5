#!/usr/bin/env node
// The raw-PostgreSQL ceiling for MintBatch: the same rows (distinct v04 IDs, as MintBatch writes
// them) inserted straight through `pg` with one INSERT … SELECT FROM unnest(…) per batch, from
// `concurrency` connections for a fixed time, into a scratch copy of chitty_ids.
//
//   node loadtest/raw-pg-baseline.mjs --database-url URL [--concurrency 8] [--duration 10s]
//                                     [--rows 1000] [--json]
//
// The database must already hold chitty_ids (the service's migrations create it).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT, parseDuration } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.DATABASE_URL },
    concurrency: { type: 'string', default: '8' },
    duration: { type: 'string', default: '10s' },
    rows: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // Experiments pricing the schema: 'like' = chitty_ids as migrated; 'no-check' drops the CHECK
    // regex; 'no-generated' drops the 8 generated STORED columns; 'lean' drops both.
    ddl: { type: 'string', default: 'like' },
  },
});
if (!opt['database-url']) throw new Error('--database-url (or DATABASE_URL) is required');
const url = new URL(opt['database-url']);
if (!/^(127\.|localhost$|\[::1\]$)/.test(url.hostname)) throw new Error('raw baseline runs against loopback PostgreSQL only');

const concurrency = Number(opt.concurrency);
const rowsPerInsert = Number(opt.rows);
const seconds = parseDuration(opt.duration);
const { formatId, yymmOf } = await import(join(ROOT, 'dist', 'src', 'minting', 'id-writer.js'));

// The service's IDs are a keyed permutation of a counter, so they land all over the primary-key
// index; a multiplicative permutation mod 10^12 (multiplier coprime to 10) does the same here.
const SPACE = 1_000_000_000_000n;
const MULT = 387_420_489n; // 3^18
const yymm = yymmOf(Date.now());
let counter = 0n;
function nextIds(n) {
  const ids = new Array(n);
  for (let i = 0; i < n; i++) {
    const seq = String((counter++ * MULT) % SPACE).padStart(12, '0');
    ids[i] = formatId({ version: '04', region: 1, jurisdiction: 'USA', sequence: seq, entityType: 'T', yymm, trustLevel: 0 });
  }
  return ids;
}

// The statement the service's repository sends for a group (src/db/chitty-id.repository.ts).
const INSERT = `
  INSERT INTO chitty_ids_raw (id, metadata, principal, idempotency_key)
  SELECT r.id, ($2::jsonb[])[r.w], ($3::text[])[r.w], ($4::text[])[r.w]
  FROM unnest(string_to_array($1, ','), string_to_array($5, ',')::int[]) AS r(id, w)`;

const admin = new pg.Client({ connectionString: opt['database-url'] });
await admin.connect();
await admin.query('DROP TABLE IF EXISTS chitty_ids_raw');
const leanColumns = (check) => `CREATE TABLE chitty_ids_raw (id text PRIMARY KEY ${check ? "CHECK (id ~ '^04-[1-9]-[A-Z]{3}-[0-9]{12}-[PLTEA]-[0-9]{4}-[0-5]-[0-9]{2}$')" : ''},
     metadata jsonb NOT NULL DEFAULT '{}', state text NOT NULL DEFAULT 'ACTIVE',
     principal text NOT NULL, idempotency_key text, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz,
     revoked_reason text, revoked_by text)`;
const DDL = {
  like: 'CREATE TABLE chitty_ids_raw (LIKE chitty_ids INCLUDING ALL)',
  'no-check': 'CREATE TABLE chitty_ids_raw (LIKE chitty_ids INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING INDEXES)',
  'no-generated': leanColumns(true),
  lean: leanColumns(false),
};
if (!DDL[opt.ddl]) throw new Error(`--ddl must be one of ${Object.keys(DDL).join(', ')}`);
await admin.query(DDL[opt.ddl]);

const writeIndex = new Array(rowsPerInsert).fill(1).join(',');
const clients = await Promise.all(Array.from({ length: concurrency }, async () => {
  const c = new pg.Client({ connectionString: opt['database-url'] });
  await c.connect();
  return c;
}));

// One short warm-up insert per connection (plans, catalog caches), not counted.
await Promise.all(clients.map((c) => c.query(INSERT, [nextIds(rowsPerInsert).join(','), ['{}'], ['loadtest'], [null], writeIndex])));
await admin.query('TRUNCATE chitty_ids_raw');

let rows = 0;
let inserts = 0;
const latencies = [];
const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(clients.map(async (c) => {
  while (performance.now() < deadline) {
    const ids = nextIds(rowsPerInsert);
    const t0 = performance.now();
    const r = await c.query(INSERT, [ids.join(','), ['{}'], ['loadtest'], [null], writeIndex]);
    latencies.push(performance.now() - t0);
    rows += r.rowCount;
    inserts++;
  }
}));
const elapsed = (performance.now() - started) / 1000;
const stored = Number((await admin.query('SELECT count(*)::bigint AS n FROM chitty_ids_raw')).rows[0].n);
await Promise.all(clients.map((c) => c.end()));
if (!opt.keep) await admin.query('DROP TABLE chitty_ids_raw');
await admin.end();

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
const result = {
  scenario: 'raw-pg-unnest', ddl: opt.ddl, concurrency, rowsPerInsert, seconds: elapsed, inserts, rows, stored,
  rowsPerSec: rows / elapsed, insertsPerSec: inserts / elapsed, p50: q(50), p95: q(95), p99: q(99),
};
if (stored !== rows) throw new Error(`raw baseline counted ${rows} rows but the table holds ${stored}`);
if (opt.json) console.log(JSON.stringify(result));
else console.log(`raw PostgreSQL: ${Math.round(result.rowsPerSec).toLocaleString('en-US')} rows/s (${inserts} inserts of ${rowsPerInsert} rows, ${concurrency} connections, ${elapsed.toFixed(1)} s; p50 ${q(50).toFixed(1)} ms, p99 ${q(99).toFixed(1)} ms)`);
