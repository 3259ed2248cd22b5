// The deployment checks (npm run check:deploy) pass on the real artefacts and fail, naming
// the problem, on deliberately broken copies. The checkers are the Go programs in
// deploy/checks (compose-go, go-control-plane, BuildKit), built once here.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'chittyid-deploy-checks-'));
const bin = join(work, 'bin');

// First run may fetch Go modules from the proxy and compile BuildKit: allow minutes.
const BUILD_TIMEOUT_MS = 600_000;
const CHECK_TIMEOUT_MS = 60_000;

interface RunResult {
  readonly status: number | null;
  readonly output: string;
}

function run(command: string, args: readonly string[], cwd = root, env: NodeJS.ProcessEnv = process.env): RunResult {
  const res = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  if (res.error) throw res.error;
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

const original = (file: string): string => readFileSync(join(root, file), 'utf8');

/** Replaces `from` (which must occur) with `to`, so a drifting original fails loudly. */
function mutate(text: string, from: string | RegExp, to: string): string {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`mutation did not apply: ${String(from)}`);
  return changed;
}

/** Removes the first YAML block `key:` (and everything indented below it). */
function removeYamlBlock(text: string, key: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`));
  if (start < 0) throw new Error(`no YAML key ${key}`);
  const indent = (lines[start] ?? '').length - (lines[start] ?? '').trimStart().length;
  let end = start + 1;
  while (end < lines.length) {
    const line = lines[end] ?? '';
    if (line.trim() !== '' && line.length - line.trimStart().length <= indent) break;
    end++;
  }
  lines.splice(start, end - start);
  return lines.join('\n');
}

let variant = 0;
function writeVariant(name: string, content: string): string {
  const dir = join(work, `v${++variant}`);
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

beforeAll(() => {
  const res = run('go', ['build', '-mod=readonly', '-o', `${bin}/`, './compose', './envoy', './dockerfile'], join(root, 'deploy/checks'));
  if (res.status !== 0) throw new Error(`building deploy/checks failed:\n${res.output}`);
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function expectFailure(res: RunResult, ...messages: readonly (string | RegExp)[]): void {
  expect(res.status, res.output).toBe(1);
  expect(res.output).toContain('FAILED');
  for (const m of messages) {
    if (typeof m === 'string') expect(res.output).toContain(m);
    else expect(res.output).toMatch(m);
  }
}

describe('npm run check:deploy', () => {
  it('passes on the repository artefacts', () => {
    const res = run('bash', ['scripts/check-deploy.sh'], root, { ...process.env, CHECK_DEPLOY_BIN: join(work, 'script-bin') });
    expect(res.status, res.output).toBe(0);
    expect(res.output).toContain('3 of 3 checks passed');
  }, BUILD_TIMEOUT_MS);
});

describe('compose check (compose-go, Compose Specification)', () => {
  const check = (path: string): RunResult => run(join(bin, 'compose'), ['-f', path]);
  const compose = (): string => original('docker-compose.prod.yml');

  it('accepts docker-compose.prod.yml with and without the postgres profile and .env.example', () => {
    const res = run(join(bin, 'compose'), ['-f', join(root, 'docker-compose.prod.yml'), '-env-file', join(root, '.env.example')]);
    expect(res.status, res.output).toBe(0);
    expect(res.output).toContain('OK');
  }, CHECK_TIMEOUT_MS);

  it('rejects cpus: "two"', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), 'cpus: "2"\n        memory: 2G\n        pids', 'cpus: "two"\n        memory: 2G\n        pids'));
    expectFailure(check(path), 'deploy.resources.limits.cpus', '"two"');
  }, CHECK_TIMEOUT_MS);

  it('rejects a key the specification does not know', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), '  restart: unless-stopped\n  user:', '  restart: unless-stopped\n  restrat: always\n  user:'));
    expectFailure(check(path), 'restrat');
  }, CHECK_TIMEOUT_MS);

  it('rejects two replicas with the same CHITTYID_NODE_ID', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), 'CHITTYID_NODE_ID: "2"', 'CHITTYID_NODE_ID: "1"'));
    expectFailure(check(path), 'share CHITTYID_NODE_ID=1');
  }, CHECK_TIMEOUT_MS);

  it('rejects a writable root filesystem and kept capabilities', () => {
    let text = mutate(compose(), /\n  read_only: true\n/, '\n  read_only: false\n');
    text = mutate(text, '  cap_drop:\n    - ALL\n  security_opt:', '  security_opt:');
    const path = writeVariant('docker-compose.prod.yml', text);
    expectFailure(check(path), 'read_only is not true', 'cap_drop does not contain ALL');
  }, CHECK_TIMEOUT_MS);

  it('rejects an unpinned image', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), /envoyproxy\/envoy:v[0-9.]+/, 'envoyproxy/envoy:latest'));
    expectFailure(check(path), 'image "envoyproxy/envoy:latest" is not pinned');
  }, CHECK_TIMEOUT_MS);

  it('rejects postgres outside its profile', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), '    profiles: ["postgres"]\n', ''));
    expectFailure(check(path), 'service postgres is enabled without the "postgres" profile');
  }, CHECK_TIMEOUT_MS);

  it('rejects a secret inline in the environment', () => {
    const path = writeVariant(
      'docker-compose.prod.yml',
      mutate(compose(), '  CHITTYID_SEQUENCE_KEY_FILE: /run/secrets/chittyid_sequence_key\n', '  CHITTYID_SEQUENCE_KEY: 0123456789abcdef0123456789abcdef\n'),
    );
    expectFailure(check(path), 'environment CHITTYID_SEQUENCE_KEY holds a secret value', 'CHITTYID_SEQUENCE_KEY_FILE is not set');
  }, CHECK_TIMEOUT_MS);

  it('rejects an env file that puts the database password in DATABASE_URL', () => {
    const env = writeVariant('.env', mutate(original('.env.example'), /^DATABASE_URL=.*$/m, 'DATABASE_URL=postgresql://chittyid:hunter2@db:5432/chittyid'));
    const res = run(join(bin, 'compose'), ['-f', join(root, 'docker-compose.prod.yml'), '-env-file', env]);
    expectFailure(res, 'environment DATABASE_URL embeds a password in a URL', 'DATABASE_URL has no password_file=/run/secrets/');
  }, CHECK_TIMEOUT_MS);

  it('rejects json-file logging without rotation', () => {
    const path = writeVariant('docker-compose.prod.yml', mutate(compose(), '      max-file: "3"\n', ''));
    expectFailure(check(path), 'json-file logging without max-file');
  }, CHECK_TIMEOUT_MS);
});

describe('envoy check (go-control-plane Bootstrap + ValidateAll)', () => {
  const check = (path: string): RunResult => run(join(bin, 'envoy'), ['-f', path]);
  const envoy = (): string => original('envoy.yaml');

  it('accepts envoy.yaml', () => {
    const res = check(join(root, 'envoy.yaml'));
    expect(res.status, res.output).toBe(0);
    expect(res.output).toContain('OK');
  }, CHECK_TIMEOUT_MS);

  it('rejects a misspelt lb_policy', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), 'lb_policy: LEAST_REQUEST', 'lb_policy: LEAST_REQUESTS'));
    expectFailure(check(path), 'invalid value for enum field lbPolicy: "LEAST_REQUESTS"');
  }, CHECK_TIMEOUT_MS);

  it('rejects a route to a missing cluster', () => {
    const text = envoy();
    const cut = text.indexOf('    - name: chittyid_http\n');
    expect(cut).toBeGreaterThan(0);
    const path = writeVariant('envoy.yaml', text.slice(0, cut));
    expectFailure(check(path), 'route path /health points to unknown cluster "chittyid_http"');
  }, CHECK_TIMEOUT_MS);

  it('rejects an admin interface off loopback', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), 'address: 127.0.0.1, port_value: 9901', 'address: 0.0.0.0, port_value: 9901'));
    expectFailure(check(path), 'admin: address "0.0.0.0" is not loopback');
  }, CHECK_TIMEOUT_MS);

  it('rejects a gRPC cluster without outlier detection', () => {
    const path = writeVariant('envoy.yaml', removeYamlBlock(envoy(), 'outlier_detection'));
    expectFailure(check(path), 'cluster "chittyid": outlier_detection is missing');
  }, CHECK_TIMEOUT_MS);

  it('rejects retries that do not cover UNAVAILABLE', () => {
    const text = envoy().replaceAll('retry_on: "unavailable,', 'retry_on: "');
    const path = writeVariant('envoy.yaml', text);
    expectFailure(check(path), 'retry_on containing "unavailable"');
  }, CHECK_TIMEOUT_MS);

  it('rejects an HTTP health check in place of the gRPC one', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), 'grpc_health_check:\n            service_name: chittyid.v1.ChittyIdService', 'http_health_check:\n            path: /health'));
    expectFailure(check(path), 'no active health check with grpc_health_check');
  }, CHECK_TIMEOUT_MS);

  it('rejects values outside the API bounds (PGV rules)', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), 'max_ejection_percent: 50\n      circuit_breakers', 'max_ejection_percent: 150\n      circuit_breakers'));
    expectFailure(check(path), 'MaxEjectionPercent: value must be less than or equal to 100');
  }, CHECK_TIMEOUT_MS);

  it('rejects deprecated fields', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), '      lb_policy: ROUND_ROBIN\n', '      lb_policy: ROUND_ROBIN\n      http2_protocol_options: {}\n'));
    expectFailure(check(path), 'http2_protocol_options: field is deprecated');
  }, CHECK_TIMEOUT_MS);

  it('rejects a typed_config of an unknown type', () => {
    const path = writeVariant('envoy.yaml', mutate(envoy(), 'filters.http.router.v3.Router', 'filters.http.router.v3.Routr'));
    expectFailure(check(path), 'envoy.extensions.filters.http.router.v3.Routr');
  }, CHECK_TIMEOUT_MS);
});

describe('Dockerfile check (BuildKit parser and build checks)', () => {
  const check = (path: string, ...extra: readonly string[]): RunResult => run(join(bin, 'dockerfile'), ['-f', path, ...extra]);
  const dockerfile = (): string => original('Dockerfile');

  it('accepts the Dockerfile and .dockerignore', () => {
    const res = check(join(root, 'Dockerfile'), '-dockerignore', join(root, '.dockerignore'));
    expect(res.status, res.output).toBe(0);
    expect(res.output).toContain('OK');
  }, CHECK_TIMEOUT_MS);

  it('rejects USER root', () => {
    const path = writeVariant('Dockerfile', mutate(dockerfile(), /^USER .*$/m, 'USER root'));
    expectFailure(check(path), 'USER root, want chittyid');
  }, CHECK_TIMEOUT_MS);

  it('rejects a missing HEALTHCHECK', () => {
    const path = writeVariant('Dockerfile', mutate(dockerfile(), /^HEALTHCHECK [^\n]*\\\n[^\n]*\n/m, ''));
    expectFailure(check(path), 'no HEALTHCHECK');
  }, CHECK_TIMEOUT_MS);

  it('rejects FROM node:latest and a floating node:20-alpine', () => {
    let text = mutate(dockerfile(), /^FROM \S+ AS production$/m, 'FROM node:latest AS production');
    text = mutate(text, /^FROM \S+ AS builder$/m, 'FROM node:20-alpine AS builder');
    const path = writeVariant('Dockerfile', text);
    expectFailure(check(path), 'base image "node:latest" is not a pinned', 'base image "node:20-alpine" is not a pinned');
  }, CHECK_TIMEOUT_MS);

  it('rejects a single-stage build', () => {
    const path = writeVariant('Dockerfile', 'FROM node:20.20.2-alpine3.23\nUSER 1001\nCMD ["node", "dist/src/main.js"]\n');
    expectFailure(check(path), 'not multi-stage: 1 FROM');
  }, CHECK_TIMEOUT_MS);

  it('rejects secrets in ENV and ARG (BuildKit SecretsUsedInArgOrEnv)', () => {
    const path = writeVariant('Dockerfile', mutate(dockerfile(), /^ARG GIT_COMMIT=unknown$/m, 'ARG GIT_COMMIT=unknown\nARG NPM_TOKEN\nENV DB_PASSWORD=hunter2'));
    expectFailure(check(path), 'SecretsUsedInArgOrEnv', 'ARG NPM_TOKEN looks like a secret', 'ENV DB_PASSWORD holds a value');
  }, CHECK_TIMEOUT_MS);

  it('rejects copying .env into a layer', () => {
    const path = writeVariant('Dockerfile', mutate(dockerfile(), /^COPY \. \.$/m, 'COPY . .\nCOPY .env ./'));
    expectFailure(check(path), 'COPY .env copies a secret or environment file');
  }, CHECK_TIMEOUT_MS);

  it('rejects npm as the command and a missing tini', () => {
    let text = mutate(dockerfile(), /^ENTRYPOINT .*$/m, 'ENTRYPOINT ["docker-entrypoint.sh"]');
    text = mutate(text, /^CMD .*$/m, 'CMD ["npm", "start"]');
    const path = writeVariant('Dockerfile', text);
    expectFailure(check(path), 'ENTRYPOINT is not tini', 'CMD "npm start" must run node directly');
  }, CHECK_TIMEOUT_MS);

  it('rejects an instruction Dockerfile does not know', () => {
    const path = writeVariant('Dockerfile', mutate(dockerfile(), /^WORKDIR \/app$/m, 'WORKDIR /app\nFORM scratch'));
    expectFailure(check(path), /unknown instruction: FORM/i);
  }, CHECK_TIMEOUT_MS);

  it('rejects a .dockerignore that lets .env and secrets into the context', () => {
    const ignore = writeVariant('.dockerignore', 'node_modules/\ndist/\n');
    expectFailure(check(join(root, 'Dockerfile'), '-dockerignore', ignore), '.env would be sent to the build context', 'secrets/db_password would be sent');
  }, CHECK_TIMEOUT_MS);
});
