import { bool, cleanEnv, makeValidator, num, str } from 'envalid';
import { readSecret } from './secrets.js';
import { isKnownJurisdiction, normalizeJurisdiction } from './minting/jurisdiction.js';

/** Everything the service reads from its environment, parsed once at startup. */
export interface Config {
  readonly nodeEnv: string;
  /** PostgreSQL connection string with any password_file resolved; undefined → embedded PGlite. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly enableMetrics: boolean;
  readonly metricsPort: number;
  readonly nodeId: number;
  readonly defaultJurisdiction: string;
  readonly maxBatchSize: number;
  readonly targetTps: number;
  readonly poolSize: number;
  readonly poolMaxQueue: number;
  readonly sequenceBlockSize: number;
  /** Secret for the sequence permutation; undefined → the embedded default generates and keeps one. */
  readonly sequenceKey: string | undefined;
  readonly apiKeysFile: string | undefined;
  readonly authDisabledExplicitly: boolean;
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile: string | undefined } | undefined;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  readonly maxReceiveMessageBytes: number;
  readonly dbPoolSize: number;
}

/** A bad configuration value: the message is one line that names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const int = (min: number, max: number) =>
  makeValidator<number>((input) => {
    if (!/^-?\d+$/.test(input.trim())) throw new Error(`must be an integer, got "${input}"`);
    const value = Number(input);
    if (value < min || value > max) throw new Error(`must be between ${min} and ${max}, got ${value}`);
    return value;
  });

const jurisdiction = makeValidator<string>((input) => {
  const code = normalizeJurisdiction(input.trim());
  if (!isKnownJurisdiction(code)) throw new Error(`"${input}" is not an ISO 3166-1 alpha-3 code, XIW or XDG`);
  return code;
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Resolves `password_file=` in the URL, or DATABASE_PASSWORD_FILE, into the URL's password. */
export function resolveDatabaseUrl(raw: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    // libpq's socket form `postgresql://user@/db?host=/run/postgresql` has no hostname, which
    // WHATWG URL refuses; the `host` parameter is what pg connects to either way.
    url = new URL(raw.replace(/^(postgres(?:ql)?:\/\/[^/?#]*@)(?=\/)/, '$1localhost'));
  } catch {
    throw new ConfigError('DATABASE_URL: not a valid URL (expected postgresql://user@host:5432/db)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL: scheme must be postgresql://, got ${url.protocol}//`);
  }
  const fromParam = url.searchParams.get('password_file');
  url.searchParams.delete('password_file');
  let password: string | undefined;
  if (fromParam) {
    try {
      password = readSecret({ P_FILE: fromParam }, 'P');
    } catch (err) {
      throw new ConfigError(`DATABASE_URL: password_file ${(err as Error).message.replace(/^P_FILE: /, '')}`);
    }
  } else {
    // Errors here are about DATABASE_PASSWORD(_FILE), so they name that variable, not DATABASE_URL.
    password = secret(env, 'DATABASE_PASSWORD');
  }
  if (password !== undefined) url.password = encodeURIComponent(password);
  return url.toString();
}

function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  try {
    return readSecret(env, name);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Parses the environment into a frozen Config, or throws a ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = cleanEnv(
    env,
    {
      NODE_ENV: str({ default: 'development' }),
      CHITTYID_DATA_DIR: str({ default: './data' }),
      HOST: str({ default: '127.0.0.1' }),
      GRPC_PORT: int(0, 65535)({ default: 50051 }),
      PORT: int(0, 65535)({ default: 3000 }),
      ENABLE_METRICS: bool({ default: false }),
      METRICS_PORT: int(0, 65535)({ default: 9090 }),
      CHITTYID_NODE_ID: int(1, 2_147_483_647)({ default: 1 }),
      CHITTYID_DEFAULT_JURISDICTION: jurisdiction({ default: 'USA' }),
      MAX_BATCH_SIZE: int(1, 100_000)({ default: 1000 }),
      TARGET_TPS: num({ default: 3420 }),
      UV_THREADPOOL_SIZE: int(1, 1024)({ default: 4 }),
      CHITTYID_POOL_MAX_QUEUE: int(1, 1_000_000)({ default: 4096 }),
      CHITTYID_SEQUENCE_BLOCK_SIZE: int(1, 10_000_000)({ default: 50_000 }),
      CHITTYID_API_KEYS_FILE: str({ default: undefined }),
      CHITTYID_AUTH: str({ choices: ['on', 'off', ''], default: '' }),
      CHITTYID_RATE_LIMIT_RPS: int(0, 100_000_000)({ default: 0 }),
      CHITTYID_RATE_LIMIT_BURST: int(0, 100_000_000)({ default: 0 }),
      GRPC_TLS_CERT_FILE: str({ default: undefined }),
      GRPC_TLS_KEY_FILE: str({ default: undefined }),
      GRPC_TLS_CLIENT_CA_FILE: str({ default: undefined }),
      LOG_LEVEL: str({ choices: [...LOG_LEVELS], default: 'info' }),
      CHITTYID_SHUTDOWN_TIMEOUT_MS: int(100, 120_000)({ default: 20_000 }),
      GRPC_MAX_RECEIVE_MESSAGE_BYTES: int(1024, 64 * 1024 * 1024)({ default: 256 * 1024 }),
      CHITTYID_DB_POOL_SIZE: int(1, 1000)({ default: 8 }),
    },
    {
      reporter: ({ errors }) => {
        const [name, error] = Object.entries(errors)[0] ?? [];
        if (name && error) throw new ConfigError(`${name}: ${(error as Error).message}`);
      },
    },
  );

  const sequenceKey = secret(env, 'CHITTYID_SEQUENCE_KEY');
  if (sequenceKey !== undefined && sequenceKey.length < 32) {
    throw new ConfigError(`CHITTYID_SEQUENCE_KEY: must be at least 32 characters, got ${sequenceKey.length}`);
  }
  const tlsCert = e.GRPC_TLS_CERT_FILE, tlsKey = e.GRPC_TLS_KEY_FILE;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`${tlsCert === undefined ? 'GRPC_TLS_CERT_FILE' : 'GRPC_TLS_KEY_FILE'}: must be set together with ${tlsCert === undefined ? 'GRPC_TLS_KEY_FILE' : 'GRPC_TLS_CERT_FILE'}`);
  }
  if (e.GRPC_TLS_CLIENT_CA_FILE !== undefined && tlsCert === undefined) {
    throw new ConfigError('GRPC_TLS_CLIENT_CA_FILE: mutual TLS needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE');
  }
  const apiKeysFile = e.CHITTYID_API_KEYS_FILE;
  if (e.CHITTYID_AUTH === 'on' && apiKeysFile === undefined) {
    throw new ConfigError('CHITTYID_AUTH: "on" needs CHITTYID_API_KEYS_FILE');
  }
  if (e.NODE_ENV === 'production' && apiKeysFile === undefined && e.CHITTYID_AUTH !== 'off') {
    throw new ConfigError('CHITTYID_API_KEYS_FILE: required when NODE_ENV=production (or set CHITTYID_AUTH=off explicitly)');
  }

  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    databaseUrl: resolveDatabaseUrl(env.DATABASE_URL, env),
    dataDir: e.CHITTYID_DATA_DIR,
    host: e.HOST,
    grpcPort: e.GRPC_PORT,
    httpPort: e.PORT,
    enableMetrics: e.ENABLE_METRICS,
    metricsPort: e.METRICS_PORT,
    nodeId: e.CHITTYID_NODE_ID,
    defaultJurisdiction: e.CHITTYID_DEFAULT_JURISDICTION,
    maxBatchSize: e.MAX_BATCH_SIZE,
    targetTps: e.TARGET_TPS,
    poolSize: e.UV_THREADPOOL_SIZE,
    poolMaxQueue: e.CHITTYID_POOL_MAX_QUEUE,
    sequenceBlockSize: e.CHITTYID_SEQUENCE_BLOCK_SIZE,
    sequenceKey,
    apiKeysFile: e.CHITTYID_AUTH === 'off' ? undefined : apiKeysFile,
    authDisabledExplicitly: e.CHITTYID_AUTH === 'off',
    rateLimitPerSecond: e.CHITTYID_RATE_LIMIT_RPS,
    rateLimitBurst: e.CHITTYID_RATE_LIMIT_BURST || e.CHITTYID_RATE_LIMIT_RPS,
    tls: tlsCert && tlsKey ? Object.freeze({ certFile: tlsCert, keyFile: tlsKey, clientCaFile: e.GRPC_TLS_CLIENT_CA_FILE }) : undefined,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.CHITTYID_SHUTDOWN_TIMEOUT_MS,
    maxReceiveMessageBytes: e.GRPC_MAX_RECEIVE_MESSAGE_BYTES,
    dbPoolSize: e.CHITTYID_DB_POOL_SIZE,
  });
}
