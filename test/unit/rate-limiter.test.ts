import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/auth/rate-limiter.js';
import { ChittyError } from '../../src/errors.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms), set: (ms: number) => void (t = ms) };
}

function rejection(fn: () => void): ChittyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ChittyError);
    return err as ChittyError;
  }
  throw new Error('expected the limiter to reject');
}

describe('createRateLimiter', () => {
  it('allows a burst, then rejects with RESOURCE_EXHAUSTED and an integer retry hint', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 5, now: clock.now });
    for (let i = 0; i < 5; i++) limiter.take('alice');
    const err = rejection(() => limiter.take('alice'));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.message).toBe('rate limit exceeded for principal alice');
    // 10/s → one token every 100 ms.
    expect(err.trailers).toEqual({ 'retry-after-ms': '100' });
  });

  it('refills at the configured rate and the hint shrinks as time passes', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 2, now: clock.now });
    limiter.take('a');
    limiter.take('a');
    clock.advance(40);
    expect(rejection(() => limiter.take('a')).trailers['retry-after-ms']).toBe('60');
    clock.advance(60);
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(ChittyError);
    // Long idleness refills only up to the burst, never beyond.
    clock.advance(60_000);
    limiter.take('a');
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(ChittyError);
  });

  it('keeps principals independent', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, now: clock.now });
    limiter.take('alice');
    expect(() => limiter.take('alice')).toThrow(/alice/);
    expect(() => limiter.take('bob')).not.toThrow();
  });

  it('charges costs, and caps a cost above the burst at the burst so big batches stay possible', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 100, burst: 50, now: clock.now });
    limiter.take('batcher', 1000); // a MintBatch of 1000 empties the bucket but is allowed
    const err = rejection(() => limiter.take('batcher', 1000));
    // It must wait for a full bucket (50 tokens at 100/s), not for 1000 tokens.
    expect(err.trailers['retry-after-ms']).toBe('500');
    clock.advance(500);
    limiter.take('batcher', 1000);

    limiter.take('small', 30);
    const partial = rejection(() => limiter.take('small', 30));
    expect(partial.trailers['retry-after-ms']).toBe('100'); // 10 missing tokens at 100/s
  });

  it('rounds the hint up to at least 1 ms', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 1_000_000, burst: 1, now: clock.now });
    limiter.take('fast');
    expect(rejection(() => limiter.take('fast')).trailers['retry-after-ms']).toBe('1');
  });

  it('does not mint tokens when the clock steps backwards', () => {
    const clock = manualClock(10_000);
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, now: clock.now });
    limiter.take('p');
    clock.set(0);
    expect(() => limiter.take('p')).toThrow(ChittyError);
  });

  it('is a no-op when the rate is 0', () => {
    const limiter = createRateLimiter({ ratePerSecond: 0, burst: 0 });
    for (let i = 0; i < 10_000; i++) limiter.take('anyone', 1000);
    expect(limiter.trackedPrincipals).toBe(0);
  });

  it('uses the real monotonic clock by default', () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    limiter.take('p');
    const hint = Number(rejection(() => limiter.take('p')).trailers['retry-after-ms']);
    expect(hint).toBeGreaterThan(900);
    expect(hint).toBeLessThanOrEqual(1000);
  });

  it('rejects nonsensical settings', () => {
    expect(() => createRateLimiter({ ratePerSecond: -1, burst: 1 })).toThrow(RangeError);
    expect(() => createRateLimiter({ ratePerSecond: 10, burst: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ ratePerSecond: Number.NaN, burst: 1 })).toThrow(RangeError);
  });

  it('bounds memory by forgetting idle principals, but keeps the state of active ones', () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 2, now: clock.now, maxTrackedPrincipals: 100 });
    limiter.take('busy', 2); // empty bucket: must survive eviction
    for (let i = 0; i < 99; i++) limiter.take(`idle-${i}`);
    expect(limiter.trackedPrincipals).toBe(100);
    clock.advance(1_500); // idle buckets refill to full; busy has only 1.5 tokens

    limiter.take('newcomer');
    expect(limiter.trackedPrincipals).toBe(2); // busy and newcomer
    limiter.take('busy');
    expect(() => limiter.take('busy')).toThrow(ChittyError); // 0.5 tokens left: state was kept

    for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`);
    expect(limiter.trackedPrincipals).toBeLessThanOrEqual(100);
  });
});
