import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How a service process ended, and when (performance.now() of the 'exit' event). */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/** A service process started from the built dist/, as production runs it. */
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
  /** stdout and stderr lines together, in the order they arrived. */
  readonly lines: string[];
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

/** Why a service did not become ready: its exit (if it exited) and the lines it wrote. */
export class ServiceStartError extends Error {
  constructor(message: string, readonly exit: ProcessExit | undefined, readonly lines: readonly string[]) {
    super(message);
  }
}

/**
 * Starts `node --import …/instrumentation.js dist/src/main.js` as production does, on free ports,
 * and resolves once it logs "chittyid ready". stdout (the JSON log) and stderr are kept apart, so
 * tests can hold every stdout line to the log format, and together in `lines`.
 */
export function startService(env: Record<string, string>, options: OpsServiceOptions = {}): Promise<OpsService> {
  const cwd = options.cwd ?? process.cwd();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const node = [process.execPath, '--max-semi-space-size=4', '--import', './dist/src/telemetry/instrumentation.js', 'dist/src/main.js'];
  const [command, ...args] = [...(options.wrapper ?? []), ...node];
  const child = spawn(command!, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', GRPC_PORT: '0', PORT: '0', LOG_LEVEL: 'info', UV_THREADPOOL_SIZE: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines: string[] = [];
  let done = false;
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => {
    done = true;
    resolve({ code, signal, at: performance.now() });
  }));
  createInterface({ input: child.stderr! }).on('line', (line) => { stderr.push(line); lines.push(line); });
  const out = createInterface({ input: child.stdout! });
  const kill = async (): Promise<void> => {
    if (!done) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const describe = () => `stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ServiceStartError(`service did not become ready in ${timeoutMs} ms\n${describe()}`, undefined, lines));
    }, timeoutMs);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new ServiceStartError(`service exited (${e.code ?? e.signal}) before it was ready\n${describe()}`, e, lines));
    });
    out.on('line', (line) => {
      stdout.push(line);
      lines.push(line);
      if (!line.includes('"chittyid ready"')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as Record<string, unknown> & { grpcPort: number; httpPort: number };
      resolve({
        child, grpcPort: ready.grpcPort, httpPort: ready.httpPort, address: `127.0.0.1:${ready.grpcPort}`,
        ready, stdout, stderr, lines, exited, hasExited: () => done, kill,
      });
    });
  });
}

/** Resolves with the exit, or with undefined if the process is still running after `ms`. */
export function exitWithin(service: OpsService, ms: number): Promise<ProcessExit | undefined> {
  return Promise.race([service.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** The simpler view most tests need: all lines together, and the exit as a code or signal name. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly address: string;
  readonly logs: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/** startService with the simpler view; a start failure is one message with every line written. */
export function spawnService(env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  return startService(env, { timeoutMs }).then(
    (s) => ({
      child: s.child, grpcPort: s.grpcPort, httpPort: s.httpPort, address: s.address, logs: s.lines,
      exited: s.exited.then((e) => e.code ?? e.signal ?? 'unknown'),
    }),
    (err: unknown) => {
      if (!(err instanceof ServiceStartError)) throw err;
      const exit = err.exit ? err.exit.code ?? err.exit.signal ?? 'unknown' : undefined;
      throw new Error(exit === undefined
        ? `service did not become ready:\n${err.lines.join('\n')}`
        : `service exited (${exit}) before ready:\n${err.lines.join('\n')}`);
    },
  );
}
