import type { MintBatchResponse } from '../gen/chittyid/v1/chittyid.js';

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * Encodes MintBatchResponse (`repeated string ids = 1`) into one exactly-sized Buffer. The same
 * bytes as ts-proto's encoder (tested), ~1.2× faster for 1000 IDs (`npm run bench`), because it
 * sizes the buffer once instead of growing a writer and copying the result.
 */
export function encodeMintBatchResponse(value: MintBatchResponse): Buffer {
  const ids = value.ids;
  const lengths = new Array<number>(ids.length);
  let size = 0;
  for (let i = 0; i < ids.length; i++) {
    const n = Buffer.byteLength(ids[i]!, 'utf8');
    lengths[i] = n;
    size += 1 + varintSize(n) + n;
  }
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let i = 0; i < ids.length; i++) {
    out[offset++] = 0x0a; // field 1, wire type 2 (length-delimited)
    let n = lengths[i]!;
    while (n > 0x7f) {
      out[offset++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[offset++] = n;
    offset += out.write(ids[i]!, offset, 'utf8');
  }
  return out;
}
