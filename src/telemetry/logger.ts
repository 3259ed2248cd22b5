import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import { status } from '@grpc/grpc-js';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** pino level name: fatal, error, warn, info, debug, trace or silent (Config.logLevel). */
  readonly level: string;
  readonly nodeId: number;
  /** Where lines go; defaults to stdout. Tests pass their own stream. */
  readonly destination?: DestinationStream;
}

// Field names whose values are secrets wherever they appear (top level, or one or two levels down,
// e.g. `{ config: { sequenceKey } }` or `{ req: { headers: { authorization } } }`).
const SECRET_FIELDS = [
  'authorization', 'Authorization', 'token', 'bearerToken', 'password', 'passwd', 'secret', 'key', 'apiKey',
  'sequenceKey', 'CHITTYID_SEQUENCE_KEY', 'databaseUrl', 'DATABASE_URL', 'connectionString', 'privateKey', 'private_key',
] as const;

/** The redaction paths, exported so tests and reviewers can see exactly what is covered. */
export const REDACT_PATHS: readonly string[] = Object.freeze(
  SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
);

const CENSOR = '[redacted]';

/**
 * Scrubs credentials that hide inside free text (error messages, stacks): URL user-info
 * passwords (`postgresql://user:pw@host`) and bearer tokens. Field redaction cannot see these.
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@/\s]*@/gi, `$1${CENSOR}@`)
    .replace(/(\bbearer[ \t]+)[^\s"',;]+/gi, `$1${CENSOR}`);
}

/** pino's error serializer, with secrets scrubbed from the message and stack. */
function errSerializer(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const field of ['message', 'stack'] as const) {
    const value = out[field];
    if (typeof value === 'string') out[field] = scrubSecrets(value);
  }
  return out;
}

/**
 * The service logger: one JSON object per line (stdout by default), ISO timestamps, level names,
 * base fields `{ service: 'chittyid', nodeId }`, and secrets redacted to '[redacted]'.
 * Stdout writes are asynchronous (pino flushes them on exit) so logging never stalls an RPC.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'chittyid', nodeId: options.nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
      serializers: { err: errSerializer, error: errSerializer },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** What one finished RPC contributes to its log line. */
export interface RpcLogInput {
  /** Short RPC name, e.g. 'Mint'. */
  readonly method: string;
  readonly code: status;
  readonly durationMs: number;
  readonly principal: string | undefined;
  readonly requestId: string;
  readonly traceId: string | undefined;
}

/** The standard fields of the per-RPC log line (README, Operations → Logs). */
export interface RpcLogFields {
  readonly method: string;
  /** gRPC status name, e.g. 'OK', 'INVALID_ARGUMENT'. */
  readonly status: string;
  /** Numeric gRPC status code. */
  readonly code: number;
  readonly durationMs: number;
  readonly principal?: string;
  readonly requestId: string;
  readonly traceId?: string;
}

/** Builds the per-RPC log fields; absent principal/trace ids are left out rather than logged as null. */
export function rpcLogFields(input: RpcLogInput): RpcLogFields {
  return {
    method: input.method,
    status: status[input.code] ?? String(input.code),
    code: input.code,
    // Microsecond resolution is plenty and keeps lines short.
    durationMs: Math.round(input.durationMs * 1000) / 1000,
    ...(input.principal === undefined ? {} : { principal: input.principal }),
    requestId: input.requestId,
    ...(input.traceId === undefined ? {} : { traceId: input.traceId }),
  };
}
