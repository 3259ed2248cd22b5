import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

export const SERVICE_NAME = 'chittyid.v1.ChittyIdService';

export interface HealthSnapshot {
  readonly serving: boolean;
  readonly database: boolean;
  readonly pool: boolean;
  readonly shuttingDown: boolean;
}

/**
 * Keeps the gRPC health service (Check and Watch) and the HTTP /ready answer in step with the
 * database and the worker pool: SERVING only when both are up and shutdown has not begun.
 * The database is probed on an interval, so an outage turns the service NOT_SERVING and a
 * recovery turns it back without a restart.
 */
export interface HealthMonitor {
  readonly implementation: HealthImplementation;
  snapshot(): HealthSnapshot;
  /** Probes now and updates the status. */
  probe(): Promise<HealthSnapshot>;
  /** Marks the database down at once (a call just failed to reach it). */
  reportDatabaseDown(): void;
  beginShutdown(): void;
  stop(): void;
}

export interface HealthMonitorOptions {
  readonly pingDatabase: () => Promise<void>;
  readonly poolRunning: () => boolean;
  readonly intervalMs?: number;
  readonly onChange?: (snapshot: HealthSnapshot) => void;
}

export function createHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  const implementation = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  let database = false;
  let shuttingDown = false;
  let last: ServingStatus = 'NOT_SERVING';
  let probing: Promise<HealthSnapshot> | undefined;

  const snapshot = (): HealthSnapshot => {
    const pool = options.poolRunning();
    return { serving: database && pool && !shuttingDown, database, pool, shuttingDown };
  };

  function publish(): HealthSnapshot {
    const s = snapshot();
    const next: ServingStatus = s.serving ? 'SERVING' : 'NOT_SERVING';
    if (next !== last) {
      last = next;
      implementation.setStatus('', next);
      implementation.setStatus(SERVICE_NAME, next);
      options.onChange?.(s);
    }
    return s;
  }

  async function probeOnce(): Promise<HealthSnapshot> {
    try {
      await options.pingDatabase();
      database = true;
    } catch {
      database = false;
    }
    return publish();
  }

  const timer = setInterval(() => { void monitor.probe(); }, options.intervalMs ?? 1000);
  timer.unref();

  const monitor: HealthMonitor = {
    implementation,
    snapshot,
    probe() {
      probing ??= probeOnce().finally(() => { probing = undefined; });
      return probing;
    },
    reportDatabaseDown() {
      database = false;
      publish();
    },
    beginShutdown() {
      shuttingDown = true;
      publish();
    },
    stop() { clearInterval(timer); },
  };
  return monitor;
}
