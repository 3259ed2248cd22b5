import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, type ChannelCredentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Scope } from '../../src/auth/scopes.js';

/** Shared by the security suites (not a test file itself). */

export interface KeysFile {
  readonly path: string;
  /** The bearer token of each principal (only its SHA-256 is in the file). */
  readonly tokens: Readonly<Record<string, string>>;
}

/** Writes a CHITTYID_API_KEYS_FILE with a fresh random token per principal. */
export function writeKeysFile(principals: Readonly<Record<string, readonly Scope[]>>): KeysFile {
  const dir = mkdtempSync(join(tmpdir(), 'chittyid-keys-'));
  const tokens: Record<string, string> = {};
  const lines = ['# principal sha256(token) scopes'];
  for (const [principal, scopes] of Object.entries(principals)) {
    const token = randomBytes(32).toString('base64url');
    tokens[principal] = token;
    lines.push(`${principal} ${createHash('sha256').update(token).digest('hex')} ${scopes.join(',')}`);
  }
  const path = join(dir, 'api-keys.txt');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { path, tokens };
}

export interface RawResult {
  readonly code: number;
  readonly details: string;
  readonly metadata: Metadata | undefined;
  readonly response: Buffer | undefined;
}

/** One unary call with identity (de)serializers: the request bytes go on the wire as they are. */
export function rawUnary(
  address: string, path: string, request: Buffer,
  options: { metadata?: Metadata; deadlineMs?: number; creds?: ChannelCredentials; client?: Client } = {},
): Promise<RawResult> {
  const client = options.client ?? new Client(address, options.creds ?? credentials.createInsecure());
  const args: unknown[] = [path, (b: Buffer) => b, (b: Buffer) => b, request];
  if (options.metadata) args.push(options.metadata);
  args.push({ deadline: Date.now() + (options.deadlineMs ?? 10_000) });
  return new Promise((resolve) => {
    args.push((err: ServiceError | null, value?: Buffer) => {
      if (!options.client) client.close();
      resolve(err
        ? { code: err.code, details: err.details, metadata: err.metadata, response: undefined }
        : { code: 0, details: '', metadata: undefined, response: value });
    });
    (client.makeUnaryRequest as (...a: unknown[]) => unknown)(...args);
  });
}

/** HealthCheckResponse{status: SERVING} on the wire. */
export const SERVING_BYTES = Buffer.from([0x08, 0x01]);

/** grpc.health.v1.Health/Check for the whole server (an empty request is zero bytes). */
export async function healthCheck(address: string, creds?: ChannelCredentials): Promise<Buffer> {
  const r = await rawUnary(address, '/grpc.health.v1.Health/Check', Buffer.alloc(0), { creds, deadlineMs: 5000 });
  if (r.code !== 0) throw Object.assign(new Error(`health check failed: ${r.code} ${r.details}`), { code: r.code });
  return r.response ?? Buffer.alloc(0);
}

export interface Exited {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built service (`node dist/src/main.js`) with exactly `env` (plus PATH) until it exits,
 * killing it after `timeoutMs` so a mutant that starts instead of failing cannot hang the suite.
 */
export function runServiceToExit(env: Record<string, string>, timeoutMs = 15_000): Promise<Exited> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chittyid-exit-'));
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', GRPC_PORT: '0', PORT: '0', CHITTYID_DATA_DIR: dataDir, UV_THREADPOOL_SIZE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => child.once('close', (code, signal) => {
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
    resolve({ code, signal, stdout, stderr });
  }));
}

/** The lines of a process stream, without the final empty one. */
export const linesOf = (text: string): string[] => text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
