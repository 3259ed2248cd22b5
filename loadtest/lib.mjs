// Shared pieces of the load-test runner: the service process, ghz, h2load, the database and the
// result table. Plain ESM with no dependencies beyond what the service already installs (pg).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const LOADTEST = join(ROOT, 'loadtest');
export const REPORTS = join(LOADTEST, 'reports');
export const GHZ_VERSION = 'v0.121.0';
/** Only loopback is ever a target. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/;

export const log = (...a) => console.error('[loadtest]', ...a);

export function assertLoopback(hostPort) {
  const host = hostPort.replace(/:\d+$/, '');
  if (!LOOPBACK.test(host)) throw new Error(`--target must be a loopback address (127.0.0.0/8, localhost, [::1]), got ${hostPort}`);
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw r.error;
  return r;
}

export function mustRun(cmd, args, opts = {}) {
  const r = run(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout;
}

const which = (name) => run('sh', ['-c', `command -v ${name}`]).stdout.trim() || undefined;

/** ghz: on PATH, in ~/go/bin, or installed with `go install` at the pinned version. */
export function ensureGhz() {
  const candidates = [which('ghz'), join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'ghz')].filter(Boolean);
  for (const c of candidates) if (existsSync(c)) return c;
  const go = which('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('ghz is missing and Go is not installed to build it');
  log(`installing ghz ${GHZ_VERSION} with go install …`);
  mustRun(go, ['install', `github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  const built = join(mustRun(go, ['env', 'GOPATH']).trim(), 'bin', 'ghz');
  if (!existsSync(built)) throw new Error(`go install finished but ${built} is missing`);
  return built;
}

/** h2load (Debian's nghttp2-client): installed with apt-get when missing and we are root. */
export function ensureH2load() {
  let p = which('h2load');
  if (p) return p;
  if (process.getuid?.() === 0 && which('apt-get')) {
    log('installing nghttp2-client (h2load) with apt-get …');
    run('apt-get', ['install', '-y', '-qq', 'nghttp2-client'], { stdio: ['ignore', 'ignore', 'inherit'] });
    p = which('h2load');
    if (!p) {
      run('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
      run('apt-get', ['install', '-y', '-qq', 'nghttp2-client'], { stdio: ['ignore', 'ignore', 'inherit'] });
      p = which('h2load');
    }
  }
  if (!p) log('h2load not available: the h2load rows are skipped (apt-get install nghttp2-client)');
  return p;
}

// ---------------------------------------------------------------------------------------------
// Database

/** Starts PostgreSQL (scripts/pg-start.sh) and returns the admin URL it prints. */
export function startPostgres() {
  const out = mustRun('bash', [join(ROOT, 'scripts', 'pg-start.sh')]);
  return out.trim().split('\n').pop();
}

export function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Drops and creates `db` so each run starts from an empty table. */
export async function freshDatabase(adminUrl, db) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // An autovacuum worker still busy on the last run's rows cannot be ended by a non-superuser
    // (SQLSTATE 42501); it finishes within seconds, so retry for a while.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        break;
      } catch (err) {
        if (err.code !== '42501' || attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await client.query(`CREATE DATABASE ${db}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, db);
}

export async function query(url, text, values) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function countIds(url) {
  const rows = await query(url, 'SELECT count(*)::bigint AS n FROM chitty_ids');
  return Number(rows[0].n);
}

export async function serverVersion(url) {
  return (await query(url, 'SHOW server_version'))[0].server_version;
}

// ---------------------------------------------------------------------------------------------
// The service

/**
 * Starts the built service on free loopback ports. Resolves when it logs "chittyid ready" and
 * /ready answers 200; readyMs is measured from spawn to that log line.
 */
export async function startService({ databaseUrl, sequenceKey, poolSize, extraEnv = {}, nodeArgs = [], logFile }) {
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    CHITTYID_SEQUENCE_KEY: sequenceKey,
    HOST: '127.0.0.1',
    GRPC_PORT: '0',
    PORT: '0',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
    ...(poolSize ? { UV_THREADPOOL_SIZE: String(poolSize) } : {}),
    ...extraEnv,
  };
  delete env.CHITTYID_API_KEYS_FILE;
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, '--max-semi-space-size=4', '--import', './dist/src/telemetry/instrumentation.js', 'dist/src/main.js'], {
    cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const ready = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`service not ready after 30 s:\n${lines.join('\n')}`)), 30_000);
    const onData = (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.includes('"chittyid ready"')) {
          clearTimeout(timer);
          const j = JSON.parse(line);
          resolve({ readyMs: performance.now() - started, grpcPort: j.grpcPort, httpPort: j.httpPort });
        }
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (d) => lines.push(d.trimEnd()));
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`service exited ${code} before ready:\n${lines.join('\n')}`)); });
  });
  const res = await fetch(`http://127.0.0.1:${ready.httpPort}/ready`);
  const readyHttpMs = performance.now() - started;
  if (res.status !== 200) throw new Error(`/ready answered ${res.status}`);
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: child.pid,
    ...ready,
    readyHttpMs,
    target: `127.0.0.1:${ready.grpcPort}`,
    logs: lines,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const r = await exited;
      clearTimeout(t);
      if (logFile) writeFileSync(logFile, lines.join('\n') + '\n');
      return r;
    },
  };
}

/** Samples VmRSS/VmHWM of a pid every `everyMs`; stop() returns the peak RSS seen and the HWM. */
export function sampleRss(pid, everyMs = 100) {
  if (!pid || !existsSync(`/proc/${pid}/status`)) return { stop: () => undefined };
  let peakRssKb = 0;
  const read = () => {
    try {
      const s = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0);
      if (rss > peakRssKb) peakRssKb = rss;
      return hwm;
    } catch { return 0; }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const hwmKb = read();
      return { peakRssMb: peakRssKb / 1024, hwmMb: hwmKb / 1024 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ghz

/** Runs one ghz config for `duration` against target; returns the parsed JSON report. */
export function runGhz(ghz, configFile, { target, duration, output, extra = [] }) {
  const args = ['--config', configFile, '-z', duration, '-O', 'json', '-o', output, ...extra, target];
  const r = run(ghz, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 || !existsSync(output)) throw new Error(`ghz ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(readFileSync(output, 'utf8'));
}

/** Summarises a ghz report: requests/s counts OK responses only. */
export function summariseGhz(report, idsPerCall) {
  const ok = report.statusCodeDistribution?.OK ?? 0;
  const seconds = report.total / 1e9;
  const pct = (p) => (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  const errors = report.count - ok;
  return {
    generator: 'ghz',
    requests: report.count,
    ok,
    errors,
    errorKinds: report.errorDistribution ?? {},
    seconds,
    rps: ok / seconds,
    idsPerSec: (ok * idsPerCall) / seconds,
    p50: pct(50), p95: pct(95), p99: pct(99),
    mean: report.average / 1e6,
  };
}

// ---------------------------------------------------------------------------------------------
// h2load: gRPC unary over h2c with a prebuilt, length-prefixed request body

/** The gRPC wire frame: 1 byte "not compressed", 4 bytes big-endian length, then the message. */
export function grpcFrame(message) {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message.buffer, message.byteOffset, message.length).copy(frame, 5);
  return frame;
}

/** Writes the request bodies h2load sends, encoded with the service's own generated code. */
export async function writeH2loadBodies(dir) {
  const gen = await import(join(ROOT, 'dist', 'src', 'gen', 'chittyid', 'v1', 'chittyid.js'));
  mkdirSync(dir, { recursive: true });
  const bodies = {
    check: grpcFrame(new Uint8Array(0)), // HealthCheckRequest{} encodes to zero bytes
    mint: grpcFrame(gen.MintRequest.encode({ entityType: 1, jurisdiction: 'USA', trustLevel: 0, metadata: {}, idempotencyKey: '' }).finish()),
    validate: grpcFrame(gen.ValidateRequest.encode({ id: '04-1-USA-493027518264-P-2612-0-90', checkRegistry: false }).finish()),
  };
  const files = {};
  for (const [k, v] of Object.entries(bodies)) writeFileSync((files[k] = join(dir, `${k}.grpc.bin`)), v);
  return files;
}

export const H2LOAD_PATHS = {
  check: '/grpc.health.v1.Health/Check',
  mint: '/chittyid.v1.ChittyIdService/Mint',
  validate: '/chittyid.v1.ChittyIdService/Validate',
};

/**
 * Runs h2load for `seconds` with `clients` connections × `streams` concurrent streams (64 in
 * flight by default, like ghz). h2load sees HTTP status only, not grpc-status: committed rows
 * are checked against its success count separately.
 */
export function runH2load(h2load, { target, path, bodyFile, seconds, clients = 4, streams = 16, logFile }) {
  const args = [
    '-c', String(clients), '-m', String(streams), '-t', '1', '-D', String(seconds),
    '-d', bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    '--log-file', logFile, `http://${target}${path}`,
  ];
  const r = run(h2load, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`h2load failed (${r.status}): ${r.stderr}${r.stdout}`);
  const out = r.stdout;
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const fin = /finished in ([\d.]+)(ms|s)/.exec(out);
  if (!m || !fin) throw new Error(`cannot parse h2load output:\n${out}`);
  const seconds_ = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  const durations = readFileSync(logFile, 'utf8').trim().split('\n')
    .map((l) => l.split('\t')).filter((f) => f[1] === '200').map((f) => Number(f[2]) / 1000)
    .sort((a, b) => a - b);
  const q = (p) => durations.length ? durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)] : NaN;
  const ok = Number(m[4]);
  return {
    generator: 'h2load',
    requests: Number(m[3]),
    started: Number(m[2]),
    ok,
    errors: Number(m[5]) + Number(m[6]) + Number(m[7]),
    errorKinds: {},
    seconds: seconds_,
    rps: ok / seconds_,
    p50: q(50), p95: q(95), p99: q(99),
    mean: durations.reduce((s, d) => s + d, 0) / (durations.length || 1),
    raw: out,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

export const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');

export function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [line(cells[0]), '|' + widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|') + '|', ...cells.slice(1).map(line)].join('\n');
}

export function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(s));
  if (!m) throw new Error(`bad duration "${s}" (e.g. 10s, 500ms, 1m)`);
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v;
}
