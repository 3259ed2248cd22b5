import { status } from '@grpc/grpc-js';
import { ChittyError } from '../errors.js';

/** Options for {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second per principal; 0 turns limiting off. */
  readonly ratePerSecond: number;
  /** Bucket size: the most a principal can spend at once after being idle. */
  readonly burst: number;
  /** Monotonic clock in milliseconds; injectable for tests. */
  readonly now?: () => number;
  /** When more principals than this are tracked, idle ones are forgotten (default 10,000). */
  readonly maxTrackedPrincipals?: number;
}

/** A per-principal token bucket. */
export interface RateLimiter {
  /**
   * Spends `cost` tokens of `principal`'s bucket, or throws RESOURCE_EXHAUSTED with trailer
   * `retry-after-ms` (integer ms until the tokens will be there). Costs above the burst are
   * charged as the burst, so a large MintBatch is slow to repeat but never impossible.
   */
  take(principal: string, cost?: number): void;
  /** Number of principals currently holding state (bounded by maxTrackedPrincipals). */
  readonly trackedPrincipals: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Creates a token-bucket rate limiter keyed by principal. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSecond, burst, now = () => performance.now(), maxTrackedPrincipals = 10_000 } = options;
  if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0) throw new RangeError(`ratePerSecond must be ≥ 0, got ${ratePerSecond}`);
  if (ratePerSecond === 0) return Object.freeze({ take: () => undefined, trackedPrincipals: 0 });
  if (!Number.isFinite(burst) || burst < 1) throw new RangeError(`burst must be ≥ 1 when limiting is on, got ${burst}`);
  if (!Number.isInteger(maxTrackedPrincipals) || maxTrackedPrincipals < 1) {
    throw new RangeError(`maxTrackedPrincipals must be a positive integer, got ${maxTrackedPrincipals}`);
  }

  const buckets = new Map<string, Bucket>();
  const perMs = ratePerSecond / 1000;

  /** Brings a bucket up to date; a clock that steps back adds nothing rather than going negative. */
  function refill(bucket: Bucket, at: number): void {
    const elapsed = Math.max(0, at - bucket.updatedAt);
    bucket.tokens = Math.min(burst, bucket.tokens + elapsed * perMs);
    bucket.updatedAt = at;
  }

  /**
   * Keeps memory bounded. A full bucket is indistinguishable from a new one, so dropping it
   * changes nothing; only if every tracked principal is active do we drop the oldest entries
   * (which errs towards letting them through) — with keys from a file this should never happen.
   */
  function evict(at: number): void {
    for (const [principal, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens >= burst) buckets.delete(principal);
    }
    // Shrink below the limit so the O(n) sweep is not repeated on every new principal.
    const target = Math.floor(maxTrackedPrincipals * 0.9);
    for (const principal of buckets.keys()) {
      if (buckets.size <= target) break;
      buckets.delete(principal);
    }
  }

  function take(principal: string, cost = 1): void {
    if (!(cost > 0)) return;
    const charge = Math.min(cost, burst);
    const at = now();
    let bucket = buckets.get(principal);
    if (bucket === undefined) {
      if (buckets.size >= maxTrackedPrincipals) evict(at);
      bucket = { tokens: burst, updatedAt: at };
      buckets.set(principal, bucket);
    } else {
      refill(bucket, at);
    }
    if (bucket.tokens >= charge) {
      bucket.tokens -= charge;
      return;
    }
    const retryAfterMs = Math.max(1, Math.ceil((charge - bucket.tokens) / perMs));
    throw new ChittyError(status.RESOURCE_EXHAUSTED, `rate limit exceeded for principal ${principal}`, {
      trailers: { 'retry-after-ms': String(retryAfterMs) },
    });
  }

  return {
    take,
    get trackedPrincipals() {
      return buckets.size;
    },
  };
}
