import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A service process started from the built dist/, as production runs it. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly address: string;
  readonly logs: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/** Starts `node dist/src/main.js` with `env` on free ports; resolves once it logs "chittyid ready". */
export function spawnService(env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--max-semi-space-size=4', '--import', './dist/src/telemetry/instrumentation.js', 'dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', GRPC_PORT: '0', PORT: '0', LOG_LEVEL: 'info', UV_THREADPOOL_SIZE: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`service did not become ready:\n${logs.join('\n')}`)); }, timeoutMs);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`service exited (${code}) before ready:\n${logs.join('\n')}`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      if (!line.includes('"chittyid ready"')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { grpcPort: number; httpPort: number };
      resolve({ child, grpcPort: ready.grpcPort, httpPort: ready.httpPort, address: `127.0.0.1:${ready.grpcPort}`, logs, exited });
    });
  });
}
