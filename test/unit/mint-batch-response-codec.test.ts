import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MintBatchResponse } from '../../src/gen/chittyid/v1/chittyid.js';
import { encodeMintBatchResponse } from '../../src/grpc/mint-batch-response.codec.js';

describe('MintBatchResponse encoder', () => {
  it('writes exactly the bytes ts-proto writes, for any list of strings', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constant('04-1-USA-493027518264-P-2612-0-90'))), (ids) => {
      const expected = Buffer.from(MintBatchResponse.encode({ ids }).finish());
      expect(encodeMintBatchResponse({ ids }).equals(expected)).toBe(true);
    }), { numRuns: 300 });
  });

  it('handles 1000 IDs, long strings (multi-byte varints) and the empty list', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `04-1-USA-${String(i).padStart(12, '0')}-P-2612-0-00`);
    for (const list of [ids, ['x'.repeat(200), 'é'.repeat(20_000)], []]) {
      expect(encodeMintBatchResponse({ ids: list }).equals(Buffer.from(MintBatchResponse.encode({ ids: list }).finish()))).toBe(true);
      expect(MintBatchResponse.decode(encodeMintBatchResponse({ ids: list })).ids).toEqual(list);
    }
  });
});
