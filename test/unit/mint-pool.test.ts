import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ChittyError } from '../../src/errors.js';
import { parseId } from '../../src/minting/id-format.js';
import { deriveSequenceKeys } from '../../src/minting/sequence-key.js';
import { createFf1 } from '../../src/minting/ff1.js';
import { createMintPool, type MintPool } from '../../src/pool/mint-pool.js';
import type { MintTask } from '../../src/pool/mint-task.js';

const keys = deriveSequenceKeys('pool-test-key-0123456789abcdefghij');
const task = (counterRanges: number[], specs: MintTask['specs']): MintTask => ({
  counterRanges, total: specs.reduce((n, s) => n + s.count, 0), yymm: '2612', specs,
});

describe('the Piscina mint pool (real worker threads)', () => {
  let pool: MintPool | undefined;
  afterEach(async () => { await pool?.close(); pool = undefined; });

  it('mints a whole group in one task: one ID per counter, in order, each spec with its own fields', async () => {
    pool = createMintPool({ size: 2, maxQueue: 16, ff1Key: keys.ff1Key });
    const ids = await pool.mint(task([100, 3, 5000, 2], [
      { count: 4, region: 1, jurisdiction: 'USA', entityType: 'P', trustLevel: 0 },
      { count: 1, region: 3, jurisdiction: 'FRA', entityType: 'A', trustLevel: 5 },
    ]));
    expect(ids).toHaveLength(5);
    const ff1 = createFf1(keys.ff1Key, 12);
    expect(ids.map((id) => id.slice(9, 21))).toEqual([100, 101, 102, 5000, 5001].map((c) => String(ff1.encrypt(c)).padStart(12, '0')));
    for (const id of ids.slice(0, 4)) expect(parseId(id)).toMatchObject({ valid: true, id: { jurisdiction: 'USA', entityType: 'P', yymm: '2612' } });
    expect(parseId(ids[4]!)).toMatchObject({ valid: true, id: { jurisdiction: 'FRA', region: 3, entityType: 'A', trustLevel: 5 } });
  });

  it('a full queue is RESOURCE_EXHAUSTED, never an unbounded backlog', async () => {
    pool = createMintPool({ size: 1, maxQueue: 2, ff1Key: keys.ff1Key });
    const big = task([0, 200_000], [{ count: 200_000, region: 1, jurisdiction: 'USA', entityType: 'T', trustLevel: 0 }]);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => pool!.mint(big)));
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(rejected.length).toBeGreaterThan(0);
    for (const err of rejected) {
      expect(err).toBeInstanceOf(ChittyError);
      expect((err as ChittyError).code).toBe(status.RESOURCE_EXHAUSTED);
    }
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  });

  it('after close it refuses work with UNAVAILABLE and reports not running', async () => {
    pool = createMintPool({ size: 1, maxQueue: 4, ff1Key: keys.ff1Key });
    expect(pool.running).toBe(true);
    await pool.close();
    expect(pool.running).toBe(false);
    await expect(pool.mint(task([0, 1], [{ count: 1, region: 1, jurisdiction: 'USA', entityType: 'P', trustLevel: 0 }])))
      .rejects.toMatchObject({ code: status.UNAVAILABLE });
    pool = undefined;
  });
});
