import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { batchSizeBuckets, createMetrics } from '../../src/telemetry/metrics.js';

const NAMES = [
  'chittyid_rpc_requests_total', 'chittyid_rpc_duration_seconds', 'chittyid_ids_minted_total', 'chittyid_mint_batch_size',
  'chittyid_worker_pool_utilization', 'chittyid_worker_pool_queue_depth', 'chittyid_worker_pool_threads',
  'chittyid_db_write_duration_seconds', 'chittyid_db_write_rows', 'chittyid_sequence_blocks_leased_total',
  'chittyid_sequence_block_remaining', 'chittyid_sequence_space_remaining', 'chittyid_target_tps', 'chittyid_info',
  'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds',
];

describe('createMetrics', () => {
  it('registers every documented metric, plus process metrics, on its own registry', async () => {
    const metrics = createMetrics({ nodeId: 3, version: '9.9.9' });
    const text = await metrics.registry.metrics();
    for (const name of NAMES) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('chittyid_info{node_id="3",version="9.9.9"} 1');
    // Two instances do not collide, which they would on prom-client's global registry.
    expect(() => createMetrics({ nodeId: 4 })).not.toThrow();
  });

  it('reports the package version by default', async () => {
    const text = await createMetrics({ nodeId: 1 }).registry.metrics();
    expect(text).toMatch(/chittyid_info\{node_id="1",version="\d+\.\d+\.\d+[^"]*"\} 1/);
  });

  it('records RPCs by method and status name in the counter and histogram', async () => {
    const metrics = createMetrics({ nodeId: 1 });
    metrics.observeRpc('Mint', status.OK, 0.0007);
    metrics.observeRpc('Mint', status.OK, 0.2);
    metrics.observeRpc('Mint', status.RESOURCE_EXHAUSTED, 0.0001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('chittyid_rpc_requests_total{method="Mint",code="OK"} 2');
    expect(text).toContain('chittyid_rpc_requests_total{method="Mint",code="RESOURCE_EXHAUSTED"} 1');
    expect(text).toContain('chittyid_rpc_duration_seconds_bucket{le="0.0005",method="Mint",code="OK"} 0');
    expect(text).toContain('chittyid_rpc_duration_seconds_bucket{le="0.001",method="Mint",code="OK"} 1');
    expect(text).toContain('chittyid_rpc_duration_seconds_bucket{le="5",method="Mint",code="OK"} 2');
    expect(text).toContain('chittyid_rpc_duration_seconds_count{method="Mint",code="OK"} 2');
  });

  it('runs onCollect samplers before each scrape, and stops after unsubscribing', async () => {
    const metrics = createMetrics({ nodeId: 1 });
    let depth = 0;
    const off = metrics.onCollect(() => {
      metrics.poolQueueDepth.set(++depth);
      metrics.poolUtilization.set(0.25);
    });
    metrics.onCollect(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      metrics.sequenceBlockRemaining.set(1234);
    });
    expect(await metrics.registry.metrics()).toContain('chittyid_worker_pool_queue_depth 1');
    const second = await metrics.registry.metrics();
    expect(second).toContain('chittyid_worker_pool_queue_depth 2');
    expect(second).toContain('chittyid_worker_pool_utilization 0.25');
    expect(second).toContain('chittyid_sequence_block_remaining 1234');
    off();
    expect(await metrics.registry.metrics()).toContain('chittyid_worker_pool_queue_depth 2');
  });

  it('keeps serving when a sampler throws, and counts the failure', async () => {
    const metrics = createMetrics({ nodeId: 1 });
    metrics.targetTps.set(3420);
    metrics.onCollect(() => {
      throw new Error('pool gone');
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('chittyid_target_tps 3420');
    expect(text).toContain('chittyid_metrics_collect_errors_total 1');
  });

  it('sizes batch buckets up to MAX_BATCH_SIZE', async () => {
    expect(batchSizeBuckets(1000)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    expect(batchSizeBuckets(1)).toEqual([1]);
    expect(batchSizeBuckets(40)).toEqual([1, 2, 5, 10, 20, 40]);
    const metrics = createMetrics({ nodeId: 1, maxBatchSize: 5000 });
    metrics.mintBatchSize.observe(5000);
    expect(await metrics.registry.metrics()).toContain('chittyid_mint_batch_size_bucket{le="5000"} 1');
  });
});
