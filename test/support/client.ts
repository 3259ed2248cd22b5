import { credentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import {
  ChittyIdServiceClient, EntityType,
  type MintBatchRequest, type MintBatchResponse, type MintRequest, type MintResponse,
  type ResolveRequest, type ResolveResponse, type RevokeRequest, type RevokeResponse,
  type ValidateRequest, type ValidateResponse,
} from '../../src/gen/chittyid/v1/chittyid.js';

/** A promise-based client over the generated ts-proto stubs, as internal callers use them. */
export interface TestClient {
  readonly raw: ChittyIdServiceClient;
  mint(req: Partial<MintRequest>, metadata?: Metadata, deadlineMs?: number): Promise<MintResponse>;
  mintBatch(req: Partial<MintBatchRequest>, metadata?: Metadata, deadlineMs?: number): Promise<MintBatchResponse>;
  validate(req: Partial<ValidateRequest>, metadata?: Metadata): Promise<ValidateResponse>;
  resolve(req: Partial<ResolveRequest>, metadata?: Metadata): Promise<ResolveResponse>;
  revoke(req: Partial<RevokeRequest>, metadata?: Metadata): Promise<RevokeResponse>;
  close(): void;
}

export function bearer(token: string): Metadata {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

export const personRequest = (extra: Partial<MintRequest> = {}): Partial<MintRequest> => ({
  entityType: EntityType.ENTITY_TYPE_PERSON, jurisdiction: 'USA', ...extra,
});

function promisify<Req, Res>(client: ChittyIdServiceClient, method: string, fill: (r: Partial<Req>) => Req) {
  return (req: Partial<Req>, metadata = new Metadata(), deadlineMs = 30_000): Promise<Res> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Function>)[method]!.bind(client);
      fn(fill(req), metadata, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
}

const mintDefaults = { entityType: EntityType.ENTITY_TYPE_UNSPECIFIED, jurisdiction: '', trustLevel: 0, metadata: {}, idempotencyKey: '' };

export function createTestClient(address: string, creds: ChannelCredentials = credentials.createInsecure(), options: Record<string, unknown> = {}): TestClient {
  const raw = new ChittyIdServiceClient(address, creds, options);
  return {
    raw,
    mint: promisify<MintRequest, MintResponse>(raw, 'mint', (r) => ({ ...mintDefaults, ...r })),
    mintBatch: promisify<MintBatchRequest, MintBatchResponse>(raw, 'mintBatch', (r) => ({ ...mintDefaults, count: 0, ...r })),
    validate: promisify<ValidateRequest, ValidateResponse>(raw, 'validate', (r) => ({ id: '', checkRegistry: false, ...r })),
    resolve: promisify<ResolveRequest, ResolveResponse>(raw, 'resolve', (r) => ({ id: '', ...r })),
    revoke: promisify<RevokeRequest, RevokeResponse>(raw, 'revoke', (r) => ({ id: '', reason: '', ...r })),
    close: () => raw.close(),
  };
}

/** The gRPC status code a promise rejects with (fails the test if it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
