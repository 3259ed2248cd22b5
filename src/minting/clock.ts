/** The wall clock, injected so tests can move it (it only sets YYMM; counters never use it). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
