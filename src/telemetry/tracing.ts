import { isSpanContextValid, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { ChittyError } from '../errors.js';

/**
 * The service's tracer. Taken from the API at import time: it is a proxy that starts recording
 * once instrumentation.ts registers a provider, and costs next to nothing when none is.
 */
export const tracer = trace.getTracer('chittyid');

/**
 * Runs `fn` inside an active span named `name`. On failure the exception is recorded (and its
 * cause, which holds the internal detail of INTERNAL/UNAVAILABLE errors), the status is ERROR,
 * and a ChittyError's gRPC code is set as `rpc.grpc.status_code`; the error is rethrown.
 * The span always ends.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

function recordFailure(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  if (error.cause instanceof Error) span.recordException(error.cause);
  if (err instanceof ChittyError) span.setAttribute('rpc.grpc.status_code', err.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** The trace id of the active span, for log lines; undefined when tracing is off or no span is active. */
export function currentTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context !== undefined && isSpanContextValid(context) ? context.traceId : undefined;
}
