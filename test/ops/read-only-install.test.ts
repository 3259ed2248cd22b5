import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClient, personRequest } from '../support/client.js';
import { createPostgresDatabase, hasPostgres } from '../support/databases.js';
import { TEST_SEQUENCE_KEY } from '../support/servers.js';
import { startService, type OpsService } from '../support/process.js';

/**
 * Issue 3 point 11 and the SOP's `read_only: true`: the service writes nothing outside its data
 * directory and /tmp. Tested by running the built service from an installation it cannot write.
 *
 * The installation is a copy of what the image ships (package.json, dist/ and proto/, with
 * node_modules linked from the checkout), in /var/tmp, so the before/after listing is not disturbed by anyone
 * else's work in the checkout. It is made unwritable in one of two ways, whichever this machine
 * allows (checked before the tests run; both skip with the reason when neither works):
 *
 *  1. "read-only root" (preferred, what docker's read_only does): a private mount namespace
 *     (`unshare --mount`, needs CAP_SYS_ADMIN) in which / is remounted read-only and only /tmp
 *     (a bind mount of itself) stays writable. Nothing leaks: the mounts live and die with the
 *     namespace, the rest of the machine keeps its writable root.
 *  2. "unprivileged user": the service runs as nobody:nogroup (`setpriv`), the installation is
 *     root-owned 0755, and the data directory under /tmp is the only place nobody may write.
 *
 * Any write outside the data directory and /tmp then fails (EROFS / EACCES), so the service would
 * crash, fail a call or log the error; the test checks it does none of these, on the embedded
 * database (which keeps its files and generated key in CHITTYID_DATA_DIR) and on PostgreSQL.
 */

interface Approach {
  readonly name: 'read-only root' | 'unprivileged user';
  /** Command words that run what follows with the installation unwritable. */
  readonly wrapper: readonly string[];
  /** Makes `dir` writable for the service (a data directory). */
  prepareDataDir(dir: string): void;
}

const readOnlyRoot: Approach = {
  name: 'read-only root',
  wrapper: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
    'mount --bind /tmp /tmp && mount -o remount,ro,bind / && exec "$@"', 'sh'],
  prepareDataDir: () => {},
};

const unprivilegedUser: Approach = {
  name: 'unprivileged user',
  wrapper: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'],
  prepareDataDir: (dir) => {
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  },
};

/** Copies the built installation as the Dockerfile lays out /app: package.json, dist/, proto/, node_modules. */
function makeInstallation(): string {
  const root = mkdtempSync('/var/tmp/chittyid-install-');
  chmodSync(root, 0o755);
  cpSync('package.json', join(root, 'package.json'));
  cpSync('dist', join(root, 'dist'), { recursive: true });
  cpSync('proto', join(root, 'proto'), { recursive: true });
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
  return root;
}

/** Whether `approach` leaves `install` unwritable and a data dir under /tmp writable, or why not. */
function probe(approach: Approach, install: string): string | undefined {
  if (process.getuid?.() !== 0) return `${approach.name}: needs root`;
  const data = mkdtempSync(join(tmpdir(), 'chittyid-ro-probe-'));
  try {
    approach.prepareDataDir(data);
    const script = `if touch "$1/.write-probe" 2>/dev/null; then rm -f "$1/.write-probe"; echo "installation is writable"; exit 1; fi
      touch "$2/.write-probe" || { echo "data directory is not writable"; exit 1; }
      test -r "$1/dist/src/main.js" || { echo "installation is not readable"; exit 1; }
      ${process.execPath} -e "require('$1/node_modules/pino/package.json')" || { echo "node_modules is not readable"; exit 1; }`;
    const r = spawnSync(approach.wrapper[0]!, [...approach.wrapper.slice(1), 'sh', '-c', script, 'probe', install, data], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) return `${approach.name}: ${r.error.message}`;
    return r.status === 0 ? undefined : `${approach.name}: ${(r.stdout + r.stderr).trim().split('\n').pop() ?? `exit ${r.status}`}`;
  } catch (err) {
    return `${approach.name}: ${(err as Error).message}`;
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

/** Every path under `dir` with its type, size, mode and mtime (symlinks are not followed). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string, rel: string): void => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const st = lstatSync(full);
      const entry = `${rel}${name} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l->${readlinkSync(full)}` : 'f'} ${st.size} ${st.mode.toString(8)} ${st.mtimeMs}`;
      out.push(entry);
      if (st.isDirectory()) walk(full, `${rel}${name}/`);
    }
  };
  walk(dir, '');
  return out;
}

const installation = makeInstallation();
const failures: string[] = [];
const approach = [readOnlyRoot, unprivilegedUser].find((a) => {
  const why = probe(a, installation);
  if (why) failures.push(why);
  return why === undefined;
});
if (!approach) {
  rmSync(installation, { recursive: true, force: true });
  console.warn(`read-only installation tests skipped: no way to make the installation read-only here (${failures.join('; ')})`);
}

/** Write failures of any kind, in the service's log or on its stderr. */
const WRITE_ERROR = /EROFS|EACCES|EPERM|read-only file system|permission denied/i;

describe.skipIf(!approach)(`the service with a read-only installation (${approach?.name ?? 'skipped'})`, () => {
  const dataDirs: string[] = [];
  let before: string[];

  const dataDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'chittyid-ro-data-'));
    dataDirs.push(dir);
    approach!.prepareDataDir(dir);
    return dir;
  };
  const run = (env: Record<string, string>): Promise<OpsService> =>
    startService({ ...env, LOG_LEVEL: 'debug' }, { wrapper: approach!.wrapper, cwd: installation, timeoutMs: 60_000 });

  /** Mints, batches, resolves and validates; returns the IDs. */
  async function exercise(service: OpsService): Promise<string[]> {
    const client = createTestClient(service.address);
    try {
      const one = (await client.mint(personRequest({ metadata: { test: 'read-only' }, idempotencyKey: 'ro-1' }))).id!.value;
      const batch = (await client.mintBatch({ ...personRequest(), count: 200 })).ids;
      expect((await client.resolve({ id: one })).record!.metadata).toEqual({ test: 'read-only' });
      expect((await client.validate({ id: batch[199]!, checkRegistry: true })).registered).toBe(true);
      return [one, ...batch];
    } finally {
      client.close();
    }
  }

  async function stop(service: OpsService): Promise<void> {
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit, service.stderr.join('\n')).toMatchObject({ code: 0, signal: null });
    const written = [...service.stdout, ...service.stderr].filter((l) => WRITE_ERROR.test(l));
    expect(written).toEqual([]);
    // Nothing but JSON log lines on stdout, and nothing at all on stderr.
    expect(service.stderr).toEqual([]);
    expect(service.stdout.filter((l) => (JSON.parse(l) as { level: string }).level === 'error')).toEqual([]);
  }

  beforeAll(() => {
    before = listing(installation);
    expect(before.length).toBeGreaterThan(20);
    // The real process runs as it would in the image: from inside the installation.
    expect(existsSync(join(installation, 'data'))).toBe(false);
  });
  afterAll(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    rmSync(installation, { recursive: true, force: true });
  });

  it('on the embedded database: runs, keeps its files and generated key in the data directory, and restarts on them', async () => {
    const dir = dataDir();
    const first = await run({ CHITTYID_DATA_DIR: dir });
    expect(first.ready).toMatchObject({ database: 'pglite' });
    const ids = await exercise(first);
    await stop(first);
    // The generated sequence key and the database are in the data directory ...
    expect(readdirSync(dir).sort()).toEqual(['pglite', 'sequence.key']);

    // ... and a second start from the same read-only installation finds them there.
    const second = await run({ CHITTYID_DATA_DIR: dir });
    const client = createTestClient(second.address);
    try {
      expect((await client.resolve({ id: ids[0]! })).record!.id!.value).toBe(ids[0]);
      // The idempotency key still answers the same ID: same database, same key.
      expect((await client.mint(personRequest({ metadata: { test: 'read-only' }, idempotencyKey: 'ro-1' }))).id!.value).toBe(ids[0]);
      const more = (await client.mintBatch({ ...personRequest(), count: 100 })).ids;
      expect(new Set([...ids, ...more]).size).toBe(ids.length + more.length);
    } finally {
      client.close();
    }
    await stop(second);
    expect(listing(installation)).toEqual(before);
  });

  it.skipIf(!hasPostgres())('on PostgreSQL: runs and writes nothing to its installation', async () => {
    const database = await createPostgresDatabase();
    try {
      const dir = dataDir();
      const service = await run({ DATABASE_URL: database.url, CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY, CHITTYID_DATA_DIR: dir });
      expect(service.ready).toMatchObject({ database: 'postgres' });
      await exercise(service);
      await stop(service);
      // With PostgreSQL it needs no local files at all.
      expect(readdirSync(dir)).toEqual([]);
      expect(listing(installation)).toEqual(before);
    } finally {
      await database.drop();
    }
  });
});
