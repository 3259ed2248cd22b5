import { Server, status, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ChittyIdServiceService, type ChittyIdServiceServer } from './gen/chittyid/v1/chittyid.js';
import { ConfigError, type Config } from './config.js';
import { loadApiKeys } from './auth/api-keys.js';
import { createAuthenticator } from './auth/authenticator.js';
import { createRateLimiter } from './auth/rate-limiter.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createChittyIdRepository } from './db/chitty-id.repository.js';
import { createSequenceRepository } from './db/sequence.repository.js';
import { createServerCredentials } from './grpc/server-credentials.js';
import { addReflection } from './grpc/reflection.js';
import { encodeMintBatchResponse } from './grpc/mint-batch-response.codec.js';
import { limitMetadataSize } from './grpc/metadata-limit.js';
import { createHealthMonitor } from './health/health-monitor.js';
import { startHealthServer, type HttpListener } from './http/health-server.js';
import { startMetricsServer } from './http/metrics-server.js';
import { systemClock, type Clock } from './minting/clock.js';
import { SEQUENCE_SPACE } from './minting/id-format.js';
import { createMintService } from './minting/mint.service.js';
import { createSequenceAllocator } from './minting/sequence-allocator.js';
import { deriveSequenceKeys } from './minting/sequence-key.js';
import { resolveSequenceSecret } from './minting/sequence-secret.js';
import { createMintPool } from './pool/mint-pool.js';
import { mintBatchRpc } from './rpc/mint-batch.rpc.js';
import { mintRpc } from './rpc/mint.rpc.js';
import { resolveRpc } from './rpc/resolve.rpc.js';
import { revokeRpc } from './rpc/revoke.rpc.js';
import { unary, type RpcPolicy } from './rpc/unary.js';
import { validateRpc } from './rpc/validate.rpc.js';
import { createLogger, rpcLogFields } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';

/** How long closing may take after a drain that hit CHITTYID_SHUTDOWN_TIMEOUT_MS (20 s + 2 s + 5 s telemetry < 30 s). */
const CLOSE_GRACE_MS = 2000;

/** A running ChittyID server: gRPC, the HTTP health shim and (optionally) /metrics. */
export interface ChittyIdServer {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly metricsPort: number | undefined;
  readonly database: DatabaseHandle;
  readonly metrics: Metrics;
  /** Graceful shutdown (see README "Signals"); resolves when everything is closed. */
  shutdown(): Promise<void>;
}

/** What tests (or embedders) may supply instead of what the config describes. */
export interface ServerOverrides {
  readonly database?: DatabaseHandle;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly credentials?: ServerCredentials;
}

/** Builds and starts the whole service from a Config. */
export async function createServer(config: Config, overrides: ServerOverrides = {}): Promise<ChittyIdServer> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const metrics = createMetrics({ nodeId: config.nodeId, maxBatchSize: config.maxBatchSize });
  metrics.targetTps.set(config.targetTps);

  // 1. Keys and auth are checked before anything is opened, so a bad file fails fast.
  const keys = deriveSequenceKeys(resolveSequenceSecret(config));
  let apiKeys;
  try {
    apiKeys = config.apiKeysFile === undefined ? undefined : loadApiKeys(config.apiKeysFile);
  } catch (err) {
    throw new ConfigError(`CHITTYID_API_KEYS_FILE: ${(err as Error).message}`);
  }
  if (apiKeys === undefined) logger.warn('authentication is off: CHITTYID_API_KEYS_FILE is not set');
  const authenticator = createAuthenticator(apiKeys);
  const rateLimiter = createRateLimiter({ ratePerSecond: config.rateLimitPerSecond, burst: Math.max(1, config.rateLimitBurst) });
  const credentials = overrides.credentials ?? createServerCredentials(config.tls);

  // 2. Database: open, migrate, and check the sequence key against the one it was minted with.
  const database = overrides.database ?? await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
  const closers: (() => Promise<void>)[] = [];
  try {
    await migrateToLatest(database.db);
    const sequences = createSequenceRepository(database.db);
    const stored = await sequences.claimKeyFingerprint(keys.fingerprint);
    if (stored !== keys.fingerprint) {
      throw new ConfigError(`CHITTYID_SEQUENCE_KEY: differs from the key this database was minted with (fingerprint ${stored}); refusing to start`);
    }
    metrics.sequenceSpaceRemaining.set(await sequences.remaining());

    // 3. Worker pool and the minting service.
    const pool = createMintPool({ size: config.poolSize, maxQueue: config.poolMaxQueue, ff1Key: keys.ff1Key });
    closers.push(() => pool.close());
    metrics.poolThreads.set(config.poolSize);
    const allocator = createSequenceAllocator({
      repository: sequences,
      nodeId: config.nodeId,
      blockSize: config.sequenceBlockSize,
      onLease: (block) => {
        metrics.sequenceBlocksLeased.inc();
        metrics.sequenceSpaceRemaining.set(SEQUENCE_SPACE - block.end);
        logger.debug({ start: block.start, end: block.end }, 'sequence block leased');
      },
    });
    const repository = createChittyIdRepository(database.db);
    const mintService = createMintService({
      repository, allocator, pool, clock: overrides.clock ?? systemClock,
      observer: {
        onGroupCommitted: ({ rows, durationMs }) => {
          metrics.dbWriteDuration.observe(durationMs / 1000);
          metrics.dbWriteRows.observe(rows);
        },
        onMinted: (entityType, count) => metrics.idsMinted.inc({ entity_type: entityType }, count),
      },
    });
    metrics.onCollect(() => {
      metrics.poolUtilization.set(pool.utilization);
      metrics.poolQueueDepth.set(pool.queueSize);
      metrics.sequenceBlockRemaining.set(allocator.available);
    });

    // 4. Health: SERVING only while the database answers and the pool runs.
    const health = createHealthMonitor({
      pingDatabase: () => database.ping(),
      poolRunning: () => pool.running,
      onChange: (s) => logger.info({ health: s }, s.serving ? 'health: SERVING' : 'health: NOT_SERVING'),
    });
    closers.push(async () => health.stop());
    await health.probe();

    // 5. gRPC.
    let accepting = true;
    let inFlight = 0;
    let idleWaiters: (() => void)[] = [];
    const logDebug = logger.isLevelEnabled('debug');
    const policy: RpcPolicy = {
      acceptingCalls: () => accepting,
      authenticate: (metadata, scope) => authenticator.authenticate(metadata, scope),
      rateLimit: (principal, cost) => rateLimiter.take(principal, cost),
      callStarted: () => { inFlight++; },
      callEnded: () => {
        if (--inFlight === 0) { const w = idleWaiters; idleWaiters = []; w.forEach((f) => f()); }
      },
      finished: (info) => {
        metrics.observeRpc(info.method, info.code, info.durationMs / 1000);
        if (info.code === status.UNAVAILABLE && accepting) health.reportDatabaseDown();
        // Log fields are built only for calls that are logged (failures, or every call at debug).
        if (info.error && (info.code === status.INTERNAL || info.code === status.UNAVAILABLE)) {
          logger.error({ ...rpcLogFields(info), err: info.error.cause ?? info.error }, 'rpc failed');
        } else if (info.code !== status.OK) {
          logger.info(rpcLogFields(info), 'rpc');
        } else if (logDebug) {
          logger.debug(rpcLogFields(info), 'rpc');
        }
      },
    };
    const handlers: ChittyIdServiceServer = {
      mint: unary(policy, mintRpc({ mintService, defaultJurisdiction: config.defaultJurisdiction })),
      mintBatch: unary(policy, mintBatchRpc({
        mintService, defaultJurisdiction: config.defaultJurisdiction, maxBatchSize: config.maxBatchSize,
        onBatch: (count) => metrics.mintBatchSize.observe(count),
      })),
      validate: unary(policy, validateRpc({ repository })),
      resolve: unary(policy, resolveRpc({ repository })),
      revoke: unary(policy, revokeRpc({ repository, nodeId: config.nodeId })),
    };
    const grpcServer = new Server({
      'grpc.max_receive_message_length': config.maxReceiveMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      'grpc.max_concurrent_streams': 1000,
      'grpc.max_metadata_size': 16 * 1024,
      // grpc-js ignores the option above, so the limit is enforced by an interceptor.
      interceptors: [limitMetadataSize(16 * 1024)],
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    // MintBatch answers go through a one-pass encoder (same bytes, measured faster: npm run bench).
    grpcServer.addService({
      ...ChittyIdServiceService,
      mintBatch: { ...ChittyIdServiceService.mintBatch, responseSerialize: encodeMintBatchResponse },
    }, handlers);
    health.implementation.addToServer(grpcServer);
    addReflection(grpcServer);

    const grpcPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(`${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.grpcPort}`, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    });
    closers.push(() => new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())));

    // 6. HTTP health shim and metrics.
    const http: HttpListener = await startHealthServer({ host: config.host, port: config.httpPort, health, nodeId: config.nodeId });
    closers.push(() => http.close());
    let metricsPort: number | undefined;
    if (config.enableMetrics) {
      const server = await startMetricsServer({ host: config.host, port: config.metricsPort, registry: metrics.registry });
      metricsPort = server.port;
      closers.push(() => server.close());
    }

    let shuttingDown: Promise<void> | undefined;
    const shutdown = (): Promise<void> => {
      shuttingDown ??= (async () => {
        const started = performance.now();
        // Readiness goes first so balancers stop sending; then new calls are refused.
        health.beginShutdown();
        accepting = false;
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
        const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
        const drained = await Promise.race([Promise.all([idle, mintService.drain()]).then(() => true), deadline.then(() => false)]);
        if (!drained) logger.warn({ inFlight, timeoutMs: config.shutdownTimeoutMs }, 'shutdown timeout: abandoning calls still in flight');
        const closing = (async () => {
          for (const close of closers.reverse()) {
            await close().catch((err) => logger.warn({ err }, 'error while closing'));
          }
          if (!overrides.database) await database.close().catch(() => {});
        })();
        // A call stuck in the database (say, behind a lock) would keep tryShutdown() and pool.end()
        // waiting forever: past the timeout, closing gets a short grace and the exit drops the call.
        await (drained ? closing : Promise.race([closing, new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]));
        logger.info({ durationMs: Math.round(performance.now() - started) }, 'shutdown complete');
      })();
      return shuttingDown;
    };

    logger.info({ grpcPort, httpPort: http.port, metricsPort, database: database.kind, nodeId: config.nodeId, poolSize: config.poolSize }, 'chittyid ready');
    return { grpcPort, httpPort: http.port, metricsPort, database, metrics, shutdown };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => {});
    if (!overrides.database) await database.close().catch(() => {});
    throw err;
  }
}
