import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type ChittyIdServer, type ServerOverrides } from '../../src/server.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestClient, type TestClient } from './client.js';

/** The sequence key every in-process test server uses, unless a test says otherwise. */
export const TEST_SEQUENCE_KEY = 'test-sequence-key-0123456789abcdef-0123456789';

/** The config a test server runs with: ephemeral ports, quiet logs, and the test's overrides. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    GRPC_PORT: '0', PORT: '0', LOG_LEVEL: 'silent', CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY,
    CHITTYID_DATA_DIR: '/tmp/chittyid-test-unused', UV_THREADPOOL_SIZE: '2', ...env,
  });
}

export interface RunningServer {
  readonly server: ChittyIdServer;
  readonly client: TestClient;
  readonly address: string;
  stop(): Promise<void>;
}

/** Starts a real server on port 0 over `database`, with a client from the generated stubs. */
export async function startServer(database: DatabaseHandle, env: Record<string, string | undefined> = {}, overrides: Omit<ServerOverrides, 'database'> = {}): Promise<RunningServer> {
  const server = await createServer(testConfig(env), { ...overrides, database });
  const address = `127.0.0.1:${server.grpcPort}`;
  const client = createTestClient(address);
  return {
    server, client, address,
    async stop() {
      client.close();
      await server.shutdown();
    },
  };
}
