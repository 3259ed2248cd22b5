/**
 * Loaded before the service with `node --import ./dist/src/telemetry/instrumentation.js`, so the
 * gRPC and pg modules are patched before main imports them. Tracing starts only when the standard
 * OTEL_* variables ask for an exporter; otherwise this file does nothing and loads no SDK.
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { registerTelemetryShutdown } from './telemetry-shutdown.js';
import { tracingRequested } from './tracing-env.js';

async function startTracing(): Promise<void> {
  // This service exports metrics through Prometheus and logs on stdout; the SDK would otherwise
  // default both to OTLP and push them to the trace endpoint too.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';

  // The service is ESM, which require-hooks cannot see: the import-in-the-middle loader lets the
  // instrumentations patch the modules main imports. Limited to these modules so nothing else is wrapped.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: ['@grpc/grpc-js', 'pg', 'pg-pool'] },
  });

  // Loaded only here, so a process without tracing never pays for the SDK.
  const [{ NodeSDK }, { GrpcInstrumentation }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-grpc'),
    import('@opentelemetry/instrumentation-pg'),
  ]);

  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME?.trim() || 'chittyid',
    // The exporter (OTLP http/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says otherwise), sampler
    // and propagators come from the standard environment variables.
    instrumentations: [
      new GrpcInstrumentation(),
      // Parent required: pool health checks and lease bookkeeping outside an RPC are noise.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (stopping ??= sdk.shutdown());
  registerTelemetryShutdown(shutdown);
  // Covers natural exits; main calls shutdownTelemetry() itself before process.exit().
  process.once('beforeExit', () => void shutdown());
}

// Piscina workers inherit --import; they do CPU work only (their spans are made on the main
// thread around each task), so a second SDK and exporter per worker would be pure overhead.
if (isMainThread && tracingRequested(process.env)) await startTracing();
