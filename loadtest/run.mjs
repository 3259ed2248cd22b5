#!/usr/bin/env node
// The load-test runner (`npm run loadtest`). Builds, starts PostgreSQL and the service on free
// loopback ports with a fresh database, warms up, runs each scenario for a bounded time with ghz
// (and h2load, the lighter generator, for Check/Mint/Validate), runs the raw-PostgreSQL baseline,
// prints one table and exits 1 when a threshold is missed. See loadtest/RESULTS.md.
//
//   npm run loadtest -- [--duration 10s] [--warmup 3s] [--target 127.0.0.1:50051]
//                       [--pool-sizes 1,2,4,16] [--skip-build] [--no-h2load] [--report-only]
//                       [--min-mint-ids 10000] … (every threshold: see THRESHOLDS below)
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  LOADTEST, REPORTS, ROOT, H2LOAD_PATHS, assertLoopback, countIds, ensureGhz, ensureH2load, fmt, freshDatabase,
  log, mustRun, parseDuration, runGhz, runH2load, sampleRss, serverVersion, startPostgres, startService,
  summariseGhz, table, writeH2loadBodies,
} from './lib.mjs';
import { renderHtml, renderSvg, svgToPng } from './chart.mjs';

/** Defaults are the issue's targets; each can be overridden by a flag or an environment variable. */
const THRESHOLDS = {
  'target-tps': { env: 'TARGET_TPS', def: 3420, help: 'Mint requests/s at least' },
  'min-mint-ratio': { env: 'LOADTEST_MIN_MINT_RATIO', def: 0.7, help: 'Mint rps / Check rps at least' },
  'max-mint-p99-ratio': { env: 'LOADTEST_MAX_MINT_P99_RATIO', def: 2, help: 'Mint p99 / Check p99 at most' },
  'min-mint-ids': { env: 'LOADTEST_MIN_MINT_IDS', def: 10_000, help: 'Mint IDs/s at least' },
  'min-batch-ids': { env: 'LOADTEST_MIN_BATCH_IDS', def: 150_000, help: 'MintBatch IDs/s at least' },
  'min-batch-raw-ratio': { env: 'LOADTEST_MIN_BATCH_RAW_RATIO', def: 0.6, help: 'MintBatch IDs/s / raw-PostgreSQL rows/s at least' },
  'min-validate-ratio': { env: 'LOADTEST_MIN_VALIDATE_RATIO', def: 0.8, help: 'Validate rps / Check rps at least' },
  'max-rss-mb': { env: 'LOADTEST_MAX_RSS_MB', def: 256, help: 'service VmRSS peak under load, MB, at most' },
  'max-ready-ms': { env: 'LOADTEST_MAX_READY_MS', def: 2000, help: 'spawn → ready, ms, at most' },
};

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.LOADTEST_DURATION ?? '10s' },
    warmup: { type: 'string', default: process.env.LOADTEST_WARMUP ?? '3s' },
    target: { type: 'string' },
    'database-url': { type: 'string' },
    'pool-sizes': { type: 'string' },
    // The deployed default (.env.example, docker-compose.prod.yml), chosen from the pool-size table.
    'pool-size': { type: 'string', default: process.env.UV_THREADPOOL_SIZE ?? '2' },
    'skip-build': { type: 'boolean', default: false },
    'no-h2load': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    'gate-generator': { type: 'string', default: 'auto' },
    'cpu-prof': { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    help: { type: 'boolean', default: false },
    ...Object.fromEntries(Object.keys(THRESHOLDS).map((k) => [k, { type: 'string' }])),
  },
});
if (opt.help) {
  const lines = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  console.log(lines.slice(1, lines.findIndex((l, i) => i > 0 && !l.startsWith('//'))).join('\n'));
  for (const [k, t] of Object.entries(THRESHOLDS)) console.log(`  --${k} (${t.env}, default ${t.def}): ${t.help}`);
  process.exit(0);
}
const limits = Object.fromEntries(Object.entries(THRESHOLDS).map(([k, t]) => [k, Number(opt[k] ?? process.env[t.env] ?? t.def)]));
const seconds = parseDuration(opt.duration);
const warmupSeconds = parseDuration(opt.warmup);
const duration = `${seconds}s`;
const SEQUENCE_KEY = process.env.LOADTEST_SEQUENCE_KEY ?? 'chittyid-loadtest-sequence-key-not-a-secret-0001';
const DB_NAME = 'chittyid_loadtest';
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(REPORTS, { recursive: true });

// --- machine -----------------------------------------------------------------------------------
function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model;
  return { nproc: cpus().length, cpu, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version };
}
const cpuTicks = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch { return 0; }
};
const machineTicks = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: f.reduce((s, v) => s + v, 0) - f[3] - f[4], total: f.reduce((s, v) => s + v, 0) };
};
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

// --- setup -------------------------------------------------------------------------------------
const ghz = ensureGhz();
const h2load = opt['no-h2load'] ? undefined : ensureH2load();
let dbUrl = opt['database-url'];
let pgVersion;
if (!opt['skip-build'] && !opt.target) {
  log('npm run build …');
  mustRun('npm', ['run', 'build', '--silent'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
if (!existsSync(join(ROOT, 'dist', 'src', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
if (!opt.target) {
  const adminUrl = startPostgres();
  dbUrl = await freshDatabase(adminUrl, DB_NAME);
  log(`fresh database ${DB_NAME}`);
}
if (dbUrl) pgVersion = await serverVersion(dbUrl);
const bodies = h2load ? await writeH2loadBodies(join(REPORTS, 'bodies')) : undefined;

/** Scenarios in run order. ids: IDs per OK call (0: not a mint). */
const ALL = [
  { name: 'health-check', config: 'health-check.json', ids: 0, h2: 'check' },
  { name: 'mint', config: 'mint.json', ids: 1, h2: 'mint' },
  { name: 'validate', config: 'validate.json', ids: 0, h2: 'validate' },
  { name: 'mint-batch', config: 'mint-batch.json', ids: 1000 },
];
const wanted = opt.scenarios ? new Set(opt.scenarios.split(',')) : undefined;
const scenarios = ALL.filter((s) => !wanted || wanted.has(s.name));
const batchConcurrency = JSON.parse(readFileSync(join(LOADTEST, 'mint-batch.json'), 'utf8')).concurrency;

async function withService(poolSize, fn, label) {
  if (opt.target) {
    assertLoopback(opt.target);
    return fn({ target: opt.target, pid: undefined, readyMs: NaN });
  }
  const svc = await startService({
    databaseUrl: dbUrl, sequenceKey: SEQUENCE_KEY, poolSize,
    nodeArgs: opt['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(REPORTS, `cpuprof-${label}`)}`] : [],
    logFile: join(REPORTS, `service-${label}.log`),
  });
  log(`service pid ${svc.pid} on ${svc.target}, ready in ${svc.readyMs.toFixed(0)} ms (HTTP /ready ${svc.readyHttpMs.toFixed(0)} ms), pool ${poolSize ?? 'default'}`);
  try {
    return await fn(svc);
  } finally {
    const { code, signal } = await svc.stop();
    if (code !== 0) log(`service exit: code ${code} signal ${signal}`);
  }
}

/** Runs one measurement with RSS/CPU sampling and the committed-rows check around it. */
async function measure(svc, label, ids, body) {
  const rss = sampleRss(svc.pid);
  const before = dbUrl && ids ? await countIds(dbUrl) : undefined;
  const c0 = cpuTicks(svc.pid), m0 = machineTicks(), t0 = performance.now();
  const r = await body();
  const elapsed = (performance.now() - t0) / 1000;
  const c1 = cpuTicks(svc.pid), m1 = machineTicks();
  const mem = rss.stop() ?? {};
  r.serviceCpuPct = svc.pid ? ((c1 - c0) / HZ / elapsed) * 100 : NaN;
  r.machineCpuPct = ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * cpus().length;
  r.peakRssMb = mem.peakRssMb ?? NaN;
  r.hwmMb = mem.hwmMb ?? NaN;
  if (ids) {
    r.idsPerSec = (r.ok * ids) / r.seconds;
    if (before !== undefined) {
      const after = await countIds(dbUrl);
      r.committed = after - before;
      r.reportedIds = r.ok * ids;
      r.allCommitted = r.committed >= r.reportedIds;
      log(`${label}: ${r.reportedIds} IDs reported OK, ${r.committed} rows committed ${r.allCommitted ? '✓' : '✗ MISSING ROWS'}`);
    }
  } else r.idsPerSec = NaN;
  return r;
}

async function runScenarios(svc, list, tag) {
  const results = [];
  // Warm-up (not recorded): JIT, pool threads, pg connections, the first sequence block.
  if (warmupSeconds > 0) {
    for (const s of list) {
      const w = Math.max(1, warmupSeconds / list.length);
      runGhz(ghz, join(LOADTEST, s.config), { target: svc.target, duration: `${w}s`, output: join(REPORTS, `warmup-${s.name}.json`) });
    }
  }
  for (const s of list) {
    const out = join(REPORTS, `${tag}${s.name}.json`);
    log(`${s.name} (ghz, ${duration}) …`);
    const g = await measure(svc, `${s.name}/ghz`, s.ids, async () => summariseGhz(runGhz(ghz, join(LOADTEST, s.config), { target: svc.target, duration, output: out }), s.ids));
    results.push({ scenario: s.name, ...g, report: out });
    if (h2load && s.h2) {
      log(`${s.name} (h2load, ${duration}) …`);
      const h = await measure(svc, `${s.name}/h2load`, s.ids, async () => runH2load(h2load, {
        target: svc.target, path: H2LOAD_PATHS[s.h2], bodyFile: bodies[s.h2], seconds, logFile: join(REPORTS, `${tag}${s.name}.h2load.log`),
      }));
      delete h.raw;
      results.push({ scenario: s.name, ...h });
    }
    if (s.name === 'mint-batch' && dbUrl) {
      log(`raw-pg baseline (${batchConcurrency} connections, ${duration}) …`);
      const m0 = machineTicks(), t0 = performance.now();
      const out = mustRun(process.execPath, [join(LOADTEST, 'raw-pg-baseline.mjs'), '--database-url', dbUrl, '--concurrency', String(batchConcurrency), '--duration', duration, '--json']);
      const m1 = machineTicks();
      const raw = JSON.parse(out.trim().split('\n').pop());
      results.push({
        scenario: 'raw-pg-unnest', generator: 'pg', requests: raw.inserts, ok: raw.inserts, errors: 0, seconds: raw.seconds,
        rps: raw.insertsPerSec, idsPerSec: raw.rowsPerSec, p50: raw.p50, p95: raw.p95, p99: raw.p99,
        machineCpuPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * cpus().length,
        serviceCpuPct: NaN, peakRssMb: NaN, elapsedWall: (performance.now() - t0) / 1000,
      });
    }
  }
  return results;
}

// --- pool-size mode ----------------------------------------------------------------------------
if (opt['pool-sizes']) {
  if (opt.target) throw new Error('--pool-sizes starts its own service; it cannot be combined with --target');
  const sizes = opt['pool-sizes'].split(',').map(Number);
  const rows = [];
  const list = ALL.filter((s) => s.name === 'mint' || s.name === 'mint-batch');
  for (const size of sizes) {
    const res = await withService(size, (svc) => runScenarios(svc, list, `pool${size}-`), `pool${size}`);
    for (const r of res.filter((x) => x.scenario !== 'raw-pg-unnest' || size === sizes[0])) rows.push({ pool: size, ...r });
  }
  const headers = ['UV_THREADPOOL_SIZE', 'scenario', 'generator', 'req/s', 'IDs/s', 'p50 ms', 'p99 ms', 'errors', 'svc CPU %', 'peak RSS MB'];
  const out = table(headers, rows.map((r) => [r.pool, r.scenario, r.generator, fmt(r.rps), fmt(r.idsPerSec), fmt(r.p50, 1), fmt(r.p99, 1), r.errors, fmt(r.serviceCpuPct), fmt(r.peakRssMb)]));
  console.log(`\nWorker pool sizing (${duration} per scenario, ${machine().nproc} cores)\n\n${out}\n`);
  writeFileSync(join(REPORTS, `pool-sizes-${stamp}.json`), JSON.stringify({ machine: machine(), pgVersion, duration, rows }, null, 2));
  writeFileSync(join(REPORTS, 'pool-sizes-latest.md'), out + '\n');
  process.exit(rows.every((r) => r.allCommitted !== false) ? 0 : 1);
}

// --- the main run ------------------------------------------------------------------------------
let readyMs = NaN, readyHttpMs = NaN, hwmMb = NaN;
const results = await withService(opt['pool-size'] ? Number(opt['pool-size']) : undefined, async (svc) => {
  readyMs = svc.readyMs;
  readyHttpMs = svc.readyHttpMs;
  const r = await runScenarios(svc, scenarios, '');
  if (svc.pid) hwmMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${svc.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  return r;
}, 'main');

const check = {};
for (const r of results) if (r.scenario === 'health-check') check[r.generator] = r;
for (const r of results) r.ratioToCheck = check[r.generator] ? r.rps / check[r.generator].rps : NaN;

const headers = ['scenario', 'generator', 'req/s', 'IDs/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', '× Check', 'svc CPU %', 'all CPU %', 'peak RSS MB'];
const body = results.map((r) => [
  r.scenario, r.generator, fmt(r.rps), fmt(r.idsPerSec), fmt(r.p50, 2), fmt(r.p95, 2), fmt(r.p99, 2), r.errors,
  fmt(r.ratioToCheck, 2), fmt(r.serviceCpuPct), fmt(r.machineCpuPct), fmt(r.peakRssMb),
]);

// --- thresholds --------------------------------------------------------------------------------
const gateGen = opt['gate-generator'] === 'auto' ? (check.h2load ? 'h2load' : 'ghz') : opt['gate-generator'];
const pick = (scenario, gen) => results.find((r) => r.scenario === scenario && r.generator === gen);
const checks = [];
const gate = (name, value, op, limit, unit = '') => {
  const pass = Number.isFinite(value) && (op === '≥' ? value >= limit : value <= limit);
  checks.push({ name, value, op, limit, unit, pass });
};
const mint = pick('mint', gateGen), chk = pick('health-check', gateGen), val = pick('validate', gateGen);
const batch = pick('mint-batch', 'ghz'), raw = pick('raw-pg-unnest', 'pg');
if (mint) {
  gate(`Mint req/s (${gateGen}) ≥ TARGET_TPS`, mint.rps, '≥', limits['target-tps']);
  gate(`Mint IDs/s (${gateGen})`, mint.idsPerSec, '≥', limits['min-mint-ids']);
  if (chk) {
    gate(`Mint / Check req/s (${gateGen})`, mint.rps / chk.rps, '≥', limits['min-mint-ratio'], '×');
    gate(`Mint p99 / Check p99 (${gateGen})`, mint.p99 / chk.p99, '≤', limits['max-mint-p99-ratio'], '×');
  }
}
if (val && chk) gate(`Validate / Check req/s (${gateGen})`, val.rps / chk.rps, '≥', limits['min-validate-ratio'], '×');
if (batch) {
  gate('MintBatch IDs/s', batch.idsPerSec, '≥', limits['min-batch-ids']);
  if (raw) gate('MintBatch IDs/s / raw-PostgreSQL rows/s', batch.idsPerSec / raw.idsPerSec, '≥', limits['min-batch-raw-ratio'], '×');
}
if (!opt.target) {
  const peak = Math.max(...results.map((r) => r.peakRssMb).filter(Number.isFinite));
  gate('service peak VmRSS under load (MB)', peak, '≤', limits['max-rss-mb'], ' MB');
  gate('time to ready (ms)', readyMs, '≤', limits['max-ready-ms'], ' ms');
}
for (const r of results.filter((x) => x.allCommitted !== undefined)) {
  checks.push({ name: `every ${r.scenario}/${r.generator} ID committed (${r.committed} rows ≥ ${r.reportedIds})`, value: r.committed, op: '≥', limit: r.reportedIds, pass: r.allCommitted });
}
const errorsOk = results.every((r) => r.errors === 0);
checks.push({ name: 'no failed calls', value: results.reduce((s, r) => s + r.errors, 0), op: '≤', limit: 0, pass: errorsOk });

const info = machine();
console.log(`\nChittyID load test — ${duration} per scenario, ${info.nproc} × ${info.cpu}, ${info.memGiB} GiB, node ${info.node}, PostgreSQL ${pgVersion ?? '?'}`);
if (!opt.target) console.log(`time to ready: ${fmt(readyMs)} ms (log line), ${fmt(readyHttpMs)} ms (/ready 200); service VmHWM ${fmt(hwmMb)} MB`);
console.log(`\n${table(headers, body)}\n`);
console.log(table(['threshold', 'measured', 'limit', 'result'], checks.map((c) => [
  c.name, fmt(c.value, c.unit === '×' ? 2 : 0) + (c.unit === '×' ? '×' : ''), `${c.op} ${fmt(c.limit, c.unit === '×' ? 2 : 0)}${c.unit === '×' ? '×' : ''}`, c.pass ? 'pass' : 'MISS',
])));

const summary = { date: new Date().toISOString(), machine: info, pgVersion, duration, readyMs, readyHttpMs, hwmMb, limits, gateGenerator: gateGen, results, checks };
writeFileSync(join(REPORTS, `summary-${stamp}.json`), JSON.stringify(summary, null, 2));
writeFileSync(join(REPORTS, 'summary-latest.json'), JSON.stringify(summary, null, 2));
writeFileSync(join(REPORTS, 'table-latest.md'), `${table(headers, body)}\n`);
const svg = renderSvg(summary);
writeFileSync(join(REPORTS, 'results.svg'), svg);
svgToPng(join(REPORTS, 'results.svg'), join(REPORTS, 'results.png'));
writeFileSync(join(REPORTS, 'report.html'), renderHtml(summary, svg, results.filter((r) => r.report).map((r) => JSON.parse(readFileSync(r.report, 'utf8')))));
log(`reports: ${REPORTS}/{summary-latest.json,report.html,results.svg,results.png,<scenario>.json}`);

const missed = checks.filter((c) => !c.pass);
if (missed.length && !opt['report-only']) {
  console.log(`\n${missed.length} threshold(s) missed.`);
  process.exit(1);
}
