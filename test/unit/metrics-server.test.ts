import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../src/http/metrics-server.js';
import { createMetrics } from '../../src/telemetry/metrics.js';

describe('startMetricsServer', () => {
  const metrics = createMetrics({ nodeId: 2 });
  let server: MetricsServer;
  let base: string;

  beforeAll(async () => {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: metrics.registry });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it('serves the registry on GET /metrics in Prometheus text format', async () => {
    metrics.idsMinted.inc({ entity_type: 'P' }, 5);
    metrics.poolThreads.set(4);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await response.text();
    expect(text).toContain('chittyid_ids_minted_total{entity_type="P"} 5');
    expect(text).toContain('chittyid_worker_pool_threads 4');
    expect(text).toContain('chittyid_info{node_id="2"');
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(`${base}/metrics?scrape=1`)).status).toBe(200);
  });

  it('samples scrape-time gauges on every request', async () => {
    let calls = 0;
    const off = metrics.onCollect(() => metrics.poolQueueDepth.set(++calls * 10));
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('chittyid_worker_pool_queue_depth 10');
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('chittyid_worker_pool_queue_depth 20');
    off();
  });

  it('answers 404 elsewhere and 405 for other methods', async () => {
    for (const path of ['/', '/health', '/metrics/extra', '/metricsx']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain('chittyid_');
    }
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('reports a taken port naming METRICS_PORT', async () => {
    await expect(startMetricsServer({ host: '127.0.0.1', port: server.port, registry: metrics.registry }))
      .rejects.toThrow(new RegExp(`^METRICS_PORT: cannot listen on 127\\.0\\.0\\.1:${server.port} \\(EADDRINUSE\\)`));
  });

  it('closes promptly even with a keep-alive connection open, and frees the port', async () => {
    const other = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: metrics.registry });
    const response = await fetch(`http://127.0.0.1:${other.port}/metrics`, { headers: { connection: 'keep-alive' } });
    await response.text();
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise<void>((resolve, reject) => {
      const probe = createServer().once('error', reject).listen(other.port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  });
});
