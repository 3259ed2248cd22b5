import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingRequested } from '../../src/telemetry/tracing-env.js';
import { shutdownTelemetry, telemetryActive } from '../../src/telemetry/telemetry-shutdown.js';

/*
 * instrumentation.ts only does its job as a real `node --import` preload in front of an ESM app,
 * so this test transpiles it (and its two small imports) into a temp dir that sees the project's
 * node_modules, runs a child process with it, and receives the OTLP export on a local HTTP server.
 */
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'chittyid-otel-'));

function transpile(name: string): void {
  const source = readFileSync(join(root, 'src/telemetry', `${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  writeFileSync(join(dir, `${name}.js`), outputText);
}

// The app: an ESM module importing grpc-js and pg by name, as main.ts does.
const APP = `
import { Client, credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import pg from 'pg';
import { trace } from '@opentelemetry/api';
import { Worker } from 'node:worker_threads';
import { shutdownTelemetry, telemetryActive } from './telemetry-shutdown.js';

const server = new Server();
new HealthImplementation({ '': 'SERVING' }).addToServer(server);
const port = await new Promise((ok, fail) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
const client = new Client('127.0.0.1:' + port, credentials.createInsecure());
await new Promise((ok, fail) => client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, Buffer.alloc(0), (e) => (e ? fail(e) : ok())));
client.close();
server.forceShutdown();
// File-based workers (Piscina's) run the --import preload too; it must not start an SDK in them.
const workerActive = await new Promise((ok, fail) => {
  const worker = new Worker(new URL('./probe-worker.js', import.meta.url));
  worker.once('message', (m) => { ok(m); void worker.terminate(); }).once('error', fail);
});
const report = {
  workerActive,
  active: telemetryActive(),
  recording: trace.getTracer('probe').startSpan('probe').isRecording(),
  pgPatched: pg.Client.prototype.query.__wrapped === true,
  metricsExporter: process.env.OTEL_METRICS_EXPORTER ?? null,
  logsExporter: process.env.OTEL_LOGS_EXPORTER ?? null,
};
await shutdownTelemetry(5000);
console.log('REPORT ' + JSON.stringify(report));
`;

const WORKER = `
import { parentPort } from 'node:worker_threads';
parentPort.postMessage(typeof globalThis[Symbol.for('chittyid.telemetry.shutdown')] === 'function');
`;

interface Report { workerActive: boolean; active: boolean; recording: boolean; pgPatched: boolean; metricsExporter: string | null; logsExporter: string | null }
interface Received { path: string; contentType: string | undefined; body: Buffer }

let collector: Server;
let endpoint: string;
const received: Received[] = [];

beforeAll(async () => {
  for (const name of ['instrumentation', 'telemetry-shutdown', 'tracing-env']) transpile(name);
  writeFileSync(join(dir, 'app.js'), APP);
  writeFileSync(join(dir, 'probe-worker.js'), WORKER);
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');

  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((ok) => collector.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => collector.close(() => ok()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the app behind the preload with exactly `env` (plus PATH) as its OTEL settings. */
function runApp(env: Record<string, string>): Promise<Report> {
  return new Promise((ok, fail) => {
    execFile(
      process.execPath,
      ['--import', './instrumentation.js', 'app.js'],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) return fail(new Error(`app failed: ${err.message}\n${stderr}`));
        const line = stdout.split('\n').find((l) => l.startsWith('REPORT '));
        if (line === undefined) return fail(new Error(`no report:\n${stdout}\n${stderr}`));
        ok(JSON.parse(line.slice('REPORT '.length)) as Report);
      },
    );
  });
}

describe('instrumentation preload', () => {
  it('does nothing without OTEL variables: no SDK, no patching, no export', async () => {
    received.length = 0;
    const report = await runApp({});
    expect(report).toEqual({ workerActive: false, active: false, recording: false, pgPatched: false, metricsExporter: null, logsExporter: null });
    expect(received).toEqual([]);
  }, 30_000);

  it('with OTEL_EXPORTER_OTLP_ENDPOINT, traces gRPC server calls, patches pg, and exports OTLP/protobuf on shutdown', async () => {
    received.length = 0;
    const report = await runApp({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '60000' });
    expect(report).toEqual({ workerActive: false, active: true, recording: true, pgPatched: true, metricsExporter: 'none', logsExporter: 'none' });
    // The batch delay is a minute, so these spans arrived only because shutdownTelemetry flushed them.
    expect(received.map((r) => r.path)).toEqual(['/v1/traces']);
    const [traces] = received;
    expect(traces?.contentType).toBe('application/x-protobuf');
    expect(traces?.body.includes('grpc.health.v1.Health/Check')).toBe(true);
    expect(traces?.body.includes('service.name')).toBe(true);
    expect(traces?.body.includes('chittyid')).toBe(true);
  }, 30_000);

  it('lets OTEL_SERVICE_NAME override the service name', async () => {
    received.length = 0;
    await runApp({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces`, OTEL_SERVICE_NAME: 'chittyid-canary' });
    expect(received.map((r) => r.path)).toEqual(['/v1/traces']);
    expect(received[0]?.body.includes('chittyid-canary')).toBe(true);
  }, 30_000);

  it('stays off when OTEL_TRACES_EXPORTER=none even with an endpoint', async () => {
    received.length = 0;
    const report = await runApp({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'none' });
    expect(report.active).toBe(false);
    expect(received).toEqual([]);
  }, 30_000);
});

describe('tracingRequested', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, false],
    [{ OTEL_METRICS_EXPORTER: 'otlp' }, false],
  ])('%j → %s', (env, expected) => {
    expect(tracingRequested(env)).toBe(expected);
  });
});

describe('shutdownTelemetry', () => {
  const HOOK = Symbol.for('chittyid.telemetry.shutdown');
  const globals = globalThis as Record<symbol, unknown>;
  afterAll(() => void delete globals[HOOK]);

  it('is a no-op when tracing never started', async () => {
    expect(telemetryActive()).toBe(false);
    await expect(shutdownTelemetry()).resolves.toBeUndefined();
  });

  it('gives up after the timeout instead of hanging shutdown, and swallows failures', async () => {
    globals[HOOK] = () => new Promise(() => undefined);
    const started = Date.now();
    await shutdownTelemetry(50);
    expect(Date.now() - started).toBeLessThan(1000);
    globals[HOOK] = () => Promise.reject(new Error('collector down'));
    await expect(shutdownTelemetry(50)).resolves.toBeUndefined();
  });
});
