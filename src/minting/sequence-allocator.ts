import { resourceExhausted } from '../errors.js';
import type { CounterBlock, SequenceRepository } from '../db/sequence.repository.js';

/**
 * Hands out counters from blocks leased in the database. Counters come only from leases (never
 * from the clock); a counter handed out is never handed out again, even if its ID is never
 * committed (a crash burns the rest of a block, which is harmless in a 10^12 space).
 */
export interface SequenceAllocator {
  /** Takes `count` counters as flat [start, count, …] pairs. RESOURCE_EXHAUSTED when the space is spent. */
  take(count: number): Promise<number[]>;
  /** Counters left in the blocks this process holds. */
  readonly available: number;
  readonly blocksLeased: number;
}

export interface SequenceAllocatorOptions {
  readonly repository: SequenceRepository;
  readonly nodeId: number;
  readonly blockSize: number;
  readonly onLease?: (block: CounterBlock) => void;
}

export function createSequenceAllocator(options: SequenceAllocatorOptions): SequenceAllocator {
  const blocks: { next: number; end: number }[] = [];
  let available = 0;
  let blocksLeased = 0;
  let leasing: Promise<void> | undefined;
  let exhausted = false;

  function lease(needed: number): Promise<void> {
    leasing ??= (async () => {
      try {
        const block = await options.repository.leaseBlock(options.nodeId, Math.max(options.blockSize, needed));
        if (!block) { exhausted = true; return; }
        blocks.push({ next: block.start, end: block.end });
        available += block.end - block.start;
        blocksLeased++;
        options.onLease?.(block);
      } finally {
        leasing = undefined;
      }
    })();
    return leasing;
  }

  // Synchronous, so concurrent callers can never carve overlapping ranges.
  function carve(count: number): number[] {
    const ranges: number[] = [];
    let left = count;
    while (left > 0) {
      const block = blocks[0]!;
      const n = Math.min(left, block.end - block.next);
      ranges.push(block.next, n);
      block.next += n;
      left -= n;
      if (block.next === block.end) blocks.shift();
    }
    available -= count;
    return ranges;
  }

  return {
    async take(count) {
      while (available < count) {
        if (exhausted) throw resourceExhausted('the ChittyID sequence space is exhausted');
        await lease(count - available);
      }
      const ranges = carve(count);
      // Lease the next block ahead of need so callers rarely wait on the database.
      if (available < options.blockSize / 4 && !exhausted) lease(options.blockSize).catch(() => {});
      return ranges;
    },
    get available() { return available; },
    get blocksLeased() { return blocksLeased; },
  };
}
