import { status } from '@grpc/grpc-js';
import type { ResolveRequest, ResolveResponse } from '../gen/chittyid/v1/chittyid.js';
import { ChittyError } from '../errors.js';
import type { ChittyIdRepository } from '../db/chitty-id.repository.js';
import { toIdRecord } from './components.js';
import { requireWellFormedId } from './id-argument.js';
import type { RpcDefinition } from './unary.js';

export function resolveRpc(deps: { repository: ChittyIdRepository }): RpcDefinition<ResolveRequest, ResolveResponse> {
  return {
    method: 'Resolve',
    scope: 'chittyid:read',
    async handle(request) {
      const id = requireWellFormedId(request.id);
      const record = await deps.repository.findById(id);
      if (!record) throw new ChittyError(status.NOT_FOUND, `id: ${id} is not registered`);
      return { record: toIdRecord(record) };
    },
  };
}
