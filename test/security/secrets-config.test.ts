import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { personRequest } from '../support/client.js';
import { createPostgresDatabase, hasPostgres, postgresUrl } from '../support/databases.js';
import { startServer, TEST_SEQUENCE_KEY } from '../support/servers.js';
import { linesOf, runServiceToExit } from './helpers.js';

// Secrets from files (SPEC §4 "*_FILE variants", DATABASE_URL password_file=) and "a bad value stops
// the service at startup with one clear line naming the variable".

const dir = mkdtempSync(join(tmpdir(), 'chittyid-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Writes `content` to a fresh file and returns its path. */
const secretFile = (content: string): string => {
  const path = join(dir, `secret-${n++}`);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};
const MISSING = join(dir, 'does-not-exist');
const KEY = 'file-sequence-key-0123456789abcdef-0123456789';

/** The ConfigError loadConfig throws for `env` (fails if it does not throw one). */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('CHITTYID_SEQUENCE_KEY_FILE', () => {
  it.each([['\n'], ['\r\n'], ['']])('is read from the file, a trailing %j stripped', (ending) => {
    expect(loadConfig({ CHITTYID_SEQUENCE_KEY_FILE: secretFile(`${KEY}${ending}`) }).sequenceKey).toBe(KEY);
  });

  it('setting both forms is an error naming the variable, without the secret', () => {
    const err = configError({ CHITTYID_SEQUENCE_KEY: KEY, CHITTYID_SEQUENCE_KEY_FILE: secretFile(TEST_SEQUENCE_KEY) });
    expect(err.message).toMatch(/^CHITTYID_SEQUENCE_KEY and CHITTYID_SEQUENCE_KEY_FILE are both set/);
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toContain(TEST_SEQUENCE_KEY);
  });

  it.each([
    ['a missing file', () => MISSING, /\(ENOENT\)$/],
    ['a directory', () => dir, /\(EISDIR\)$/],
  ])('%s is a ConfigError naming CHITTYID_SEQUENCE_KEY_FILE', (_name, path, code) => {
    const err = configError({ CHITTYID_SEQUENCE_KEY_FILE: path() });
    expect(err.message).toMatch(/^CHITTYID_SEQUENCE_KEY_FILE: cannot read /);
    expect(err.message).toMatch(code);
  });

  it('a short key from the file is refused without printing it', () => {
    const err = configError({ CHITTYID_SEQUENCE_KEY_FILE: secretFile('tiny-secret\n') });
    expect(err.message).toBe('CHITTYID_SEQUENCE_KEY: must be at least 32 characters, got 11');
  });

  it.skipIf(!hasPostgres())('a server keyed from the file uses the same key as the variable (the database agrees)', async () => {
    const database = await createPostgresDatabase();
    const handle = await openDatabase({ databaseUrl: database.url, dataDir: '', poolSize: 2 });
    try {
      // First start with the variable claims the key fingerprint for this database.
      const first = await startServer(handle, { CHITTYID_SEQUENCE_KEY: TEST_SEQUENCE_KEY });
      const { id } = await first.client.mint(personRequest());
      await first.stop();
      // The same key from a file (with the newline editors add) is accepted…
      const second = await startServer(handle, { CHITTYID_SEQUENCE_KEY: undefined, CHITTYID_SEQUENCE_KEY_FILE: secretFile(`${TEST_SEQUENCE_KEY}\n`) });
      expect((await second.client.resolve({ id: id!.value })).record!.id!.value).toBe(id!.value);
      await second.stop();
      // …and a different key from a file is refused.
      await expect(startServer(handle, { CHITTYID_SEQUENCE_KEY: undefined, CHITTYID_SEQUENCE_KEY_FILE: secretFile(`${KEY}\n`) }))
        .rejects.toThrow(/^CHITTYID_SEQUENCE_KEY: differs from the key this database was minted with/);
    } finally {
      await handle.close();
      await database.drop();
    }
  });
});

describe('DATABASE_URL password_file= and DATABASE_PASSWORD_FILE', () => {
  const PASSWORD = 'p@ss:w/rd?#%&= é"';
  const passwordOf = (url: string | undefined): string => decodeURIComponent(new URL(url!).password);

  it('password_file= is read into the URL password and the parameter removed; other parameters stay', () => {
    const file = secretFile(`${PASSWORD}\n`);
    const { databaseUrl } = loadConfig({ DATABASE_URL: `postgresql://svc@db.internal:5433/chittyid?sslmode=require&password_file=${encodeURIComponent(file)}&application_name=x`, CHITTYID_SEQUENCE_KEY: KEY });
    const url = new URL(databaseUrl!);
    expect(passwordOf(databaseUrl)).toBe(PASSWORD);
    expect(url.searchParams.has('password_file')).toBe(false);
    expect(Object.fromEntries(url.searchParams)).toEqual({ sslmode: 'require', application_name: 'x' });
    expect({ user: url.username, host: url.host, path: url.pathname }).toEqual({ user: 'svc', host: 'db.internal:5433', path: '/chittyid' });
    expect(databaseUrl).not.toContain(file);
  });

  it('DATABASE_PASSWORD_FILE likewise', () => {
    const { databaseUrl } = loadConfig({ DATABASE_URL: 'postgresql://svc@db:5432/chittyid', DATABASE_PASSWORD_FILE: secretFile(`${PASSWORD}\n`), CHITTYID_SEQUENCE_KEY: KEY });
    expect(passwordOf(databaseUrl)).toBe(PASSWORD);
  });

  it('password_file= pointing at a missing file is a ConfigError naming it, without the URL password', () => {
    const err = configError({ DATABASE_URL: `postgresql://svc:inline-hunter2@db/chittyid?password_file=${MISSING}`, CHITTYID_SEQUENCE_KEY: KEY });
    expect(err.message).toMatch(/^DATABASE_URL: password_file cannot read .*does-not-exist \(ENOENT\)$/);
    expect(err.message).not.toContain('hunter2');
  });

  it('an unreadable DATABASE_PASSWORD_FILE is a ConfigError starting with that variable', () => {
    const err = configError({ DATABASE_URL: 'postgresql://svc:inline-hunter2@db/chittyid', DATABASE_PASSWORD_FILE: MISSING, CHITTYID_SEQUENCE_KEY: KEY });
    expect(err.message).toMatch(/^DATABASE_PASSWORD_FILE: cannot read .*\(ENOENT\)$/);
    expect(err.message).not.toContain('hunter2');
  });

  it('DATABASE_PASSWORD and DATABASE_PASSWORD_FILE together are an error naming the variable, without the secret', () => {
    const err = configError({ DATABASE_URL: 'postgresql://svc@db/chittyid', DATABASE_PASSWORD: 'direct-hunter2', DATABASE_PASSWORD_FILE: secretFile(PASSWORD), CHITTYID_SEQUENCE_KEY: KEY });
    expect(err.message).toMatch(/^DATABASE_PASSWORD and DATABASE_PASSWORD_FILE are both set/);
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain(PASSWORD);
  });

  describe.skipIf(!hasPostgres())('against the real PostgreSQL (scram-sha-256 on 127.0.0.1)', () => {
    const withoutPassword = (): { url: URL; password: string } => {
      const url = new URL(postgresUrl());
      const password = decodeURIComponent(url.password);
      url.password = '';
      return { url, password };
    };
    const ping = async (databaseUrl: string | undefined): Promise<void> => {
      const handle = await openDatabase({ databaseUrl, dataDir: '', poolSize: 1 });
      try {
        await handle.ping();
      } finally {
        await handle.close();
      }
    };

    it('the password from password_file= is the one that logs in', async () => {
      const { url, password } = withoutPassword();
      url.searchParams.set('password_file', secretFile(`${password}\n`));
      await ping(loadConfig({ DATABASE_URL: url.toString(), CHITTYID_SEQUENCE_KEY: KEY }).databaseUrl);
      url.searchParams.set('password_file', secretFile('not-the-password\n'));
      await expect(ping(loadConfig({ DATABASE_URL: url.toString(), CHITTYID_SEQUENCE_KEY: KEY }).databaseUrl)).rejects.toMatchObject({ code: '28P01' });
    });

    it('the password from DATABASE_PASSWORD_FILE is the one that logs in', async () => {
      const { url, password } = withoutPassword();
      await ping(loadConfig({ DATABASE_URL: url.toString(), DATABASE_PASSWORD_FILE: secretFile(`${password}\n`), CHITTYID_SEQUENCE_KEY: KEY }).databaseUrl);
    });
  });
});

/** [variable, bad value, extra env, the variable the message must start with]. */
const BAD_VALUES: [string, string, Record<string, string>, string][] = [
  ['GRPC_PORT', 'abc', {}, 'GRPC_PORT'],
  ['PORT', '70000', {}, 'PORT'],
  ['METRICS_PORT', 'x', {}, 'METRICS_PORT'],
  ['ENABLE_METRICS', 'perhaps', {}, 'ENABLE_METRICS'],
  ['MAX_BATCH_SIZE', '0', {}, 'MAX_BATCH_SIZE'],
  ['UV_THREADPOOL_SIZE', '0', {}, 'UV_THREADPOOL_SIZE'],
  ['CHITTYID_NODE_ID', '-1', {}, 'CHITTYID_NODE_ID'],
  ['CHITTYID_DEFAULT_JURISDICTION', 'ZZZ', {}, 'CHITTYID_DEFAULT_JURISDICTION'],
  ['CHITTYID_RATE_LIMIT_RPS', '1.5', {}, 'CHITTYID_RATE_LIMIT_RPS'],
  ['GRPC_MAX_RECEIVE_MESSAGE_BYTES', '10', {}, 'GRPC_MAX_RECEIVE_MESSAGE_BYTES'],
  ['LOG_LEVEL', 'loud', {}, 'LOG_LEVEL'],
  ['CHITTYID_AUTH', 'maybe', {}, 'CHITTYID_AUTH'],
  ['CHITTYID_SEQUENCE_KEY', 'short', {}, 'CHITTYID_SEQUENCE_KEY'],
  // The message starts with the missing half and names both.
  ['GRPC_TLS_CERT_FILE', '/tmp/cert.pem', {}, 'GRPC_TLS_KEY_FILE'],
  ['GRPC_TLS_CLIENT_CA_FILE', '/tmp/ca.pem', {}, 'GRPC_TLS_CLIENT_CA_FILE'],
  ['DATABASE_URL', 'mysql://root:hunter2@x/db', {}, 'DATABASE_URL'],
  ['DATABASE_URL', 'postgresql://root:hunter2@[::1', {}, 'DATABASE_URL'],
];

describe('a bad value is a ConfigError: one line, starting with the variable', () => {
  it.each(BAD_VALUES)('%s=%s', (name, value, extra, leading) => {
    const err = configError({ ...extra, [name]: value });
    expect(err.message).toMatch(new RegExp(`^${leading}: \\S`));
    expect(err.message).not.toContain('\n');
    if (leading !== name) expect(err.message).toContain(name);
    expect(err.message).not.toContain('hunter2');
    if (name === 'CHITTYID_SEQUENCE_KEY') expect(err.message).not.toContain(value);
  });

  it('the real process exits 1 printing exactly that one line, for each bad value', async () => {
    const cases = [...BAD_VALUES, ['CHITTYID_API_KEYS_FILE', MISSING, {}, 'CHITTYID_API_KEYS_FILE'] as (typeof BAD_VALUES)[number]];
    const results: { name: string; value: string; leading: string; run: Awaited<ReturnType<typeof runServiceToExit>> }[] = [];
    // Two at a time: each is a full Node start on a 2-core machine.
    for (let i = 0; i < cases.length; i += 2) {
      results.push(...await Promise.all(cases.slice(i, i + 2).map(async ([name, value, extra, leading]) =>
        ({ name, value, leading, run: await runServiceToExit({ ...extra, [name]: value }) }))));
    }
    for (const { name, value, leading, run } of results) {
      const where = `${name}=${value}: ${JSON.stringify(run)}`;
      expect(run.code, where).toBe(1);
      expect(run.stdout, where).toBe('');
      expect(linesOf(run.stderr), where).toEqual([expect.stringMatching(new RegExp(`^chittyid: configuration error: ${leading}: \\S`))]);
      expect(run.stderr, where).not.toContain('hunter2');
    }
  }, 60_000);
});
