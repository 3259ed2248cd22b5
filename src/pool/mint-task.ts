import type { EntityLetter } from '../minting/entity-type.js';

/** What one worker task mints: the IDs of several requests, numbered from leased counter ranges. */
export interface MintTask {
  /** Flat pairs [start, count, start, count, …] of counters, in order, summing to `total`. */
  readonly counterRanges: number[];
  readonly total: number;
  readonly yymm: string;
  readonly specs: ReadonlyArray<{
    readonly count: number;
    readonly region: number;
    readonly jurisdiction: string;
    readonly entityType: EntityLetter;
    readonly trustLevel: number;
  }>;
}

/** Every minted (v04) ID has this many characters. */
export const ID_LENGTH = 33;
