import { createServer, type Server } from 'node:http';
import type { HealthMonitor } from '../health/health-monitor.js';

/** A started HTTP listener. */
export interface HttpListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The HTTP shim: GET /health is liveness (the process answers), GET /ready is readiness
 * (database reachable, pool running, not shutting down), both JSON.
 */
export async function startHealthServer(options: { host: string; port: number; health: HealthMonitor; nodeId: number }): Promise<HttpListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' }).end('{"error":"method not allowed"}');
      return;
    }
    if (path === '/health' || path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', nodeId: options.nodeId, uptimeSeconds: Math.round(process.uptime()) }));
      return;
    }
    if (path === '/ready' || path === '/readyz') {
      const s = options.health.snapshot();
      res.writeHead(s.serving ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: s.serving ? 'ready' : 'not_ready', database: s.database ? 'up' : 'down', pool: s.pool ? 'up' : 'down', shuttingDown: s.shuttingDown }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
