import { status } from '@grpc/grpc-js';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChittyError } from '../../src/errors.js';
import { currentTraceId, withSpan } from '../../src/telemetry/tracing.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

describe('tracing helpers with no SDK registered', () => {
  it('run the function and report no trace id', async () => {
    let inside: string | undefined = 'unset';
    expect(await withSpan('noop', {}, async () => {
      inside = currentTraceId();
      return 7;
    })).toBe(7);
    expect(inside).toBeUndefined();
    await expect(withSpan('noop', {}, () => Promise.reject(new Error('still thrown')))).rejects.toThrow('still thrown');
  });
});

describe('tracing helpers with a provider', () => {
  // Registered after module import on purpose: the module-level tracer must pick the provider up,
  // as it does when instrumentation.ts starts the SDK.
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => exporter.reset());

  it('records a successful span with its attributes and returns the value', async () => {
    let traceId: string | undefined;
    const value = await withSpan('mint', { 'chittyid.entity_type': 'P', 'chittyid.count': 3 }, async (span) => {
      span.setAttribute('chittyid.extra', true);
      traceId = currentTraceId();
      return 'ok';
    });
    expect(value).toBe('ok');
    const [span, ...others] = exporter.getFinishedSpans();
    expect(others).toEqual([]);
    expect(span?.name).toBe('mint');
    expect(span?.instrumentationScope.name).toBe('chittyid');
    expect(span?.attributes).toEqual({ 'chittyid.entity_type': 'P', 'chittyid.count': 3, 'chittyid.extra': true });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.ended).toBe(true);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).toBe(span?.spanContext().traceId);
    expect(currentTraceId()).toBeUndefined(); // the span is no longer active
  });

  it('marks a failed span ERROR, records the exception and its cause, sets the gRPC code, and rethrows', async () => {
    const cause = new Error('duplicate key value violates unique constraint');
    const failure = new ChittyError(status.ALREADY_EXISTS, 'idempotency key reused', { cause });
    await expect(withSpan('mint', {}, () => Promise.reject(failure))).rejects.toBe(failure);
    const [span] = exporter.getFinishedSpans();
    expect(span?.ended).toBe(true);
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'idempotency key reused' });
    expect(span?.attributes['rpc.grpc.status_code']).toBe(status.ALREADY_EXISTS);
    const messages = span?.events.filter((e) => e.name === 'exception').map((e) => e.attributes?.['exception.message']);
    expect(messages).toEqual(['idempotency key reused', 'duplicate key value violates unique constraint']);
  });

  it('marks plain errors and thrown non-errors ERROR without a gRPC code', async () => {
    await expect(withSpan('db.write', {}, async () => {
      throw new TypeError('boom');
    })).rejects.toThrow('boom');
    await expect(withSpan('worker.task', {}, async () => {
      const notAnError: unknown = 'a string';
      throw notAnError;
    })).rejects.toBe('a string');
    const [typeError, stringThrow] = exporter.getFinishedSpans();
    expect(typeError?.status.code).toBe(SpanStatusCode.ERROR);
    expect(typeError?.attributes['rpc.grpc.status_code']).toBeUndefined();
    expect(stringThrow?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'a string' });
  });

  it('nests spans: inner spans are children of the outer one', async () => {
    await withSpan('mint.batch', {}, () => withSpan('db.write', {}, async () => undefined));
    const [inner, outer] = exporter.getFinishedSpans();
    expect(inner?.name).toBe('db.write');
    expect(outer?.name).toBe('mint.batch');
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(inner?.spanContext().traceId).toBe(outer?.spanContext().traceId);
  });
});
