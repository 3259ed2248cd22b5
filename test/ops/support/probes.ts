import { createServer } from 'node:net';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type Callback<T> = (err: ServiceError | null, res: T) => void;

/** A grpc.health.v1.Health client loaded from the proto that grpc-health-check ships. */
export interface HealthClient extends Client {
  check(req: { service: string }, options: { deadline: number }, cb: Callback<{ status: string }>): void;
}

export function healthClient(address: string): HealthClient {
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  // A private channel, so the probe never queues behind the load's connections.
  return new pkg.grpc.health.v1.Health(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as HealthClient;
}

/** 'SERVING', 'NOT_SERVING', or `error:<grpc code>` when the check itself failed. */
export function checkHealth(client: HealthClient, service = '', timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => resolve(err ? `error:${err.code}` : res.status));
  });
}

/** GET /ready: the HTTP status and JSON body, or `status: 0` when nothing answered. */
export async function ready(httpPort: number, timeoutMs = 2000): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  } catch {
    return { status: 0, body: undefined };
  }
}

/** A TCP port that was free a moment ago (for settings such as METRICS_PORT that refuse 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
