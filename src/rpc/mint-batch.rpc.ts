import type { MintBatchRequest, MintBatchResponse } from '../gen/chittyid/v1/chittyid.js';
import { invalidArgument } from '../errors.js';
import type { MintService } from '../minting/mint.service.js';
import { toMintSpec } from './mint-request.js';
import type { RpcDefinition } from './unary.js';

export function mintBatchRpc(deps: {
  mintService: MintService;
  defaultJurisdiction: string;
  maxBatchSize: number;
  onBatch?: (count: number) => void;
}): RpcDefinition<MintBatchRequest, MintBatchResponse> {
  return {
    method: 'MintBatch',
    scope: 'chittyid:mint',
    cost: (request) => Math.min(Math.max(request.count, 1), deps.maxBatchSize),
    async handle(request, ctx) {
      if (!Number.isInteger(request.count) || request.count < 1 || request.count > deps.maxBatchSize) {
        throw invalidArgument('count', `must be between 1 and MAX_BATCH_SIZE (${deps.maxBatchSize}), got ${request.count}`);
      }
      const spec = toMintSpec(request, 'batch', request.count, { ...ctx, defaultJurisdiction: deps.defaultJurisdiction });
      const ids = await deps.mintService.mint(spec);
      deps.onBatch?.(request.count);
      return { ids };
    },
  };
}
