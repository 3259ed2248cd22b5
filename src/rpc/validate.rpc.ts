import { IdState, type ValidateRequest, type ValidateResponse } from '../gen/chittyid/v1/chittyid.js';
import { invalidArgument } from '../errors.js';
import type { ChittyIdRepository } from '../db/chitty-id.repository.js';
import { parseId } from '../minting/id-format.js';
import { toChittyIdMessage, toIdState } from './components.js';
import type { RpcDefinition } from './unary.js';

/**
 * Validate runs on the event loop, not the pool: parsing one ID costs less than a worker
 * round trip (~25 µs), so a task per call would only add latency.
 */
export function validateRpc(deps: { repository: ChittyIdRepository }): RpcDefinition<ValidateRequest, ValidateResponse> {
  return {
    method: 'Validate',
    scope: 'chittyid:read',
    handle(request) {
      if (request.id === '') throw invalidArgument('id', 'is required');
      const parsed = parseId(request.id);
      const response: ValidateResponse = {
        valid: parsed.valid,
        reason: parsed.reason,
        id: parsed.id ? toChittyIdMessage(request.id, parsed.id) : undefined,
        registered: false,
        state: IdState.ID_STATE_UNSPECIFIED,
      };
      if (!(request.checkRegistry && parsed.valid)) return response;
      return deps.repository.findById(request.id).then((record) => {
        if (record) {
          response.registered = true;
          response.state = toIdState(record.state);
        }
        return response;
      });
    },
  };
}
