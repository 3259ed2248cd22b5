import { status } from '@grpc/grpc-js';
import { ChittyError, toChittyError } from '../errors.js';
import type { ChittyIdRepository, MintWrite } from '../db/chitty-id.repository.js';
import type { MintPool } from '../pool/mint-pool.js';
import type { MintTask } from '../pool/mint-task.js';
import type { Clock } from './clock.js';
import { yymmOf } from './id-writer.js';
import { withSpan } from '../telemetry/tracing.js';
import { requestHashOf, type MintSpec } from './mint-spec.js';
import type { SequenceAllocator } from './sequence-allocator.js';

/**
 * The worker's view of a group: consecutive requests that ask for the same kind of ID merge into
 * one run, so a group of identical Mints crosses the thread boundary as a single small object.
 */
function runsOf(group: readonly Pending[]): MintTask['specs'] {
  const runs: { count: number; region: number; jurisdiction: string; entityType: MintSpec['entityType']; trustLevel: number }[] = [];
  for (const { spec } of group) {
    const last = runs[runs.length - 1];
    if (last && last.region === spec.region && last.jurisdiction === spec.jurisdiction
      && last.entityType === spec.entityType && last.trustLevel === spec.trustLevel) {
      last.count += spec.count;
    } else {
      runs.push({ count: spec.count, region: spec.region, jurisdiction: spec.jurisdiction, entityType: spec.entityType, trustLevel: spec.trustLevel });
    }
  }
  return runs;
}

/** Mints IDs; every ID it returns has been committed. */
export interface MintService {
  mint(spec: MintSpec): Promise<string[]>;
  /** Resolves when every accepted request has been answered (used at shutdown). */
  drain(): Promise<void>;
  readonly pendingRequests: number;
}

export interface MintObserver {
  /** After a group's database write commits; `durationMs` is that write alone. */
  onGroupCommitted?(info: { requests: number; rows: number; durationMs: number }): void;
  onMinted?(entityType: string, count: number): void;
}

export interface MintServiceOptions {
  readonly repository: ChittyIdRepository;
  readonly allocator: SequenceAllocator;
  readonly pool: MintPool;
  readonly clock: Clock;
  /** Most rows written by one group transaction. */
  readonly maxGroupRows?: number;
  /** Groups being minted and committed at once; new requests gather while these run. */
  readonly maxGroupsInFlight?: number;
  readonly observer?: MintObserver;
}

interface Pending {
  readonly spec: MintSpec;
  readonly requestHash: string | undefined;
  resolve(ids: string[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit: requests that arrive while earlier groups are being written gather into the
 * next group, which costs one counter take, one worker task and one transaction however many
 * callers it holds. Each caller is answered only after its group's commit.
 */
export function createMintService(options: MintServiceOptions): MintService {
  const { repository, allocator, pool, clock, observer } = options;
  const maxGroupRows = options.maxGroupRows ?? 10_000;
  const maxGroupsInFlight = options.maxGroupsInFlight ?? 4;
  const queue: Pending[] = [];
  let scheduled = false;
  let inFlight = 0;
  let outstanding = 0;
  let drainWaiters: (() => void)[] = [];

  function schedule(): void {
    if (scheduled || inFlight >= maxGroupsInFlight || queue.length === 0) return;
    scheduled = true;
    // setImmediate lets every call that arrived in this event-loop turn join the group.
    setImmediate(() => {
      scheduled = false;
      let rows = 0;
      let n = 0;
      while (n < queue.length && (n === 0 || rows + queue[n]!.spec.count <= maxGroupRows)) rows += queue[n++]!.spec.count;
      const group = queue.splice(0, n);
      inFlight++;
      void withSpan('chittyid.mint.group', { 'chittyid.ids': rows, 'chittyid.requests': group.length }, () => commitGroup(group)).catch(() => {}).finally(() => {
        inFlight--;
        schedule();
      });
      schedule();
    });
  }

  async function answerFromStored(p: Pending): Promise<void> {
    const stored = await repository.findIdempotency(p.spec.principal, p.spec.idempotencyKey!);
    if (!stored) {
      // The request that held the key failed before committing: this one mints in its place.
      queue.push(p);
      schedule();
      return;
    }
    if (stored.requestHash !== p.requestHash) {
      throw new ChittyError(status.ALREADY_EXISTS, 'idempotency_key: already used with different parameters');
    }
    p.resolve([...stored.ids]);
  }

  async function commitGroup(group: Pending[]): Promise<void> {
    // A deadline that has passed means nobody is waiting: write nothing for that caller.
    const now = Date.now();
    const live: Pending[] = [];
    for (const p of group) {
      if (p.spec.deadline !== undefined && p.spec.deadline <= now) {
        p.reject(new ChittyError(status.DEADLINE_EXCEEDED, 'deadline exceeded before the IDs were written'));
      } else live.push(p);
    }
    // Two callers with the same principal and key in one group: the first writes, the rest
    // answer from its row after the commit, exactly as if they had come later.
    const leaders: Pending[] = [];
    const followers: Pending[] = [];
    const seenKeys = new Set<string>();
    for (const p of live) {
      if (p.spec.idempotencyKey !== undefined) {
        const k = `${p.spec.principal}\u0000${p.spec.idempotencyKey}`;
        if (seenKeys.has(k)) { followers.push(p); continue; }
        seenKeys.add(k);
      }
      leaders.push(p);
    }
    if (leaders.length === 0) return;
    try {
      const total = leaders.reduce((sum, p) => sum + p.spec.count, 0);
      const counterRanges = await allocator.take(total);
      const ids = await withSpan('chittyid.worker.task', { 'chittyid.ids': total, 'chittyid.requests': leaders.length }, () => pool.mint({
        counterRanges,
        total,
        yymm: yymmOf(clock.now()),
        specs: runsOf(leaders),
      }));
      let offset = 0;
      const writes: MintWrite[] = leaders.map(({ spec, requestHash }) => {
        const slice = ids.slice(offset, offset + spec.count);
        offset += spec.count;
        return {
          principal: spec.principal,
          ids: slice,
          metadataJson: JSON.stringify(spec.metadata),
          ...(spec.idempotencyKey !== undefined && requestHash !== undefined
            ? { idempotency: { key: spec.idempotencyKey, requestHash } } : {}),
        };
      });
      const writeStarted = performance.now();
      const accepted = await withSpan('chittyid.db.write', { 'chittyid.rows': total, 'chittyid.requests': leaders.length }, () => repository.commitMints(writes));
      observer?.onGroupCommitted?.({ requests: leaders.length, rows: total, durationMs: performance.now() - writeStarted });
      // Committed callers are answered in this turn; only key losers wait for a lookup.
      const lookups: Promise<void>[] = [];
      leaders.forEach((p, i) => {
        if (accepted[i]) {
          observer?.onMinted?.(p.spec.entityType, p.spec.count);
          p.resolve(writes[i]!.ids as string[]);
        } else lookups.push(answerFromStored(p).catch((err) => p.reject(err)));
      });
      await Promise.all(lookups);
    } catch (err) {
      const error = toChittyError(err);
      for (const p of leaders) p.reject(error);
    }
    await Promise.all(followers.map((p) => answerFromStored(p).catch((err) => p.reject(err))));
  }

  function settled(): void {
    if (--outstanding === 0) { const w = drainWaiters; drainWaiters = []; w.forEach((f) => f()); }
  }

  /** Queues a request for the next group; the promise settles after that group's commit. */
  function enqueue(spec: MintSpec, requestHash: string | undefined): Promise<string[]> {
    outstanding++;
    return new Promise<string[]>((resolve, reject) => {
      queue.push({
        spec, requestHash,
        resolve: (ids) => { settled(); resolve(ids); },
        reject: (err) => { settled(); reject(err); },
      });
      schedule();
    });
  }

  async function mintWithKey(spec: MintSpec, key: string): Promise<string[]> {
    const requestHash = requestHashOf(spec);
    // A retry is answered from the stored row without minting anything.
    const stored = await repository.findIdempotency(spec.principal, key);
    if (stored) {
      if (stored.requestHash !== requestHash) {
        throw new ChittyError(status.ALREADY_EXISTS, 'idempotency_key: already used with different parameters');
      }
      return [...stored.ids];
    }
    return enqueue(spec, requestHash);
  }

  return {
    mint(spec) {
      return spec.idempotencyKey === undefined ? enqueue(spec, undefined) : mintWithKey(spec, spec.idempotencyKey);
    },
    drain() {
      return outstanding === 0 ? Promise.resolve() : new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    get pendingRequests() { return outstanding; },
  };
}
