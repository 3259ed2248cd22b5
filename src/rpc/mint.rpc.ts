import type { MintRequest, MintResponse } from '../gen/chittyid/v1/chittyid.js';
import { mintedComponents } from '../minting/id-writer.js';
import type { MintService } from '../minting/mint.service.js';
import { toChittyIdMessage } from './components.js';
import { toMintSpec } from './mint-request.js';
import type { RpcDefinition } from './unary.js';

export function mintRpc(deps: { mintService: MintService; defaultJurisdiction: string }): RpcDefinition<MintRequest, MintResponse> {
  return {
    method: 'Mint',
    scope: 'chittyid:mint',
    handle(request, ctx) {
      const spec = toMintSpec(request, 'mint', 1, { ...ctx, defaultJurisdiction: deps.defaultJurisdiction });
      return deps.mintService.mint(spec).then(([value]) => ({ id: toChittyIdMessage(value!, mintedComponents(value!)) }));
    },
  };
}
