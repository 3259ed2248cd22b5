import { status, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityType, IdState } from '../../src/gen/chittyid/v1/chittyid.js';
import { parseId } from '../../src/minting/id-format.js';
import { codeOf, personRequest } from '../support/client.js';
import { hasPostgres, openBackend, type Backend } from '../support/databases.js';
import { startServer, type RunningServer } from '../support/servers.js';

const backends: Backend[] = ['pglite', 'postgres'];

describe.each(backends)('ChittyIdService over %s', (backend) => {
  const skip = backend === 'postgres' && !hasPostgres();
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  const unique = () => `key-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    if (skip) return;
    db = await openBackend(backend);
    s = await startServer(db.handle, { MAX_BATCH_SIZE: '1000', CHITTYID_DEFAULT_JURISDICTION: 'GBR' });
  });
  afterAll(async () => {
    if (skip) return;
    await s.stop();
    await db.close();
  });

  describe.skipIf(skip)('Mint', () => {
    it('mints a valid v04 ID with the requested components', async () => {
      const { id } = await s.client.mint({ entityType: EntityType.ENTITY_TYPE_EVENT, jurisdiction: 'JPN', trustLevel: 3 });
      expect(id!.value).toMatch(/^04-4-JPN-\d{12}-E-\d{4}-3-\d{2}$/);
      expect(parseId(id!.value)).toMatchObject({ valid: true });
      expect(id).toMatchObject({ version: '04', region: 4, jurisdiction: 'JPN', entityType: EntityType.ENTITY_TYPE_EVENT, trustLevel: 3 });
    });

    it('uses CHITTYID_DEFAULT_JURISDICTION when jurisdiction is empty, and accepts lower case', async () => {
      expect((await s.client.mint({ entityType: EntityType.ENTITY_TYPE_THING })).id!.jurisdiction).toBe('GBR');
      expect((await s.client.mint({ entityType: EntityType.ENTITY_TYPE_THING, jurisdiction: 'deu' })).id!.value).toMatch(/^04-3-DEU-/);
    });

    it('stores metadata and the principal, and the ID resolves', async () => {
      const { id } = await s.client.mint(personRequest({ metadata: { name: 'Ada', 'ü': 'ñ' } }));
      const { record } = await s.client.resolve({ id: id!.value });
      expect(record).toMatchObject({ metadata: { name: 'Ada', 'ü': 'ñ' }, state: IdState.ID_STATE_ACTIVE, principal: 'anonymous' });
      expect(record!.createdAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    });

    it('requests committed in one group keep their own metadata, type and jurisdiction', async () => {
      const asks = Array.from({ length: 24 }, (_, i) => ({
        entityType: (i % 5) + 1 as EntityType, jurisdiction: ['USA', 'FRA', 'JPN'][i % 3]!, metadata: (i % 4 === 0 ? {} : { n: String(i) }) as Record<string, string>,
      }));
      const minted = await Promise.all(asks.map((a) => s.client.mint(a)));
      const records = await Promise.all(minted.map((m) => s.client.resolve({ id: m.id!.value })));
      records.forEach((r, i) => {
        expect(r.record!.metadata).toEqual(asks[i]!.metadata);
        expect(r.record!.id).toMatchObject({ entityType: asks[i]!.entityType, jurisdiction: asks[i]!.jurisdiction });
      });
    });

    it('ENTITY_TYPE_UNSPECIFIED is INVALID_ARGUMENT, never a default', async () => {
      const e = await codeOf(s.client.mint({ jurisdiction: 'USA' }));
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toMatch(/^entity_type: .*never defaulted/);
      expect((await codeOf(s.client.mint({ entityType: 42 as EntityType }))).details).toMatch(/^entity_type: unknown value 42/);
    });

    it.each([
      [{ jurisdiction: 'ZZZ' }, /^jurisdiction: "ZZZ" is not an ISO 3166-1 alpha-3 code/],
      [{ jurisdiction: 'US' }, /^jurisdiction: /],
      [{ trustLevel: 6 }, /^trust_level: must be between 0 and 5, got 6/],
      [{ metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }, /^metadata: at most 32 entries, got 33/],
      [{ metadata: { ['k'.repeat(65)]: 'v' } }, /^metadata: keys must be 1 to 64/],
      [{ metadata: { k: 'v'.repeat(1025) } }, /^metadata\["k"\]: values must be at most 1024/],
      [{ metadata: { k: 'nul\u0000' } }, /^metadata\["k"\]: /],
      [{ idempotencyKey: 'x'.repeat(129) }, /^idempotency_key: must be at most 128/],
    ])('bad input %j → INVALID_ARGUMENT naming the field', async (extra, message) => {
      const e = await codeOf(s.client.mint(personRequest(extra)));
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toMatch(message);
    });

    it('idempotency: the same key returns the same ID; different parameters are ALREADY_EXISTS', async () => {
      const key = unique();
      const a = await s.client.mint(personRequest({ idempotencyKey: key, metadata: { a: '1' } }));
      const b = await s.client.mint(personRequest({ idempotencyKey: key, metadata: { a: '1' } }));
      expect(b.id!.value).toBe(a.id!.value);
      const e = await codeOf(s.client.mint(personRequest({ idempotencyKey: key, metadata: { a: '2' } })));
      expect(e.code).toBe(status.ALREADY_EXISTS);
      expect(e.details).toMatch(/^idempotency_key: /);
      // A MintBatch with the same key is a different request.
      expect((await codeOf(s.client.mintBatch({ ...personRequest({ idempotencyKey: key, metadata: { a: '1' } }), count: 1 }))).code).toBe(status.ALREADY_EXISTS);
    });

    it('idempotency holds for concurrent calls with one key: one ID for all', async () => {
      const key = unique();
      const results = await Promise.all(Array.from({ length: 20 }, () => s.client.mint(personRequest({ idempotencyKey: key }))));
      expect(new Set(results.map((r) => r.id!.value)).size).toBe(1);
    });

    it('an already expired deadline writes nothing', async () => {
      const key = unique();
      const e = await codeOf(s.client.mint(personRequest({ idempotencyKey: key }), new Metadata(), -1));
      expect(e.code).toBe(status.DEADLINE_EXCEEDED);
      const rows = await db.handle.db.selectFrom('idempotency_keys').select('ids').where('idempotency_key', '=', key).execute();
      expect(rows).toHaveLength(0);
    });
  });

  describe.skipIf(skip)('MintBatch', () => {
    it('mints count distinct valid IDs in one response, all committed', async () => {
      const { ids } = await s.client.mintBatch({ entityType: EntityType.ENTITY_TYPE_LOCATION, jurisdiction: 'BRA', count: 1000, metadata: { src: 'batch' } });
      expect(ids).toHaveLength(1000);
      expect(new Set(ids).size).toBe(1000);
      for (const id of ids) expect(parseId(id)).toMatchObject({ valid: true, id: { entityType: 'L', jurisdiction: 'BRA', region: 2 } });
      const stored = await db.handle.db.selectFrom('chitty_ids').select((eb) => eb.fn.countAll<number>().as('n')).where('id', 'in', ids).executeTakeFirstOrThrow();
      expect(Number(stored.n)).toBe(1000);
      // The components are queryable in SQL through the chitty_id_components view.
      const row = await db.handle.db.selectFrom('chitty_id_components').selectAll().where('id', '=', ids[7]!).executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        version: '04', region: 2, jurisdiction: 'BRA', sequence: ids[7]!.slice(9, 21), entity_type: 'L',
        trust_level: 0, checksum: ids[7]!.slice(-2), metadata: { src: 'batch' }, state: 'ACTIVE', principal: 'anonymous',
      });
    });

    it.each([0, 1001])('count %i → INVALID_ARGUMENT naming MAX_BATCH_SIZE', async (count) => {
      const e = await codeOf(s.client.mintBatch({ ...personRequest(), count }));
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toBe(`count: must be between 1 and MAX_BATCH_SIZE (1000), got ${count}`);
    });

    it('validates the shared fields too', async () => {
      const e = await codeOf(s.client.mintBatch({ count: 5 }));
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toMatch(/^entity_type: /);
    });

    it('idempotency: a retried batch returns the same IDs in the same order', async () => {
      const key = unique();
      const a = await s.client.mintBatch({ ...personRequest({ idempotencyKey: key }), count: 50 });
      const b = await s.client.mintBatch({ ...personRequest({ idempotencyKey: key }), count: 50 });
      expect(b.ids).toEqual(a.ids);
      expect((await codeOf(s.client.mintBatch({ ...personRequest({ idempotencyKey: key }), count: 51 }))).code).toBe(status.ALREADY_EXISTS);
    });
  });

  describe.skipIf(skip)('Validate', () => {
    it('reports registered IDs and their state when asked', async () => {
      const { id } = await s.client.mint(personRequest());
      expect(await s.client.validate({ id: id!.value, checkRegistry: true }))
        .toMatchObject({ valid: true, reason: 'OK', registered: true, state: IdState.ID_STATE_ACTIVE });
      expect(await s.client.validate({ id: id!.value })).toMatchObject({ valid: true, registered: false, state: IdState.ID_STATE_UNSPECIFIED });
    });

    it('accepts v03 and v04 test vectors; an unregistered valid ID is registered=false', async () => {
      expect(await s.client.validate({ id: '03-1-USA-4448-P-2609-0-88', checkRegistry: true })).toMatchObject({ valid: true, registered: false });
      expect(await s.client.validate({ id: '04-1-USA-493027518264-P-2612-0-90' })).toMatchObject({ valid: true, id: { sequence: '493027518264' } });
    });

    it.each([
      ['nonsense', 'MALFORMED'],
      ['07-1-USA-493027518264-P-2612-0-90', 'UNSUPPORTED_VERSION'],
      ['04-1-USA-493027518264-P-2612-0-91', 'BAD_CHECKSUM'],
    ])('%s → valid=false, %s', async (id, reason) => {
      expect(await s.client.validate({ id })).toMatchObject({ valid: false, reason });
    });

    it('an empty id is INVALID_ARGUMENT', async () => {
      const e = await codeOf(s.client.validate({ id: '' }));
      expect(e).toEqual({ code: status.INVALID_ARGUMENT, details: 'id: is required' });
    });
  });

  describe.skipIf(skip)('Resolve and Revoke', () => {
    it('Resolve of an unknown well-formed ID is NOT_FOUND; a malformed one INVALID_ARGUMENT', async () => {
      expect((await codeOf(s.client.resolve({ id: '04-1-USA-493027518264-P-2612-0-90' }))).code).toBe(status.NOT_FOUND);
      const e = await codeOf(s.client.resolve({ id: 'bogus' }));
      expect(e).toEqual({ code: status.INVALID_ARGUMENT, details: 'id: is not a valid ChittyID (MALFORMED)' });
      expect((await codeOf(s.client.resolve({ id: '' }))).details).toBe('id: is required');
    });

    it('Revoke marks REVOKED, keeps an audit row; twice is FAILED_PRECONDITION', async () => {
      const { id } = await s.client.mint(personRequest());
      const { record } = await s.client.revoke({ id: id!.value, reason: 'duplicate person' });
      expect(record).toMatchObject({ state: IdState.ID_STATE_REVOKED, revokedReason: 'duplicate person', revokedBy: 'anonymous' });
      expect(record!.revokedAt).toBeInstanceOf(Date);
      expect((await s.client.resolve({ id: id!.value })).record!.state).toBe(IdState.ID_STATE_REVOKED);
      expect((await s.client.validate({ id: id!.value, checkRegistry: true })).state).toBe(IdState.ID_STATE_REVOKED);
      const again = await codeOf(s.client.revoke({ id: id!.value, reason: 'again' }));
      expect(again.code).toBe(status.FAILED_PRECONDITION);
      const audit = await db.handle.db.selectFrom('id_audit_log').selectAll().where('chitty_id', '=', id!.value).execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ action: 'REVOKE', previous_state: 'ACTIVE', new_state: 'REVOKED', reason: 'duplicate person', principal: 'anonymous' });
    });

    it('Revoke validates its input and answers NOT_FOUND for unknown IDs', async () => {
      const { id } = await s.client.mint(personRequest());
      expect(await codeOf(s.client.revoke({ id: id!.value, reason: '  ' }))).toEqual({ code: status.INVALID_ARGUMENT, details: 'reason: is required (it is kept in the audit trail)' });
      expect((await codeOf(s.client.revoke({ id: id!.value, reason: 'r'.repeat(513) }))).details).toMatch(/^reason: must be at most 512/);
      expect((await codeOf(s.client.revoke({ id: '04-1-USA-493027518264-P-2612-0-90', reason: 'x' }))).code).toBe(status.NOT_FOUND);
      expect((await s.client.resolve({ id: id!.value })).record!.state).toBe(IdState.ID_STATE_ACTIVE);
    });
  });
});
