/**
 * ChittyID service entry point. Start with
 *   node --import ./dist/src/telemetry/instrumentation.js dist/src/main.js
 * so tracing is set up before any instrumented module loads.
 */
import { ConfigError, loadConfig } from './config.js';
import { createServer } from './server.js';
import { shutdownTelemetry } from './telemetry/telemetry-shutdown.js';

async function main(): Promise<void> {
  // 1. Configuration, parsed once; a bad value is one line naming the variable.
  const config = loadConfig(process.env);

  // 2. Everything else: database, migrations, pool, gRPC, HTTP (see server.ts, in steps).
  const server = await createServer(config);

  // 3. Signals: the first SIGTERM/SIGINT drains gracefully; a second one exits at once.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    void server.shutdown()
      .then(() => shutdownTelemetry())
      .then(() => process.exit(0), (err) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`chittyid: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`chittyid: failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  }
  process.exit(1);
});
