/**
 * Piscina worker: the CPU part of minting for a whole group of requests in one task: the FF1
 * permutation of each counter, ID formatting and checksums. Returns the IDs concatenated (every
 * v04 ID has ID_LENGTH characters) because one string crosses the thread boundary far more
 * cheaply than thousands.
 */
import { workerData } from 'node:worker_threads';
import { createFf1 } from '../src/minting/ff1.js';
import { formatId, MINT_VERSION, sequenceDigits } from '../src/minting/id-writer.js';
import type { MintTask } from '../src/pool/mint-task.js';

const ff1 = createFf1(Buffer.from((workerData as { ff1KeyHex: string }).ff1KeyHex, 'hex'), 12);

export default function mint(task: MintTask): string {
  const sequences = new Float64Array(task.total);
  let n = 0;
  for (let r = 0; r < task.counterRanges.length; r += 2) {
    const start = task.counterRanges[r]!;
    const count = task.counterRanges[r + 1]!;
    for (let i = 0; i < count; i++) sequences[n++] = start + i;
  }
  ff1.encryptInPlace(sequences);
  const parts: string[] = new Array(task.total);
  n = 0;
  for (const spec of task.specs) {
    for (let i = 0; i < spec.count; i++, n++) {
      parts[n] = formatId({
        version: MINT_VERSION,
        region: spec.region,
        jurisdiction: spec.jurisdiction,
        sequence: sequenceDigits(sequences[n]!),
        entityType: spec.entityType,
        yymm: task.yymm,
        trustLevel: spec.trustLevel,
      });
    }
  }
  return parts.join('');
}
