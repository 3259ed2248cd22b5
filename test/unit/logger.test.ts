import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createLogger, rpcLogFields, scrubSecrets } from '../../src/telemetry/logger.js';

/** A real stream that keeps what pino writes, split into parsed JSON lines. */
function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const text = (): string => chunks.join('');
  const lines = (): Array<Record<string, unknown>> =>
    text().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, text, lines };
}

const TOKEN = 'tok_9f8e7d6c5b4a39281706';
const PASSWORD = 's3cr3t-P4ssw0rd';
const SEQUENCE_KEY = 'sequence-key-0123456789abcdef0123456789';

describe('createLogger', () => {
  it('writes one JSON object per line with base fields, level name and ISO time', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', nodeId: 7, destination: out.stream });
    logger.info({ answer: 42 }, 'hello');
    logger.warn('second');
    logger.debug('filtered out at info');
    const [first, second, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ level: 'info', service: 'chittyid', nodeId: 7, answer: 42, msg: 'hello' });
    expect(second).toMatchObject({ level: 'warn', msg: 'second' });
    expect(new Date(String(first?.time)).toISOString()).toBe(first?.time);
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('honours the level', () => {
    const out = capture();
    createLogger({ level: 'debug', nodeId: 1, destination: out.stream }).debug('shown');
    createLogger({ level: 'error', nodeId: 1, destination: out.stream }).warn('hidden');
    expect(out.lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('redacts secrets at the top level and nested, and never writes them', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', nodeId: 1, destination: out.stream });
    logger.info({ authorization: `Bearer ${TOKEN}`, token: TOKEN, password: PASSWORD, sequenceKey: SEQUENCE_KEY }, 'top');
    logger.info({
      config: { sequenceKey: SEQUENCE_KEY, databaseUrl: `postgresql://app:${PASSWORD}@db:5432/chittyid`, host: '0.0.0.0' },
      metadata: { authorization: `Bearer ${TOKEN}`, 'x-request-id': 'r-1' },
      req: { headers: { authorization: `Bearer ${TOKEN}` } },
      key: 'raw-key-material',
    }, 'nested');
    logger.child({ token: TOKEN }).info('child bindings');

    const text = out.text();
    for (const secret of [TOKEN, PASSWORD, SEQUENCE_KEY, 'raw-key-material']) expect(text).not.toContain(secret);
    const [top, nested] = out.lines();
    expect(top).toMatchObject({ authorization: '[redacted]', token: '[redacted]', password: '[redacted]', sequenceKey: '[redacted]' });
    expect(nested).toMatchObject({
      config: { sequenceKey: '[redacted]', databaseUrl: '[redacted]', host: '0.0.0.0' },
      metadata: { authorization: '[redacted]', 'x-request-id': 'r-1' },
      req: { headers: { authorization: '[redacted]' } },
      key: '[redacted]',
    });
  });

  it('scrubs passwords and bearer tokens out of error messages and stacks', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', nodeId: 1, destination: out.stream });
    const err = new Error(`connect failed for postgresql://app:${PASSWORD}@db:5432/chittyid with header Bearer ${TOKEN}`);
    logger.error({ err }, 'database down');
    const text = out.text();
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(TOKEN);
    const [line] = out.lines();
    const logged = line?.err as { message: string; stack: string; type: string };
    expect(logged.type).toBe('Error');
    expect(logged.message).toContain('postgresql://app:[redacted]@db:5432/chittyid');
    expect(logged.stack).toContain('Bearer [redacted]');
  });
});

describe('scrubSecrets', () => {
  it('leaves URLs without a password and ordinary text alone', () => {
    expect(scrubSecrets('postgresql://app@db:5432/x and http://host:8080/path')).toBe('postgresql://app@db:5432/x and http://host:8080/path');
    expect(scrubSecrets('redis://:pw@cache:6379')).toBe('redis://:[redacted]@cache:6379');
  });
});

describe('rpcLogFields', () => {
  it('names the status, rounds the duration and keeps ids', () => {
    expect(rpcLogFields({ method: 'Mint', code: status.INVALID_ARGUMENT, durationMs: 1.23456789, principal: 'svc', requestId: 'r1', traceId: 'abc' }))
      .toEqual({ method: 'Mint', status: 'INVALID_ARGUMENT', code: 3, durationMs: 1.235, principal: 'svc', requestId: 'r1', traceId: 'abc' });
  });

  it('leaves out a missing principal and trace id', () => {
    const fields = rpcLogFields({ method: 'Resolve', code: status.OK, durationMs: 0.5, principal: undefined, requestId: 'r2', traceId: undefined });
    expect(fields).toEqual({ method: 'Resolve', status: 'OK', code: 0, durationMs: 0.5, requestId: 'r2' });
    expect('traceId' in fields).toBe(false);
  });
});
