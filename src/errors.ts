import { status, type ServiceError, Metadata } from '@grpc/grpc-js';

/**
 * The one error type of the service: a gRPC status code, a message that is safe to send to the
 * caller, and the underlying cause (logged, never sent). Mapped to the wire once, in rpc/unary.ts.
 */
export class ChittyError extends Error {
  readonly code: status;
  readonly trailers: Readonly<Record<string, string>>;
  /** Who was refused, when known (PERMISSION_DENIED): for logs only, never sent. */
  readonly principal: string | undefined;

  constructor(code: status, message: string, options: { cause?: unknown; trailers?: Record<string, string>; principal?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChittyError';
    this.code = code;
    this.trailers = Object.freeze({ ...(options.trailers ?? {}) });
    this.principal = options.principal;
  }
}

export const invalidArgument = (field: string, problem: string): ChittyError =>
  new ChittyError(status.INVALID_ARGUMENT, `${field}: ${problem}`);

export const resourceExhausted = (message: string, trailers?: Record<string, string>): ChittyError =>
  new ChittyError(status.RESOURCE_EXHAUSTED, message, trailers ? { trailers } : {});

/** Node and PostgreSQL error codes that mean "the database cannot be reached right now". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  '53300', // too_many_connections
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error (or anything in its cause chain) says the database is unreachable. */
export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errorCode(e);
    if (code && UNREACHABLE_CODES.has(code)) return true;
    const message = e instanceof Error ? e.message : '';
    if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|database is closed|Pool is ending|Cannot use a pool after calling end/i.test(message)) return true;
    if (e instanceof AggregateError && e.errors.some(isDatabaseUnreachable)) return true;
  }
  return false;
}

/** Turns any thrown value into a ChittyError: database outages → UNAVAILABLE, the rest → INTERNAL. */
export function toChittyError(err: unknown): ChittyError {
  if (err instanceof ChittyError) return err;
  if (isDatabaseUnreachable(err)) {
    return new ChittyError(status.UNAVAILABLE, 'database unavailable, retry later', { cause: err });
  }
  return new ChittyError(status.INTERNAL, 'internal error', { cause: err });
}

// grpc-js sends the message through encodeURI, which throws on a lone surrogate (caller text cut
// inside an emoji): the call would never be answered and the rejection would crash the process.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The grpc-js error object for a ChittyError: code, safe message and trailing metadata only. */
export function toServiceError(err: ChittyError): Partial<ServiceError> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(err.trailers)) metadata.set(key, value);
  const message = err.message.replace(LONE_SURROGATE, '\uFFFD');
  return { code: err.code, details: message, message, metadata };
}
