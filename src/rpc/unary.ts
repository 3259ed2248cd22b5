import { randomUUID } from 'node:crypto';
import { status, type handleUnaryCall, type Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import { ChittyError, toChittyError, toServiceError } from '../errors.js';
import type { Scope } from '../auth/scopes.js';
import { currentTraceId, withSpan } from '../telemetry/tracing.js';
import type { RpcLogInput } from '../telemetry/logger.js';
import { telemetryActive } from '../telemetry/telemetry-shutdown.js';

/** What a handler knows about its call beyond the request. */
export interface CallContext {
  readonly principal: string;
  /** Epoch ms of the caller's deadline, if it set one. */
  readonly deadline: number | undefined;
  readonly requestId: string;
}

/** Cross-cutting policy applied to every RPC, supplied by the server. */
export interface RpcPolicy {
  /** False once shutdown began: new calls get UNAVAILABLE. */
  acceptingCalls(): boolean;
  /** Returns the principal, or throws UNAUTHENTICATED / PERMISSION_DENIED. */
  authenticate(metadata: Metadata, scope: Scope): string;
  /** Throws RESOURCE_EXHAUSTED (with a retry hint) when the principal is over its rate. */
  rateLimit(principal: string, cost: number): void;
  /** Called once per finished call, for logs and metrics. */
  finished(info: FinishedCall): void;
  /** Tracks calls in flight so shutdown can wait for them. */
  callStarted(): void;
  callEnded(): void;
}

/** A finished call: its log-line fields, plus the error it ended with. */
export interface FinishedCall extends RpcLogInput {
  readonly error: ChittyError | undefined;
}

export interface RpcDefinition<Req, Res> {
  readonly method: string;
  readonly scope: Scope;
  /** Rate-limit tokens the request costs (MintBatch costs its count). */
  cost?(request: Req): number;
  /** May answer synchronously (no I/O needed): the wrapper then responds in the same turn. */
  handle(request: Req, ctx: CallContext): Res | Promise<Res>;
}

function deadlineOf(call: ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? Number(deadline) : undefined;
}

/**
 * One call in flight: the context a handler sees and what the finished-call report needs.
 * A class, so that the lazy request id is a prototype getter rather than a per-call closure.
 */
class CallState implements CallContext {
  principal = '';
  authenticated = false;
  deadline: number | undefined = undefined;
  private id: string | undefined;
  constructor(metadata: Metadata, readonly started: number) {
    this.id = firstValue(metadata, 'x-request-id');
  }
  /** The caller's x-request-id, or a UUID made when first asked for (a log line or a span). */
  get requestId(): string {
    return (this.id ??= randomUUID());
  }
}

/**
 * Turns an async handler into a grpc-js unary handler: policy checks, a span, exactly one
 * callback, and every error mapped once to a documented status with a safe message.
 * It runs on every call, so it keeps to one promise chain and no per-call closures beyond it.
 */
export function unary<Req, Res>(policy: RpcPolicy, def: RpcDefinition<Req, Res>): handleUnaryCall<Req, Res> {
  // Spans only when instrumentation.ts started the SDK: without it a span is pure overhead.
  const spanName = `chittyid.${def.method}`;
  const tracing = telemetryActive();

  function begin(call: ServerUnaryCall<Req, Res>, state: CallState): Res | Promise<Res> {
    if (!policy.acceptingCalls()) throw new ChittyError(status.UNAVAILABLE, 'server is shutting down');
    state.principal = policy.authenticate(call.metadata, def.scope);
    state.authenticated = true;
    policy.rateLimit(state.principal, def.cost?.(call.request) ?? 1);
    state.deadline = deadlineOf(call);
    if (state.deadline !== undefined && state.deadline <= Date.now()) {
      throw new ChittyError(status.DEADLINE_EXCEEDED, 'deadline exceeded before the call started');
    }
    return def.handle(call.request, state);
  }

  function report(state: CallState, code: status, error: ChittyError | undefined): void {
    policy.finished({
      method: def.method, code, durationMs: performance.now() - state.started,
      principal: state.authenticated ? state.principal : error?.principal,
      get requestId() { return state.requestId; },
      traceId: tracing ? currentTraceId() : undefined,
      error,
    });
  }

  return (call, callback) => {
    const state = new CallState(call.metadata, performance.now());
    policy.callStarted();
    const succeed = (response: Res): void => {
      report(state, status.OK, undefined);
      policy.callEnded();
      respond(() => callback(null, response));
    };
    const fail = (err: unknown): void => {
      const error = toChittyError(err);
      report(state, error.code, error);
      policy.callEnded();
      respond(() => callback(toServiceError(error)));
    };
    let result: Res | Promise<Res>;
    try {
      result = tracing
        ? withSpan(spanName, { 'rpc.method': def.method, 'chittyid.request_id': state.requestId }, async () => begin(call, state))
        : begin(call, state);
    } catch (err) {
      fail(err);
      return;
    }
    // An answer computed without I/O goes out in this turn: an extra promise hop costs ~10 µs.
    if (result instanceof Promise) result.then(succeed, fail);
    else succeed(result);
  };
}

/** grpc-js reports its own failures (e.g. serialisation) to the caller; a throw must not escape. */
function respond(send: () => void): void {
  try {
    send();
  } catch {
    // nothing more can be sent on this call
  }
}

function firstValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : undefined;
}
