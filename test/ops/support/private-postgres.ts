import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A throwaway PostgreSQL 15 cluster of one test file's own, so the test can stop and start it
 * (what `pg_ctlcluster 15 main stop|start` does underneath) without touching the shared cluster
 * other test files run against. Needs root (initdb runs as the postgres user).
 */
export interface PrivatePostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres (trust auth, loopback only). */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** Starts the cluster (`pg_ctl start -w`); does nothing if it runs. */
  start(): void;
  /** `pg_ctl -m fast stop`: terminates sessions, as an orchestrated PostgreSQL stop does. */
  stop(): void;
  /** Stops the cluster if it runs and deletes its directory. */
  destroy(): void;
}

/** Why a private cluster cannot be made here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run initdb as the postgres user';
  if (!existsSync(join(BIN, 'initdb'))) return `PostgreSQL 15 binaries not found in ${BIN}`;
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres system user';
  }
  return undefined;
}

const asPostgres = (command: string): string =>
  execFileSync('su', ['postgres', '-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

/** initdb's a new cluster in a temp dir and starts it on `port` (127.0.0.1, socket in the dir). */
export function createPrivatePostgres(port: number): PrivatePostgres {
  const dir = mkdtempSync(join(tmpdir(), 'chittyid-pg-'));
  const data = join(dir, 'data');
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()));
  try {
    asPostgres(`${BIN}/initdb -D ${data} -A trust -U postgres --no-sync >/dev/null`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40`;
  let running = false;
  const pg: PrivatePostgres = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    get running() { return running; },
    start() {
      if (running) return;
      asPostgres(`${BIN}/pg_ctl -D ${data} -o "${options}" -l ${dir}/server.log -w -t 30 start >/dev/null`);
      running = true;
    },
    stop() {
      asPostgres(`${BIN}/pg_ctl -D ${data} -m fast -w -t 30 stop >/dev/null`);
      running = false;
    },
    destroy() {
      if (running) {
        try { pg.stop(); } catch { /* already gone */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    pg.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return pg;
}
