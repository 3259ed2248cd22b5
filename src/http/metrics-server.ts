import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options for {@link startMetricsServer}. */
export interface MetricsServerOptions {
  readonly host: string;
  /** METRICS_PORT; 0 picks a free port (tests). */
  readonly port: number;
  readonly registry: Registry;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  /** Stops listening and drops idle keep-alive connections from the scraper. */
  close(): Promise<void>;
}

/**
 * Serves the registry in Prometheus text format on `GET /metrics` (and HEAD); everything else
 * is 404. Kept apart from the health shim so METRICS_PORT can stay off the public network.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = await registry.metrics();
    } catch {
      // Nothing about the failure is useful to a scraper; a 500 makes `up` drop, which is the alert.
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(new Error(`METRICS_PORT: cannot listen on ${options.host}:${options.port} (${err.code ?? err.message})`, { cause: err }));
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
