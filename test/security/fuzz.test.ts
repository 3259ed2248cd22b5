import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EntityType, IdState, MintBatchRequest, MintBatchResponse, MintRequest, MintResponse, ResolveRequest, ResolveResponse,
  RevokeRequest, RevokeResponse, ValidateRequest, ValidateResponse, type ChittyIdServiceClient,
} from '../../src/gen/chittyid/v1/chittyid.js';
import { checksumOf } from '../../src/minting/checksum.js';
import { parseId } from '../../src/minting/id-format.js';
import { isKnownJurisdiction } from '../../src/minting/jurisdiction.js';
import { bearer, createTestClient, personRequest } from '../support/client.js';
import { createPostgresDatabase, hasPostgres, openBackend, type Backend } from '../support/databases.js';
import { spawnService } from '../support/process.js';
import { startServer, TEST_SEQUENCE_KEY, type RunningServer } from '../support/servers.js';
import { healthCheck, rawUnary, SERVING_BYTES, writeKeysFile, type KeysFile, type RawResult } from './helpers.js';

// Property-based robustness (issue 3 §9): random and malformed requests at every RPC, through the
// generated stubs (well-typed but wrong) and as raw bytes that need not be protobuf at all. For
// every call a model of the contract predicts the status; then the suite checks that the server
// is still healthy and that exactly the accepted calls' rows were written.
//
// Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx vitest run test/security/fuzz.test.ts
// (FUZZ_RUNS=<n> runs more cases per property; the default keeps the file well under 40 s).
//
// What grpc-js itself answers (not the service; checked below, and allowed only in these cases):
//   - bytes its deserializer (the generated decode) throws on: INTERNAL "Error deserializing request";
//   - a message over grpc.max_receive_message_length: RESOURCE_EXHAUSTED "Received message larger than max";
//   - an unknown method: UNIMPLEMENTED.
// An INTERNAL from the service itself ("internal error") is always a failure.

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const MAX_BATCH = 20;
const MAX_RECEIVE = 64 * 1024;
/** Request metadata limit the server enforces (grpc.max_metadata_size, 16 KiB). */
const MAX_METADATA = 16 * 1024;
const DESERIALIZE_ERROR = 'Error deserializing request';

/** The documented status codes (SPEC §2) a caller may see. */
const DOCUMENTED = new Set([
  status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED, status.ALREADY_EXISTS, status.NOT_FOUND,
  status.FAILED_PRECONDITION, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.DEADLINE_EXCEEDED, status.UNAVAILABLE,
]);

type Method = 'Mint' | 'MintBatch' | 'Validate' | 'Resolve' | 'Revoke';
const METHODS: readonly Method[] = ['Mint', 'MintBatch', 'Validate', 'Resolve', 'Revoke'];
const CODECS = {
  Mint: { req: MintRequest, res: MintResponse, stub: 'mint', scope: 'mint' },
  MintBatch: { req: MintBatchRequest, res: MintBatchResponse, stub: 'mintBatch', scope: 'mint' },
  Validate: { req: ValidateRequest, res: ValidateResponse, stub: 'validate', scope: 'read' },
  Resolve: { req: ResolveRequest, res: ResolveResponse, stub: 'resolve', scope: 'read' },
  Revoke: { req: RevokeRequest, res: RevokeResponse, stub: 'revoke', scope: 'admin' },
} as const;

/** Who calls: a principal with one scope, all scopes, or a missing / made-up token. */
type Caller = { kind: 'principal'; name: 'fuzz-all' | 'fuzz-mint' | 'fuzz-read' | 'fuzz-admin' } | { kind: 'none' } | { kind: 'garbage'; header: string };
const SCOPES_OF: Record<string, readonly string[]> = {
  'fuzz-all': ['mint', 'read', 'admin'], 'fuzz-mint': ['mint'], 'fuzz-read': ['read'], 'fuzz-admin': ['admin'],
};

// ---------------------------------------------------------------- arbitraries

const CONTROL = /[\u0000-\u001f\u007f]/;

const printable = (max: number) => fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: max }).map((a) => String.fromCharCode(...a));
const huge = (min: number, max: number) => fc.tuple(fc.integer({ min, max }), fc.constantFrom('x', 'é', '😀', '\u0000')).map(([n, c]) => c.repeat(n));
const nasty = (max: number) => fc.oneof(
  fc.string({ unit: 'binary', maxLength: max }),
  fc.string({ unit: 'grapheme', maxLength: max }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\t', '\n', '\r', '\u001f', '\u007f', '\u0085', '\u2028', '\u200b', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udc00', 'a', 'Z', '9', '-', ' '), maxLength: max }),
);

const callerArb: fc.Arbitrary<Caller> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'principal', name: 'fuzz-all' } as const) },
  { weight: 1, arbitrary: fc.constantFrom('fuzz-mint', 'fuzz-read', 'fuzz-admin').map((name) => ({ kind: 'principal', name }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' } as const) },
  { weight: 1, arbitrary: fc.oneof(printable(80), fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic abc', `Bearer ${'a'.repeat(5000)}`)).map((header) => ({ kind: 'garbage', header }) as const) },
);
/** Call envelope: who, whether the deadline has already passed, and a random x-request-id. */
const envelopeArb = fc.record({
  caller: callerArb,
  expired: fc.integer({ min: 0, max: 24 }).map((n) => n === 0),
  requestId: fc.option(printable(200), { nil: undefined }),
});

const entityTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 6, -1, 2 ** 31 - 1, -(2 ** 31)) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
);
const jurisdictionArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('', 'USA', 'usa', 'gBr', 'JPN', 'XIW', 'XDG', 'BRA') },
  // ſ and ı upper-case to ASCII S and I; XKX and ASC are in the dataset but not ISO 3166-1.
  { weight: 3, arbitrary: fc.constantFrom('ZZZ', 'XKX', 'ASC', 'US', 'USAA', ' USA', 'U\u0000A', 'uſa', 'ırl', 'ÜSA', `${'a'.repeat(15)}😀`, '😀😀', 'US\n', '\ud800SA') },
  { weight: 2, arbitrary: nasty(6) },
  { weight: 1, arbitrary: huge(100, 20_000) },
);
const trustArb = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 5 }) }, fc.constantFrom(6, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
const metaKeyArb = fc.oneof(
  fc.constantFrom('name', 'a', 'ключ', '🔑', 'x'.repeat(64), 'x'.repeat(65), '', 'k\u0000', 'k\n', 'constructor', 'toString', 'lone\ud800'),
  nasty(70),
).filter((k) => k !== '__proto__'); // ts-proto's decode assigns map entries to a plain {}, so this key is silently dropped (known, not fixed here)
const metaValueArb = fc.oneof(
  fc.constantFrom('', 'Ada', 'x'.repeat(1024), 'x'.repeat(1025), 'v\u0000', 'tab\t', 'del\u007f', '\u2028', '\ufeffbom', '\uffff', '{"json":true}', "'; DROP TABLE chitty_ids; --"),
  nasty(40),
  huge(1000, 1100),
);
const metadataArb = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(metaKeyArb, metaValueArb, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 5000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))) },
);
const idempotencyKeyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.constantFrom('k1', 'k2', 'k3', 'k4') }, // reused: replays and conflicts
  { weight: 2, arbitrary: nasty(140) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(128), 'x'.repeat(129), 'k\u0000', 'k\r\n', '🔑'.repeat(64), '🔑'.repeat(65)) },
);
/** Fields the contract accepts (still full of Unicode), so that a good share of calls mint. */
const validCommonArb = fc.record({
  entityType: fc.integer({ min: 1, max: 5 }),
  jurisdiction: fc.constantFrom('', 'USA', 'usa', 'gBr', 'JPN', 'XIW', 'XDG', 'BRA', 'deu', 'ATA'),
  trustLevel: fc.integer({ min: 0, max: 5 }),
  metadata: fc.dictionary(
    fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 32 })).filter((k) => k.length <= 64 && !CONTROL.test(k) && k !== '__proto__'),
    fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', 'x'.repeat(1024), '\u2028', '\ufeff', '"quoted"\\')).filter((v) => v.length <= 1024 && !CONTROL.test(v)),
    { maxKeys: 6 },
  ),
  idempotencyKey: fc.oneof(fc.constant(''), fc.constantFrom('k1', 'k2', 'k3', 'k4'), fc.string({ unit: 'binary', maxLength: 40 }).filter((k) => !CONTROL.test(k))),
});
const commonArb = fc.oneof(
  validCommonArb,
  fc.record({ entityType: entityTypeArb, jurisdiction: jurisdictionArb, trustLevel: trustArb, metadata: metadataArb, idempotencyKey: idempotencyKeyArb }),
);
const countArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: MAX_BATCH }) }, fc.constantFrom(0, MAX_BATCH + 1, 2 ** 31, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 }));

/** An ID string: shaped like one (checksum right or not), a minted one (picked when the call runs), or anything. */
type IdChoice = { kind: 'text'; value: string } | { kind: 'minted'; index: number };
const shapedId = fc.record({
  version: fc.constantFrom('03', '04', '04', '04', '05', '00'),
  region: fc.integer({ min: 0, max: 9 }),
  jurisdiction: fc.constantFrom('USA', 'GBR', 'JPN', 'XIW', 'XDG', 'ZZZ'),
  sequenceLength: fc.constantFrom(4, 12, 12, 11),
  sequence: fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }),
  entity: fc.constantFrom('P', 'L', 'T', 'E', 'A', 'X'),
  yymm: fc.constantFrom('2612', '2601', '2613', '2600', '9912'),
  trust: fc.integer({ min: 0, max: 9 }),
  checksum: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 99 })),
}).map((p) => {
  const body = `${p.version}${p.region}${p.jurisdiction}${String(p.sequence).padStart(12, '0').slice(-p.sequenceLength)}${p.entity}${p.yymm}${p.trust}`;
  const xx = p.checksum === undefined ? checksumOf(body) : String(p.checksum).padStart(2, '0');
  return `${p.version}-${p.region}-${p.jurisdiction}-${body.slice(6, 6 + p.sequenceLength)}-${p.entity}-${p.yymm}-${p.trust}-${xx}`;
});
const idArb: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.nat().map((index) => ({ kind: 'minted', index }) as const) },
  { weight: 3, arbitrary: shapedId.map((value) => ({ kind: 'text', value }) as const) },
  { weight: 2, arbitrary: fc.oneof(nasty(80), fc.constantFrom('', '03-1-USA-4448-P-2609-0-88', '04-1-USA-493027518264-P-2612-0-90', ' 04-1-USA-493027518264-P-2612-0-90')).map((value) => ({ kind: 'text', value }) as const) },
  { weight: 1, arbitrary: huge(65, 70_000).map((value) => ({ kind: 'text', value }) as const) },
);
const reasonArb = fc.oneof(
  fc.constantFrom('fraud', '', '   ', '\t\n', 'x'.repeat(512), 'x'.repeat(513), ` ${'x'.repeat(512)} `, 'nul\u0000', '\u00a0'),
  nasty(600),
);

/** Raw request bytes: random, a valid encoding damaged, or hand-made wire data no stub would send. */
function varintField(field: number, value: bigint): Uint8Array {
  return new BinaryWriter().uint32((field << 3) | 0).int64(value).finish();
}
const rawArb = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([bytes, at, value, truncate]) => {
      const b = Buffer.from(MintRequest.encode({ entityType: EntityType.ENTITY_TYPE_EVENT, jurisdiction: 'GBR', trustLevel: 1, metadata: { a: 'b' }, idempotencyKey: 'raw' }).finish());
      const i = at % b.length;
      b[i] = value;
      return truncate ? Buffer.concat([b.subarray(0, i), bytes]) : b;
    }),
  fc.constantFrom(
    varintField(6, -1n), varintField(6, 2n ** 32n), varintField(3, -1n), varintField(1, -1n), varintField(1, 2n ** 40n),
    Buffer.from([0x08, 0x01, 0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // overlong varint
    Buffer.from([0x12, 0x03, 0xff, 0xfe, 0xfd]), // invalid UTF-8 in field 2
    Buffer.from([0x0a, 0x03, 0xc3, 0x28, 0x41]), // invalid UTF-8 in field 1
    Buffer.from([0x22, 0x7f, 0x0a]), // length past the end
    Buffer.from([0x0b, 0x0c]), // group start/end
    Buffer.from([0x0f]), // wire type 7
    Buffer.from([0x08, 0x01, 0x08, 0x02, 0x08, 0x63]), // repeated scalar: last wins
    Buffer.from([0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00]), // unknown huge field number
  ).map((b) => Buffer.from(b)),
);

// ---------------------------------------------------------------- the model of the contract

/** What the server stored for an ID the model saw accepted. */
interface Minted { principal: string; metadata: Record<string, string>; revoked: boolean }

class Model {
  readonly ids = new Map<string, Minted>();
  readonly mintedList: string[] = [];
  /** principal \0 key → canonical request, for accepted keyed mints. */
  readonly keys = new Map<string, { canonical: string; ids: string[] }>();
  revokes = 0;

  pickId(choice: IdChoice): string {
    if (choice.kind === 'text') return choice.value;
    return this.mintedList.length === 0 ? '04-1-USA-493027518264-P-2612-0-90' : this.mintedList[choice.index % this.mintedList.length]!;
  }
}

const canonicalMetadata = (m: Record<string, string>): string => JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));

/** Validation of Mint/MintBatch fields as the contract states it (SPEC §1–§2, README limits). */
function mintFieldsValid(r: MintRequest): boolean {
  const j = r.jurisdiction;
  const jurisdictionOk = j === '' || (/^[A-Za-z]{3}$/.test(j) && isKnownJurisdiction(j.toUpperCase()));
  const keys = Object.keys(r.metadata);
  const metadataOk = keys.length <= 32 && keys.every((k) => k.length >= 1 && k.length <= 64 && !CONTROL.test(k)
    && r.metadata[k]!.length <= 1024 && !CONTROL.test(r.metadata[k]!));
  return r.entityType >= 1 && r.entityType <= 5 && jurisdictionOk && r.trustLevel <= 5 && metadataOk
    && r.idempotencyKey.length <= 128 && !CONTROL.test(r.idempotencyKey);
}

interface Expectation {
  /** Allowed codes (usually one). */
  readonly codes: readonly status[];
  /** Applied when the call succeeded: checks the response and records what it wrote. */
  readonly onOk?: (response: Buffer) => Promise<void> | void;
}

function principalOf(caller: Caller): string | undefined {
  return caller.kind === 'principal' ? caller.name : undefined;
}

// ---------------------------------------------------------------- the suites

const backends: Backend[] = ['postgres', 'pglite'];

describe.each(backends)('fuzzing every RPC over %s', (backend) => {
  const skip = backend === 'postgres' && !hasPostgres();
  let keys: KeysFile;
  let db: Awaited<ReturnType<typeof openBackend>>;
  let s: RunningServer;
  const model = new Model();
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => { unhandled.push(err); };
  let before: Counts;
  let rawClient: Client;
  const seen = new Map<number, number>();

  interface Counts { ids: number; keys: number; audit: number }
  async function counts(): Promise<Counts> {
    const n = async (table: 'chitty_ids' | 'idempotency_keys' | 'id_audit_log') =>
      Number((await db.handle.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return { ids: await n('chitty_ids'), keys: await n('idempotency_keys'), audit: await n('id_audit_log') };
  }

  beforeAll(async () => {
    if (skip) return;
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    keys = writeKeysFile({
      'fuzz-all': ['chittyid:mint', 'chittyid:read', 'chittyid:admin'],
      'fuzz-mint': ['chittyid:mint'], 'fuzz-read': ['chittyid:read'], 'fuzz-admin': ['chittyid:admin'],
    });
    db = await openBackend(backend);
    s = await startServer(db.handle, {
      CHITTYID_API_KEYS_FILE: keys.path, MAX_BATCH_SIZE: String(MAX_BATCH), GRPC_MAX_RECEIVE_MESSAGE_BYTES: String(MAX_RECEIVE),
    });
    before = await counts();
    rawClient = new Client(s.address, credentials.createInsecure());
  });
  afterAll(async () => {
    if (skip) return;
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    rawClient?.close();
    await s?.stop();
    await db?.close();
  });

  function metadataFor(env: { caller: Caller; requestId: string | undefined }): Metadata {
    const m = env.caller.kind === 'principal' ? bearer(keys.tokens[env.caller.name]!) : new Metadata();
    if (env.caller.kind === 'garbage') m.set('authorization', env.caller.header);
    if (env.requestId !== undefined) m.set('x-request-id', env.requestId);
    return m;
  }

  /** The status the contract requires before the request body is looked at (size, deadline, auth, scope). */
  function gate(method: Method, size: number, env: { caller: Caller; expired: boolean }): status | undefined {
    // The client gives up on an expired deadline at once; grpc-js checks the size before the handler runs.
    if (env.expired) return status.DEADLINE_EXCEEDED;
    if (size > MAX_RECEIVE) return status.RESOURCE_EXHAUSTED;
    if (env.caller.kind === 'none' || env.caller.kind === 'garbage') return status.UNAUTHENTICATED;
    if (!SCOPES_OF[env.caller.name]!.includes(CODECS[method].scope)) return status.PERMISSION_DENIED;
    return undefined;
  }

  /** Predicts the outcome of `method` with the request as the server decodes it. */
  function predict(method: Method, req: unknown, size: number, env: { caller: Caller; expired: boolean }): Expectation {
    const gated = gate(method, size, env);
    if (gated !== undefined) return { codes: [gated] };
    const principal = principalOf(env.caller)!;
    switch (method) {
      case 'Mint':
      case 'MintBatch': {
        const r = req as MintRequest & { count?: number };
        const count = method === 'Mint' ? 1 : r.count!;
        if (method === 'MintBatch' && (count < 1 || count > MAX_BATCH)) return { codes: [status.INVALID_ARGUMENT] };
        if (!mintFieldsValid(r)) return { codes: [status.INVALID_ARGUMENT] };
        const jurisdiction = (r.jurisdiction || 'USA').toUpperCase();
        const canonical = JSON.stringify([method, r.entityType, jurisdiction, r.trustLevel, count, canonicalMetadata(r.metadata)]);
        const keyed = r.idempotencyKey === '' ? undefined : `${principal}\u0000${r.idempotencyKey}`;
        const previous = keyed === undefined ? undefined : model.keys.get(keyed);
        if (previous && previous.canonical !== canonical) return { codes: [status.ALREADY_EXISTS] };
        return {
          codes: [status.OK],
          onOk: async (bytes) => {
            const ids = method === 'Mint' ? [MintResponse.decode(bytes).id!.value] : MintBatchResponse.decode(bytes).ids;
            expect(ids).toHaveLength(count);
            expect(new Set(ids).size).toBe(count);
            if (previous) {
              expect(ids).toEqual(previous.ids);
              return;
            }
            for (const id of ids) {
              const parsed = parseId(id);
              expect(parsed.valid, id).toBe(true);
              expect(parsed.id).toMatchObject({ version: '04', jurisdiction, trustLevel: r.trustLevel, entityType: 'XPLTEA'[r.entityType] });
              expect(model.ids.has(id), `${id} minted twice`).toBe(false);
              model.ids.set(id, { principal, metadata: { ...r.metadata }, revoked: false });
              model.mintedList.push(id);
            }
            if (keyed !== undefined) model.keys.set(keyed, { canonical, ids });
            // What was stored is what was asked for.
            const { record } = await s.client.resolve({ id: ids[0]! }, bearer(keys.tokens['fuzz-all']!));
            expect(record).toMatchObject({ principal, metadata: r.metadata, state: IdState.ID_STATE_ACTIVE });
          },
        };
      }
      case 'Validate': {
        const r = req as ValidateRequest;
        if (r.id === '') return { codes: [status.INVALID_ARGUMENT] };
        return {
          codes: [status.OK],
          onOk: (bytes) => {
            const res = ValidateResponse.decode(bytes);
            const parsed = parseId(r.id);
            expect(res.valid).toBe(parsed.valid);
            expect(res.reason).toBe(parsed.reason);
            const stored = model.ids.get(r.id);
            expect(res.registered).toBe(r.checkRegistry && parsed.valid && stored !== undefined);
            if (res.registered) expect(res.state).toBe(stored!.revoked ? IdState.ID_STATE_REVOKED : IdState.ID_STATE_ACTIVE);
          },
        };
      }
      case 'Resolve':
      case 'Revoke': {
        const r = req as RevokeRequest;
        if (r.id === '' || !parseId(r.id).valid) return { codes: [status.INVALID_ARGUMENT] };
        if (method === 'Revoke') {
          const reason = r.reason.trim();
          if (reason === '' || reason.length > 512 || reason.includes('\u0000')) return { codes: [status.INVALID_ARGUMENT] };
        }
        const stored = model.ids.get(r.id);
        if (!stored) return { codes: [status.NOT_FOUND] };
        if (method === 'Revoke' && stored.revoked) return { codes: [status.FAILED_PRECONDITION] };
        return {
          codes: [status.OK],
          onOk: (bytes) => {
            const record = (method === 'Resolve' ? ResolveResponse.decode(bytes) : RevokeResponse.decode(bytes)).record!;
            expect(record.id!.value).toBe(r.id);
            expect(record.principal).toBe(stored.principal);
            expect(record.metadata).toEqual(stored.metadata);
            if (method === 'Revoke') {
              expect(record).toMatchObject({ state: IdState.ID_STATE_REVOKED, revokedBy: principal, revokedReason: r.reason.trim() });
              stored.revoked = true;
              model.revokes++;
            } else {
              expect(record.state).toBe(stored.revoked ? IdState.ID_STATE_REVOKED : IdState.ID_STATE_ACTIVE);
            }
          },
        };
      }
    }
  }

  /** Checks one finished call against the documented set and the model. */
  async function judge(method: Method, result: RawResult, expected: Expectation | 'undecodable', what: string): Promise<void> {
    seen.set(result.code, (seen.get(result.code) ?? 0) + 1);
    const where = `${method} ${what} → ${status[result.code]} ${JSON.stringify(result.details)}`;
    if (expected === 'undecodable') {
      expect({ code: result.code, details: result.details }, where).toEqual({ code: status.INTERNAL, details: DESERIALIZE_ERROR });
      return;
    }
    expect(DOCUMENTED.has(result.code), `undocumented status: ${where}`).toBe(true);
    expect(result.details, where).not.toBe('internal error');
    expect(expected.codes, where).toContain(result.code);
    if (result.code === status.OK) await expected.onOk?.(result.response!);
    else expect(result.details.length, where).toBeGreaterThan(0);
  }

  const describeCall = (req: unknown): string => {
    const text = JSON.stringify(req, (_k, v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v));
    return text.length > 600 ? `${text.slice(0, 600)}…` : text;
  };

  /** Sends a typed request through the generated stub and judges it. */
  async function viaStub(method: Method, req: object, env: { caller: Caller; expired: boolean; requestId: string | undefined }): Promise<void> {
    const codec = CODECS[method];
    const encoded = (codec.req as { encode(m: object): BinaryWriter }).encode(req).finish();
    // The model looks at what the server will see: the request after encoding and decoding.
    const decoded = (codec.req as { decode(b: Uint8Array): object }).decode(encoded);
    const expected = predict(method, decoded, encoded.length, env);
    const result = await new Promise<RawResult>((resolve) => {
      const fn = (s.client.raw as unknown as Record<string, (...a: unknown[]) => void>)[codec.stub]!.bind(s.client.raw as ChittyIdServiceClient);
      fn(req, metadataFor(env), { deadline: env.expired ? Date.now() - 1 : Date.now() + 10_000 }, (err: ServiceError | null, res: object) => {
        resolve(err
          ? { code: err.code, details: err.details, metadata: err.metadata, response: undefined }
          : { code: status.OK, details: '', metadata: undefined, response: Buffer.from((codec.res as { encode(m: object): BinaryWriter }).encode(res).finish()) });
      });
    });
    await judge(method, result, expected, describeCall({ req, env }));
  }

  /** Sends bytes as they are (identity serializers) and judges them. */
  async function viaRaw(method: Method, bytes: Buffer, env: { caller: Caller; expired: boolean; requestId: string | undefined }): Promise<void> {
    let expected: Expectation | 'undecodable';
    try {
      const decoded = CODECS[method].req.decode(bytes);
      expected = predict(method, decoded, bytes.length, env);
    } catch {
      // grpc-js runs the same generated decode; the size and deadline checks come first.
      const gated = env.expired ? status.DEADLINE_EXCEEDED : bytes.length > MAX_RECEIVE ? status.RESOURCE_EXHAUSTED : undefined;
      expected = gated === undefined ? 'undecodable' : { codes: [gated] };
    }
    const result = await rawUnary(s.address, `/chittyid.v1.ChittyIdService/${method}`, bytes, {
      metadata: metadataFor(env), deadlineMs: env.expired ? -1 : 10_000, client: rawClient,
    });
    await judge(method, result, expected, `raw ${bytes.toString('hex').slice(0, 200)} ${describeCall(env)}`);
  }

  async function check<Ts>(name: string, property: fc.IAsyncProperty<Ts>, numRuns = RUNS): Promise<void> {
    // No shrinking (the model is stateful), and a report with long runs of one character folded.
    const details = await fc.check(property, { seed: SEED, numRuns, endOnFailure: true });
    if (!details.failed) return;
    const report = (fc.defaultReportMessage(details) ?? '')
      .replace(/(\\u[0-9a-f]{4}|[^\\])\1{20,}/giu, (run: string, unit: string) => `${unit}…(×${run.length / unit.length})`);
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${name} failed — reproduce with FUZZ_SEED=${SEED}\n${report.slice(0, 4000)}\n${cause.slice(0, 2000)}`);
  }

  it.skipIf(skip)('Mint: typed requests get the status the contract predicts, and accepted ones are stored as asked', async () => {
    await check('Mint', fc.asyncProperty(commonArb, envelopeArb, (req, env) => viaStub('Mint', req, env)));
  });

  it.skipIf(skip)('Mint: the edge cases the fuzzer may not draw, through the same model', async () => {
    const env = { caller: { kind: 'principal', name: 'fuzz-all' } as const, expired: false, requestId: undefined };
    const valid: MintRequest = { entityType: EntityType.ENTITY_TYPE_THING, jurisdiction: 'USA', trustLevel: 2, metadata: { k: 'v' }, idempotencyKey: '' };
    // ſ (long s) and ı (dotless i) upper-case to ASCII S and I; a 16-character cut splits the emoji.
    for (const jurisdiction of ['uſa', 'ırl', 'ſ', `${'a'.repeat(15)}😀`, `${'a'.repeat(15)}😀x`, '😀'.repeat(9), '\ud800SA', 'U\u0000A', 'XKX', 'usa', '']) {
      await viaStub('Mint', { ...valid, jurisdiction }, env);
      await viaStub('MintBatch', { ...valid, jurisdiction, count: 2 }, env);
    }
    for (const metadata of [{ ['😀'.repeat(40)]: 'v' }, { k: '😀'.repeat(600) }, { 'lone\ud800': 'x' }, { k: 'x'.repeat(1024) }, { ['x'.repeat(64)]: '' }]) {
      await viaStub('Mint', { ...valid, metadata }, env);
    }
    // A leading U+FEFF is stripped by PGlite's result decoder: the key must still win its row.
    for (const idempotencyKey of ['🔑'.repeat(65), 'k\u007f', 'edge-key', 'edge-key', '\ufeff', '\ufeffbom', '\ufeffbom']) {
      await viaStub('Mint', { ...valid, idempotencyKey }, env);
      await viaStub('MintBatch', { ...valid, idempotencyKey, count: 3 }, env);
    }
    for (const trustLevel of [5, 6, 2 ** 32 - 1]) await viaStub('Mint', { ...valid, trustLevel }, env);
    for (const entityType of [0, 6, -1, 2 ** 31 - 1]) await viaStub('Mint', { ...valid, entityType }, env);
  });

  it.skipIf(skip)('MintBatch: counts (0, huge, negative on the wire) and every shared field', async () => {
    await check('MintBatch', fc.asyncProperty(commonArb, countArb, envelopeArb, (req, count, env) => viaStub('MintBatch', { ...req, count }, env)));
    for (const raw of [varintField(6, -1n), varintField(6, 2n ** 32n + 5n)]) {
      const body = Buffer.concat([Buffer.from(MintBatchRequest.encode({ entityType: EntityType.ENTITY_TYPE_PERSON, jurisdiction: '', metadata: {}, trustLevel: 0, idempotencyKey: '', count: 0 }).finish()), raw]);
      await viaRaw('MintBatch', body, { caller: { kind: 'principal', name: 'fuzz-all' }, expired: false, requestId: undefined });
    }
  });

  it.skipIf(skip)('Validate, Resolve and Revoke: random, shaped, minted and huge IDs', async () => {
    await check('Validate', fc.asyncProperty(idArb, fc.boolean(), envelopeArb, (id, checkRegistry, env) => viaStub('Validate', { id: model.pickId(id), checkRegistry }, env)));
    await check('Resolve', fc.asyncProperty(idArb, envelopeArb, (id, env) => viaStub('Resolve', { id: model.pickId(id) }, env)));
    await check('Revoke', fc.asyncProperty(idArb, reasonArb, envelopeArb, (id, reason, env) => viaStub('Revoke', { id: model.pickId(id), reason }, env)));
  });

  it.skipIf(skip)('Validate, Resolve and Revoke: the edge cases the fuzzer may not draw, through the same model', async () => {
    const env = { caller: { kind: 'principal', name: 'fuzz-all' } as const, expired: false, requestId: undefined };
    await viaStub('Mint', { entityType: EntityType.ENTITY_TYPE_PERSON, jurisdiction: 'FRA', trustLevel: 0, metadata: {}, idempotencyKey: '' }, env);
    const target = model.mintedList.at(-1)!;
    const variants = [target, target.toLowerCase(), ` ${target}`, `${target}\u0000`, `\ufeff${target}`, target.replace(/-/g, '\u2010'), `${target}${'0'.repeat(40)}`];
    for (const id of variants) {
      await viaStub('Validate', { id, checkRegistry: true }, env);
      await viaStub('Resolve', { id }, env);
    }
    // NUL is the one character PostgreSQL text refuses: it must be INVALID_ARGUMENT, not INTERNAL.
    for (const reason of ['nul\u0000', 'x'.repeat(513), '   ', '\ufeff', '\u00a0', `${'😀'.repeat(256)}`, ' tab\tinside ', 'again']) {
      await viaStub('Revoke', { id: target, reason }, env);
    }
    for (const id of variants.slice(1)) await viaStub('Revoke', { id, reason: 'variant' }, env);
  });

  it.skipIf(skip)('raw bytes that may not be protobuf, at every RPC', async () => {
    await check('raw', fc.asyncProperty(fc.constantFrom(...METHODS), rawArb, envelopeArb, (method, bytes, env) => viaRaw(method, Buffer.from(bytes), env)), RUNS * 4);
  });

  it.skipIf(skip)('a request over GRPC_MAX_RECEIVE_MESSAGE_BYTES is RESOURCE_EXHAUSTED and writes nothing', async () => {
    const all = bearer(keys.tokens['fuzz-all']!);
    const key = 'too-big';
    const big: MintRequest = { entityType: EntityType.ENTITY_TYPE_PERSON, jurisdiction: 'USA', trustLevel: 0, idempotencyKey: key, metadata: { blob: 'x'.repeat(MAX_RECEIVE) } };
    const e = await rawUnary(s.address, '/chittyid.v1.ChittyIdService/Mint', Buffer.from(MintRequest.encode(big).finish()), { metadata: all });
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(e.details).toMatch(/^Received message larger than max \(\d+ vs 65536\)$/);
    const raw = await rawUnary(s.address, '/chittyid.v1.ChittyIdService/MintBatch', Buffer.alloc(MAX_RECEIVE + 1, 0x08), { metadata: all });
    expect(raw.code).toBe(status.RESOURCE_EXHAUSTED);
    // Exactly at the limit is still read (and then refused for its content, not its size).
    // idempotency_key (field 5) with a 65,532-byte value: 1 + 3 + 65,532 = 65,536 bytes.
    const atLimit = Buffer.concat([Buffer.from([0x2a, 0xfc, 0xff, 0x03]), Buffer.alloc(MAX_RECEIVE - 4, 0x61)]);
    expect(atLimit.length).toBe(MAX_RECEIVE);
    expect((await rawUnary(s.address, '/chittyid.v1.ChittyIdService/Mint', atLimit, { metadata: all })).code).toBe(status.INVALID_ARGUMENT);
    expect(await db.handle.db.selectFrom('idempotency_keys').select('ids').where('idempotency_key', '=', key).execute()).toEqual([]);
  });

  it.skipIf(skip)('request metadata over the server limit is refused without harm', async () => {
    const path = '/chittyid.v1.ChittyIdService/Validate';
    const body = Buffer.from(ValidateRequest.encode({ id: '04-1-USA-493027518264-P-2612-0-90', checkRegistry: true }).finish());
    const withHeaders = (headers: Record<string, string>): Metadata => {
      const m = bearer(keys.tokens['fuzz-all']!);
      for (const [k, v] of Object.entries(headers)) m.set(k, v);
      return m;
    };
    // Within the limit: served.
    expect((await rawUnary(s.address, path, body, { metadata: withHeaders({ 'x-small': 'a'.repeat(MAX_METADATA / 2) }) })).code).toBe(status.OK);
    // Over the limit, as one value or as many: RESOURCE_EXHAUSTED, as gRPC's max_metadata_size specifies.
    for (const headers of [
      { 'x-big': 'a'.repeat(MAX_METADATA + 1) },
      Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-h${i}`, 'b'.repeat(400)])),
      { 'x-bigger': 'c'.repeat(60 * 1024) },
    ]) {
      const r = await rawUnary(s.address, path, body, { metadata: withHeaders(headers) });
      expect({ code: r.code, details: r.details }).toEqual({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/metadata/) });
    }
    // Far beyond it, Node's HTTP/2 layer refuses before gRPC sees the call: more header fields than
    // it accepts (128) is RESOURCE_EXHAUSTED; a single field beyond HPACK's limit resets the stream
    // (the client reports INTERNAL "Received RST_STREAM…" — a transport error, not a server answer).
    const many = await rawUnary(s.address, path, body, { metadata: withHeaders(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-m${i}`, 'v']))) });
    expect(many.code).toBe(status.RESOURCE_EXHAUSTED);
    const enormous = await rawUnary(s.address, path, body, { metadata: withHeaders({ 'x-enormous': 'd'.repeat(400 * 1024) }) });
    expect([status.RESOURCE_EXHAUSTED, status.INTERNAL]).toContain(enormous.code);
    if (enormous.code === status.INTERNAL) expect(enormous.details).toMatch(/RST_STREAM/);
    expect(await healthCheck(s.address)).toEqual(SERVING_BYTES);
  });

  it.skipIf(skip)('afterwards: no crash, health SERVING, a valid Mint works, and exactly the accepted calls wrote rows', async () => {
    expect(unhandled).toEqual([]);
    expect(await healthCheck(s.address)).toEqual(SERVING_BYTES);
    const after = await counts();
    expect(after.ids - before.ids).toBe(model.ids.size);
    expect(after.keys - before.keys).toBe(model.keys.size);
    expect(after.audit - before.audit).toBe(model.revokes);
    const stored = await db.handle.db.selectFrom('chitty_ids').select('id').execute();
    const storedSet = new Set(stored.map((r) => r.id));
    for (const id of model.ids.keys()) expect(storedSet.has(id), id).toBe(true);
    // The run exercised both accepted and refused calls.
    expect(model.ids.size).toBeGreaterThan(0);
    console.info(`fuzz over ${backend} (FUZZ_SEED=${SEED}): ${[...seen].map(([code, n]) => `${status[code]} ${n}`).join(', ')}; ${model.ids.size} IDs minted, ${model.revokes} revoked`);
    expect(seen.get(status.INVALID_ARGUMENT) ?? 0).toBeGreaterThan(0);
    const { id } = await s.client.mint(personRequest(), bearer(keys.tokens['fuzz-all']!));
    expect(parseId(id!.value).valid).toBe(true);
  });
});

describe.skipIf(!hasPostgres())('the production process survives the inputs that once crashed or stalled it', () => {
  it('node dist/src/main.js stays up, SERVING, and keeps minting', async () => {
    const database = await createPostgresDatabase();
    const service = await spawnService({ DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, GRPC_MAX_RECEIVE_MESSAGE_BYTES: String(MAX_RECEIVE) });
    const client = createTestClient(service.address);
    try {
      const calls: Promise<unknown>[] = [];
      // A jurisdiction whose echo in the error message is cut inside a surrogate pair.
      for (const jurisdiction of [`${'a'.repeat(15)}😀`, '😀'.repeat(20), '\ud800SA']) {
        calls.push(client.mint(personRequest({ jurisdiction }), undefined, 5000).catch((e: ServiceError) => e.code));
        calls.push(client.mintBatch({ ...personRequest({ jurisdiction }), count: 2 }, undefined, 5000).catch((e: ServiceError) => e.code));
      }
      for (const bytes of [Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x22, 0x7f]), Buffer.alloc(MAX_RECEIVE + 10, 0x41)]) {
        for (const method of METHODS) calls.push(rawUnary(service.address, `/chittyid.v1.ChittyIdService/${method}`, bytes).then((r) => r.code));
      }
      const codes = await Promise.all(calls);
      expect(codes.slice(0, 6)).toEqual(Array(6).fill(status.INVALID_ARGUMENT));
      await new Promise((resolve) => setTimeout(resolve, 200)); // let a crash, if any, happen
      expect(service.child.exitCode).toBeNull();
      expect(await healthCheck(service.address)).toEqual(SERVING_BYTES);
      expect(parseId((await client.mint(personRequest(), undefined, 5000)).id!.value).valid).toBe(true);
      expect(service.logs.filter((l) => /unhandled|URIError/i.test(l))).toEqual([]);
    } finally {
      client.close();
      service.child.kill('SIGTERM');
      await service.exited;
      await database.drop();
    }
  });
});
