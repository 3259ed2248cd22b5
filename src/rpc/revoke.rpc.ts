import { status } from '@grpc/grpc-js';
import type { RevokeRequest, RevokeResponse } from '../gen/chittyid/v1/chittyid.js';
import { ChittyError, invalidArgument } from '../errors.js';
import type { ChittyIdRepository } from '../db/chitty-id.repository.js';
import { toIdRecord } from './components.js';
import { requireWellFormedId } from './id-argument.js';
import type { RpcDefinition } from './unary.js';

const MAX_REASON_LENGTH = 512;

export function revokeRpc(deps: { repository: ChittyIdRepository; nodeId: number }): RpcDefinition<RevokeRequest, RevokeResponse> {
  return {
    method: 'Revoke',
    scope: 'chittyid:admin',
    async handle(request, ctx) {
      const id = requireWellFormedId(request.id);
      const reason = request.reason.trim();
      if (reason === '') throw invalidArgument('reason', 'is required (it is kept in the audit trail)');
      if (reason.length > MAX_REASON_LENGTH || /[\u0000]/.test(reason)) {
        throw invalidArgument('reason', `must be at most ${MAX_REASON_LENGTH} characters without NUL`);
      }
      const outcome = await deps.repository.revoke(id, reason, ctx.principal, deps.nodeId);
      switch (outcome.kind) {
        case 'not_found': throw new ChittyError(status.NOT_FOUND, `id: ${id} is not registered`);
        case 'already_revoked': throw new ChittyError(status.FAILED_PRECONDITION, `id: ${id} is already revoked`);
        case 'revoked': return { record: toIdRecord(outcome.record) };
      }
    },
  };
}
