import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { status } from '@grpc/grpc-js';
import { serviceVersion } from './version.js';

/** A callback run before every scrape, to sample values that only exist at read time. */
export type CollectCallback = () => void | Promise<void>;

/**
 * A registry that runs the `onCollect` callbacks before serialising, so gauges such as pool
 * utilisation are sampled once per scrape instead of being pushed on every change.
 */
class CollectingRegistry extends Registry {
  readonly callbacks = new Set<CollectCallback>();
  onError: (err: unknown) => void = () => undefined;

  private async runCallbacks(): Promise<void> {
    // One broken sampler must not take every other metric down with it.
    const results = await Promise.allSettled([...this.callbacks].map(async (fn) => fn()));
    for (const result of results) if (result.status === 'rejected') this.onError(result.reason);
  }

  override async metrics(): Promise<string> {
    await this.runCallbacks();
    return super.metrics();
  }

  override async getMetricsAsJSON(): ReturnType<Registry['getMetricsAsJSON']> {
    await this.runCallbacks();
    return super.getMetricsAsJSON();
  }
}

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  readonly nodeId: number;
  /** Largest MintBatch (Config.maxBatchSize); sets the top of the batch-size histogram. */
  readonly maxBatchSize?: number;
  /** Reported in chittyid_info; defaults to package.json's version. */
  readonly version?: string;
}

/** Every instrument the service reports, on its own registry (never prom-client's global one). */
export interface Metrics {
  readonly registry: Registry;
  /** chittyid_rpc_requests_total{method,code}: finished RPCs by short method name and status name. */
  readonly rpcRequests: Counter<'method' | 'code'>;
  /** chittyid_rpc_duration_seconds{method,code}: RPC latency, from receipt to response. */
  readonly rpcDuration: Histogram<'method' | 'code'>;
  /** chittyid_ids_minted_total{entity_type}: IDs committed and returned (Mint and MintBatch). */
  readonly idsMinted: Counter<'entity_type'>;
  /** chittyid_mint_batch_size: `count` of each successful MintBatch. */
  readonly mintBatchSize: Histogram;
  /** chittyid_worker_pool_utilization: 0..1 share of worker time busy (sample in onCollect). */
  readonly poolUtilization: Gauge;
  /** chittyid_worker_pool_queue_depth: tasks waiting for a worker (sample in onCollect). */
  readonly poolQueueDepth: Gauge;
  /** chittyid_worker_pool_threads: worker threads running. */
  readonly poolThreads: Gauge;
  /** chittyid_db_write_duration_seconds: one write transaction, begin to commit. */
  readonly dbWriteDuration: Histogram;
  /** chittyid_db_write_rows: rows inserted per write transaction. */
  readonly dbWriteRows: Histogram;
  /** chittyid_sequence_blocks_leased_total: counter blocks leased from the database. */
  readonly sequenceBlocksLeased: Counter;
  /** chittyid_sequence_block_remaining: counters left in the currently leased block(s). */
  readonly sequenceBlockRemaining: Gauge;
  /** chittyid_sequence_space_remaining: counters never leased, of 10^12. */
  readonly sequenceSpaceRemaining: Gauge;
  /** chittyid_target_tps: TARGET_TPS, the throughput this deployment is sized for. */
  readonly targetTps: Gauge;
  /** chittyid_info{node_id,version}: always 1; joins node identity onto other series. */
  readonly info: Gauge<'node_id' | 'version'>;
  /** Records one finished RPC in both the counter and the latency histogram. */
  observeRpc(method: string, code: status, durationSeconds: number): void;
  /** Runs `fn` before every scrape; returns a function that unregisters it. */
  onCollect(fn: CollectCallback): () => void;
}

// 0.5 ms … 5 s: a mint is sub-millisecond when warm, a stalled database write is seconds.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const ROW_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

/** Batch-size buckets from 1 up to and including `max`: 1-2-5 per decade (batch sizes are integers). */
export function batchSizeBuckets(max: number): number[] {
  const buckets: number[] = [];
  for (let decade = 1; decade < max; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const bound = decade * step;
      if (bound < max) buckets.push(bound);
    }
  }
  buckets.push(max);
  return buckets;
}

/** Creates the service's metrics, plus Node process metrics, on a fresh registry. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new CollectingRegistry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const collectErrors = new Counter({
    name: 'chittyid_metrics_collect_errors_total',
    help: 'Scrape-time samplers that threw; their gauges keep the previous value',
    registers,
  });
  registry.onError = () => collectErrors.inc();

  const rpcRequests = new Counter({ name: 'chittyid_rpc_requests_total', help: 'Finished RPCs by method and gRPC status', labelNames: ['method', 'code'] as const, registers });
  const rpcDuration = new Histogram({ name: 'chittyid_rpc_duration_seconds', help: 'RPC latency by method and gRPC status', labelNames: ['method', 'code'] as const, buckets: LATENCY_BUCKETS, registers });

  const rpcChildren = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();

  const metrics: Metrics = {
    registry,
    rpcRequests,
    rpcDuration,
    idsMinted: new Counter({ name: 'chittyid_ids_minted_total', help: 'IDs minted (committed and returned) by entity type', labelNames: ['entity_type'] as const, registers }),
    mintBatchSize: new Histogram({ name: 'chittyid_mint_batch_size', help: 'IDs requested per successful MintBatch', buckets: batchSizeBuckets(options.maxBatchSize ?? 1000), registers }),
    poolUtilization: new Gauge({ name: 'chittyid_worker_pool_utilization', help: 'Worker pool utilisation, 0..1', registers }),
    poolQueueDepth: new Gauge({ name: 'chittyid_worker_pool_queue_depth', help: 'Tasks queued for the worker pool', registers }),
    poolThreads: new Gauge({ name: 'chittyid_worker_pool_threads', help: 'Worker threads in the pool', registers }),
    dbWriteDuration: new Histogram({ name: 'chittyid_db_write_duration_seconds', help: 'Duration of one database write transaction', buckets: LATENCY_BUCKETS, registers }),
    dbWriteRows: new Histogram({ name: 'chittyid_db_write_rows', help: 'Rows written per database write transaction', buckets: ROW_BUCKETS, registers }),
    sequenceBlocksLeased: new Counter({ name: 'chittyid_sequence_blocks_leased_total', help: 'Sequence counter blocks leased from the database', registers }),
    sequenceBlockRemaining: new Gauge({ name: 'chittyid_sequence_block_remaining', help: 'Counters left in the currently leased block(s)', registers }),
    sequenceSpaceRemaining: new Gauge({ name: 'chittyid_sequence_space_remaining', help: 'Sequence counters never leased, of 10^12', registers }),
    targetTps: new Gauge({ name: 'chittyid_target_tps', help: 'Throughput this deployment is sized for (TARGET_TPS)', registers }),
    info: new Gauge({ name: 'chittyid_info', help: 'Always 1; node identity and service version', labelNames: ['node_id', 'version'] as const, registers }),
    observeRpc(method, code, durationSeconds) {
      // Children are cached per (method, code): prom-client hashes the label object on every
      // call otherwise, and this runs once per RPC.
      const key = `${method}\u0000${code}`;
      let child = rpcChildren.get(key);
      if (child === undefined) {
        const labels = { method, code: status[code] ?? String(code) };
        child = { requests: rpcRequests.labels(labels), duration: rpcDuration.labels(labels) };
        rpcChildren.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(durationSeconds);
    },
    onCollect(fn) {
      registry.callbacks.add(fn);
      return () => void registry.callbacks.delete(fn);
    },
  };
  metrics.info.set({ node_id: String(options.nodeId), version: options.version ?? serviceVersion() }, 1);
  return metrics;
}
