import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How a service process ended, and when (performance.now() of the 'exit' event). */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/** A service process started from the built dist/, with stdout and stderr kept apart. */
export interface OpsService {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly address: string;
  /** The parsed "chittyid ready" line. */
  readonly ready: Record<string, unknown>;
  /** Every stdout line so far (the service's JSON log). */
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exited: Promise<ProcessExit>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** SIGKILLs the process if it is still running (cleanup in finally blocks). */
  kill(): Promise<void>;
}

export interface OpsServiceOptions {
  /** Command words put before `node …` (e.g. an `unshare` wrapper); the last one must exec node. */
  readonly wrapper?: readonly string[];
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/**
 * Starts `node --import …/instrumentation.js dist/src/main.js` as production does, on free ports,
 * and resolves once it logs "chittyid ready". Unlike test/support/process.ts, stdout (the JSON
 * log) and stderr are captured separately, so tests can hold every stdout line to the log format.
 */
export function startService(env: Record<string, string>, options: OpsServiceOptions = {}): Promise<OpsService> {
  const cwd = options.cwd ?? process.cwd();
  const node = [process.execPath, '--max-semi-space-size=4', '--import', './dist/src/telemetry/instrumentation.js', 'dist/src/main.js'];
  const [command, ...args] = [...(options.wrapper ?? []), ...node];
  const child = spawn(command!, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', GRPC_PORT: '0', PORT: '0', LOG_LEVEL: 'info', UV_THREADPOOL_SIZE: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let done = false;
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => {
    done = true;
    resolve({ code, signal, at: performance.now() });
  }));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const out = createInterface({ input: child.stdout! });
  const kill = async (): Promise<void> => {
    if (!done) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const describe = () => `stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not become ready in ${options.timeoutMs ?? 30_000} ms\n${describe()}`));
    }, options.timeoutMs ?? 30_000);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${e.code ?? e.signal}) before it was ready\n${describe()}`));
    });
    out.on('line', (line) => {
      stdout.push(line);
      if (!line.includes('"chittyid ready"')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as Record<string, unknown> & { grpcPort: number; httpPort: number };
      resolve({
        child, grpcPort: ready.grpcPort, httpPort: ready.httpPort, address: `127.0.0.1:${ready.grpcPort}`,
        ready, stdout, stderr, exited, hasExited: () => done, kill,
      });
    });
  });
}

/** Resolves with the exit, or with undefined if the process is still running after `ms`. */
export function exitWithin(service: OpsService, ms: number): Promise<ProcessExit | undefined> {
  return Promise.race([service.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}
