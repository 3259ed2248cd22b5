import { randomUUID } from 'node:crypto';
import { status, type handleUnaryCall, type Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import { ChittyError, toChittyError, toServiceError } from '../errors.js';
import type { Scope } from '../auth/scopes.js';
import { currentTraceId, withSpan } from '../telemetry/tracing.js';
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

export interface FinishedCall {
  readonly method: string;
  readonly code: status;
  readonly durationMs: number;
  readonly principal: string | undefined;
  readonly requestId: string;
  readonly traceId: string | undefined;
  readonly error: ChittyError | undefined;
}

export interface RpcDefinition<Req, Res> {
  readonly method: string;
  readonly scope: Scope;
  /** Rate-limit tokens the request costs (MintBatch costs its count). */
  cost?(request: Req): number;
  handle(request: Req, ctx: CallContext): Promise<Res>;
}

function deadlineOf(call: ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? Number(deadline) : undefined;
}

/**
 * Turns an async handler into a grpc-js unary handler: policy checks, a span, exactly one
 * callback, and every error mapped once to a documented status with a safe message.
 */
export function unary<Req, Res>(policy: RpcPolicy, def: RpcDefinition<Req, Res>): handleUnaryCall<Req, Res> {
  // Spans only when instrumentation.ts started the SDK: without it a span is pure overhead.
  const spanName = `chittyid.${def.method}`;
  const traced = telemetryActive()
    ? <T>(attributes: Record<string, string>, fn: () => Promise<T>) => withSpan(spanName, attributes, fn)
    : <T>(_attributes: Record<string, string>, fn: () => Promise<T>) => fn();
  return (call, callback) => {
    const started = performance.now();
    const requestId = firstValue(call.metadata, 'x-request-id') ?? randomUUID();
    let principal: string | undefined;
    policy.callStarted();
    void traced({ 'rpc.method': def.method, 'chittyid.request_id': requestId }, async () => {
      if (!policy.acceptingCalls()) throw new ChittyError(status.UNAVAILABLE, 'server is shutting down');
      principal = policy.authenticate(call.metadata, def.scope);
      policy.rateLimit(principal, def.cost?.(call.request) ?? 1);
      const deadline = deadlineOf(call);
      if (deadline !== undefined && deadline <= Date.now()) {
        throw new ChittyError(status.DEADLINE_EXCEEDED, 'deadline exceeded before the call started');
      }
      return def.handle(call.request, { principal, deadline, requestId });
    }).then(
      (response) => {
        finish(status.OK, undefined, currentTraceId());
        callback(null, response);
      },
      (err: unknown) => {
        const error = toChittyError(err);
        finish(error.code, error, currentTraceId());
        callback(toServiceError(error));
      },
    ).finally(() => policy.callEnded());

    function finish(code: status, error: ChittyError | undefined, traceId: string | undefined): void {
      policy.finished({ method: def.method, code, durationMs: performance.now() - started, principal, requestId, traceId, error });
    }
  };
}

function firstValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : undefined;
}
